"""The validate benchmark runs end to end in its smoke mode (timings are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "validate.py"


def test_validate_benchmark_smoke_prints_both_figures() -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("500 configs, 10 workspaces, ")
    assert re.search(
        r"^floor \(read \+ yaml\.load_all, CSafeLoader\): +\d+\.\d{3} s$", run.stdout, re.M
    )
    assert re.search(
        r"^llmform validate_paths: +\d+\.\d{3} s  \(\d+\.\d\dx the floor\)$", run.stdout, re.M
    )
