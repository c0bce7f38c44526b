"""Table-driven ``llmform validate`` cases: one directory per input under ``tests/cases/``.

Each case directory holds the input file(s), ``expected.txt`` (the exact stderr of
``llmform --no-color validate ARGS`` run with the case directory as the working directory) and,
when the defaults do not fit, ``case.toml``:

    description = "what the case is about"
    args = ["state"]          # default: the case directory's *.yaml/*.yml files, sorted
    absent = ["sk-CANARY-1"]  # strings that must appear nowhere in the output (secrets)
    subprocess = true         # also run it as a real process, to prove no traceback escapes
    max_seconds = 2.0         # the in-process run must finish within this
    whole_file = true         # the problem concerns the whole file: no line:col to report

``cases/validate/`` holds bad inputs (exit 1); ``cases/validate-ok/`` inputs that pass, perhaps
with warnings (exit 0). ``LLMFORM_UPDATE_CASES=1 python -m pytest tests/test_cases.py`` rewrites
the expected files from the current output; read every changed line before committing it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmform.cli import main

CASES = Path(__file__).parent / "cases"
GROUPS = {"validate": 1, "validate-ok": 0}  # case group -> the exit code all its cases expect
UPDATE = os.environ.get("LLMFORM_UPDATE_CASES") == "1"
CASE_KEYS = {"description", "args", "absent", "subprocess", "max_seconds", "whole_file"}

# file:line:col: severity: [path: ]message -- the shape every located diagnostic has
LOCATED = re.compile(r"^[^\s:][^:]*:\d+:\d+: (error|warning): \S")
WHOLE_FILE = re.compile(r"^[^\s:][^:]*: error: \S")
SUMMARY = re.compile(
    r"^(\d+ error\(s\), \d+ warning\(s\); fix the errors and run again|Valid: .+)$"
)


@dataclass(frozen=True)
class Case:
    group: str
    directory: Path
    args: tuple[str, ...]
    exit_code: int
    absent: tuple[str, ...] = ()
    subprocess: bool = False
    max_seconds: float | None = None
    whole_file: bool = False

    @property
    def name(self) -> str:
        return f"{self.group}/{self.directory.name}"

    @property
    def expected_file(self) -> Path:
        return self.directory / "expected.txt"


def _load_case(group: str, directory: Path) -> Case:
    spec_file = directory / "case.toml"
    spec = tomllib.loads(spec_file.read_text("utf-8")) if spec_file.exists() else {}
    unknown = set(spec) - CASE_KEYS
    assert not unknown, f"{spec_file}: unknown keys {sorted(unknown)}"
    default_args = sorted(
        p.name for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml")
    )
    return Case(
        group=group,
        directory=directory,
        args=tuple(spec.get("args", default_args)),
        exit_code=GROUPS[group],
        absent=tuple(spec.get("absent", ())),
        subprocess=spec.get("subprocess", False),
        max_seconds=spec.get("max_seconds"),
        whole_file=spec.get("whole_file", False),
    )


def _all_cases() -> list[Case]:
    return [
        _load_case(group, directory)
        for group in GROUPS
        for directory in sorted((CASES / group).iterdir())
        if directory.is_dir()
    ]


ALL_CASES = _all_cases()


def _check_output(case: Case, code: int, out: str, err: str) -> None:
    if UPDATE:
        case.expected_file.write_text(err, "utf-8")
    assert case.expected_file.exists(), (
        f"{case.expected_file} is missing: run with LLMFORM_UPDATE_CASES=1 and review it"
    )
    assert err == case.expected_file.read_text("utf-8")
    assert out == ""
    assert code == case.exit_code
    assert "Traceback" not in err
    for secret in case.absent:
        assert secret not in out + err


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_validate_case(
    case: Case, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(case.directory)
    started = time.perf_counter()
    code = main(["--no-color", "validate", *case.args])
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    _check_output(case, code, out, err)
    if case.max_seconds is not None:
        assert elapsed < case.max_seconds
    if case.absent:  # the machine-readable report must not leak either
        assert main(["validate", "--format", "json", *case.args]) == case.exit_code
        out, err = capsys.readouterr()
        assert '"diagnostics"' in out
        for secret in case.absent:
            assert secret not in out + err


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_expected_output_shape(case: Case) -> None:
    """Every diagnostic names file:line:col (or, for whole-file problems, the file) and the run
    ends with the summary line; this keeps regenerated expectations honest."""
    lines = case.expected_file.read_text("utf-8").splitlines()
    assert lines, "an empty expectation proves nothing"
    *diagnostics, summary = lines
    assert SUMMARY.match(summary), summary
    for line in diagnostics:
        assert LOCATED.match(line) or (case.whole_file and WHOLE_FILE.match(line)), line
    if case.exit_code == 1:
        assert any(": error: " in line for line in diagnostics)
    else:
        assert all(": error: " not in line for line in diagnostics)


SUBPROCESS_CASES = [case for case in ALL_CASES if case.subprocess]


def _run(command: list[str], case: Case) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "LLMFORM_DEBUG")}
    return subprocess.run(
        [*command, "--no-color", "validate", *case.args],
        cwd=case.directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=lambda c: c.name)
def test_validate_case_as_process(case: Case) -> None:
    result = _run([sys.executable, "-m", "llmform.cli"], case)
    assert "Traceback" not in result.stdout + result.stderr
    _check_output(case, result.returncode, result.stdout, result.stderr)


def test_console_script() -> None:
    """The installed ``llmform`` entry point behaves like the module."""
    script = shutil.which("llmform", path=str(Path(sys.executable).parent))
    assert script is not None, "the llmform console script is not installed beside this Python"
    case = next(c for c in SUBPROCESS_CASES if c.directory.name == "billion-laughs")
    result = _run([script], case)
    assert "Traceback" not in result.stdout + result.stderr
    _check_output(case, result.returncode, result.stdout, result.stderr)


def test_enough_bad_inputs() -> None:
    """The acceptance bar of issue 2: at least 30 distinct bad inputs, all exiting 1."""
    bad = [case for case in ALL_CASES if case.exit_code == 1]
    assert len(bad) >= 30
    inputs = {tuple(sorted(_input_bytes(case.directory))) for case in bad}
    assert len(inputs) == len(bad), "two cases have the same input"


def _input_bytes(directory: Path) -> list[bytes]:
    return [p.read_bytes() for p in directory.rglob("*") if p.is_file() and p.suffix != ".txt"]
