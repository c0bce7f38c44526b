"""benchmarks/plan.py runs (its figures are for people; only that it works is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_plan_benchmark_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "plan.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "apply of 324 creates:" in done.stdout  # 300 configs + 20 workspaces + 4 factories
    assert "no-change plan:" in done.stdout
    assert "floor (C-loader parse + one store read):" in done.stdout
