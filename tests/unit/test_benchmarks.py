"""The validate benchmark runs end to end in its smoke mode (timings are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "validate.py"
STARTUP = SCRIPT.with_name("startup.py")
FIGURE = r" +\d+\.\d{3} s wall +\d+\.\d{3} s cpu +\d+\.\d MiB peak"


def test_validate_benchmark_smoke_prints_both_figures() -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("500 configs, 10 workspaces, ")
    assert re.fullmatch(rf"floor \(read \+ yaml\.load_all, CSafeLoader\):{FIGURE}", lines[1])
    assert re.fullmatch(
        rf"llmform validate \(whole process\):{FIGURE} +\d+\.\d\dx wall, +\d+\.\d\dx cpu",
        lines[2],
    )
    assert re.fullmatch(
        rf"llmform validate, warm cache:{FIGURE} +\d+\.\d\dx wall, +\d+\.\d\dx cpu", lines[3]
    )


def test_validate_benchmark_with_policies_judges_them_all() -> None:
    """--policies adds a folder of policies that every generated object passes (a failure would
    exit 1: the figure would be of reporting, not judging) and prints the time beside it."""
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--policies", "20"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(
        rf"with 20 policies:{FIGURE} +\d+\.\d\dx wall, +\d+\.\d\dx cpu  [+-]\d+% wall, "
        r"[+-]\d+% cpu on validate",
        lines[3],
    ), lines[3]


def test_startup_benchmark_smoke_prints_every_side_against_the_floor() -> None:
    run = subprocess.run(
        [sys.executable, str(STARTUP), "--smoke"], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "one-file state llmform.yaml; medians of 3 interleaved runs each"
    assert re.fullmatch(rf"floor \(python \+ yaml CSafeLoader\):{FIGURE}", lines[1]), lines[1]
    ratio = r" +\d+\.\d\dx wall, +\d+\.\d\dx cpu"
    for line, label in zip(
        lines[2:5],
        [
            r"llmform validate \(whole process\):",
            r"llmform validate, nothing cached:",
            r"the pre-commit hook's command:",
        ],
        strict=True,
    ):
        assert re.fullmatch(rf"{label}{FIGURE}{ratio}", line), line
    assert re.fullmatch(r"ratio \(wall\): \d+\.\d\dx  \(target: at most 2x\)", lines[5])
