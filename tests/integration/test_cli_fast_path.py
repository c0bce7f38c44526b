"""The console script runs the pre-commit hook's command line (``validate`` with its flags and
paths) without click (cli/entry.py): for every command line it takes, what it prints and its
exit code are click's, and every other command line goes to click.

Each case runs twice in this process, through the fast path and through click (the fast path
turned off), and the two runs must print the same to stdout and stderr and exit the same.
"""

from __future__ import annotations

import errno
import io
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from llmform.cli import entry, main, validating
from llmform.errors import LlmformError

REPO = Path(__file__).resolve().parents[2]
FOREIGN = "on: push\njobs: {}\n"
BAD = """\
apiVersion: llmform/v1
workspaces:
  - name: dev
configs:
  - name: openai
    workspace: dev
    factory: OpenAl
    api_key: {env: OPENAI_API_KEY}
    models: [gpt-4o]
  - name: second
    workspace: nowhere
    factory: OpenAI
    models: [gpt-4o]
"""

TAKEN = {
    "one file": ["validate", "ok.yaml"],
    "--no-color first": ["--no-color", "validate", "ok.yaml"],
    "--no-color after, twice": ["validate", "--no-color", "ok.yaml", "--no-color"],
    "json": ["validate", "--format", "json", "ok.yaml"],
    "json of errors, flag last": ["validate", "bad.yaml", "--format", "json"],
    "errors as text": ["validate", "--format", "text", "bad.yaml"],
    "the folder it runs in": ["validate"],
    "a folder": ["validate", "state"],
    "a missing file": ["validate", "missing.yaml"],
    "a name to escape": ["validate", "m\x1b[31missing\u202e.yaml"],
    "the hook": ["validate", "--ignore-foreign", "--whole-state", "ok.yaml", "ci.yaml"],
    "the hook, foreign only": ["validate", "--ignore-foreign", "--whole-state", "ci.yaml"],
    "foreign, not ignored": ["validate", "ci.yaml"],
    "repeated flags": ["validate", "--whole-state", "--whole-state", "state/ok.yaml"],
}

DECLINED = {
    "--format=json": ["validate", "--format=json", "ok.yaml"],
    "-h": ["validate", "-h"],
    "--help": ["validate", "--help"],
    "group --help": ["--help"],
    "--version": ["--version"],
    "no command": [],
    "--store before": ["--store", "sqlite:///x.db", "validate", "ok.yaml"],
    "--store after": ["validate", "--store", "sqlite:///x.db", "ok.yaml"],
    "--": ["validate", "--", "ok.yaml"],
    "a dash": ["validate", "-"],
    "--format without value": ["validate", "--format"],
    "--format yaml": ["validate", "--format", "yaml", "ok.yaml"],
    "unknown option": ["validate", "--bogus", "ok.yaml"],
    "another case": ["Validate", "ok.yaml"],
    "another command": ["schema"],
    "an empty path": ["validate", ""],
    "a NUL in a path": ["validate", "a\x00b.yaml"],
}


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copyfile(REPO / "examples/quickstart/llmform.yaml", tmp_path / "ok.yaml")
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "ci.yaml").write_text(FOREIGN)
    (tmp_path / "state").mkdir()
    shutil.copyfile(REPO / "examples/quickstart/llmform.yaml", tmp_path / "state/ok.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_NO_CACHE", "1")
    return tmp_path


def both_ways(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """(exit code, stdout, stderr) through the fast path, then through click."""
    fast = (main(args), *capsys.readouterr())
    with monkeypatch.context() as patched:
        patched.setattr(entry, "validate_form", lambda _args: None)
        through_click = (main(args), *capsys.readouterr())
    return fast, through_click


@pytest.mark.parametrize("case", sorted(TAKEN))
def test_the_fast_path_prints_and_exits_as_click_does(
    case: str, state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = TAKEN[case]
    assert entry.validate_form(args) is not None, "the fast path takes it"
    fast, through_click = both_ways(args, capsys, monkeypatch)
    assert fast == through_click
    assert "click" not in repr(fast)  # nothing that names click leaked into the output


def test_the_cases_cover_errors_warnings_and_both_outputs(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table above is worth its name: it exits 0 and 1, and prints diagnostics both ways."""
    code, _, err = both_ways(TAKEN["errors as text"], capsys, monkeypatch)[0]
    assert code == 1 and "bad.yaml:7:14: error:" in err and "did you mean" in err, err
    code, out, _ = both_ways(TAKEN["json of errors, flag last"], capsys, monkeypatch)[0]
    assert code == 1 and '"severity": "error"' in out
    code, _, err = both_ways(TAKEN["the hook"], capsys, monkeypatch)[0]
    assert (code, err) == (0, "Valid: 1 file(s), 2 factories, 1 workspaces, 2 configs\n")


@pytest.mark.parametrize("case", sorted(DECLINED))
def test_any_other_command_line_goes_to_click(case: str, state: Path) -> None:
    assert entry.validate_form(DECLINED[case]) is None


def test_a_path_click_would_refuse_as_unreadable_goes_to_click(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert entry.validate_form(["validate", "ok.yaml", "missing.yaml"]) is not None
    monkeypatch.setattr(entry.os, "access", lambda *_args, **_kwargs: False)
    assert entry.validate_form(["validate", "ok.yaml"]) is None
    # click says nothing of a path that is not there: llmform does
    assert entry.validate_form(["validate", "missing.yaml"]) is not None


def test_shell_completion_goes_to_click(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_LLMFORM_COMPLETE", "bash_source")
    assert entry.validate_form(["validate", "ok.yaml"]) is None


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
@pytest.mark.parametrize("encoding", ["ascii", "US-ASCII", None])
def test_a_stream_click_would_rewrap_goes_to_click(
    stream: str, encoding: str | None, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if encoding is None:
        replacement: object = io.StringIO()  # no encoding: click wraps it if it can
    else:
        replacement = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    monkeypatch.setattr(sys, stream, replacement)
    assert entry.validate_form(["validate", "ok.yaml"]) is None


def _raising(exc: BaseException) -> Callable[..., object]:
    def fail(*_args: object, **_kwargs: object) -> object:
        raise exc

    return fail


@pytest.mark.parametrize(
    "exc",
    [
        KeyboardInterrupt(),
        EOFError(),
        LlmformError("cannot read 'x'", "second line"),
        RuntimeError("a bug"),
    ],
    ids=repr,
)
def test_an_interrupt_or_an_error_is_reported_as_click_reports_it(
    exc: BaseException,
    state: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(validating, "validate_paths", _raising(exc))
    fast, through_click = both_ways(["validate", "ok.yaml"], capsys, monkeypatch)
    assert fast == through_click
    assert fast[0] == 1 and fast[2], fast


def test_a_closed_pipe_exits_1_quietly_as_with_click(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validating, "validate_paths", _raising(BrokenPipeError(errno.EPIPE, "")))
    for take_fast_path in (True, False):
        with monkeypatch.context() as patched:
            patched.setattr(sys, "stdout", sys.stdout)  # put back after click's wrapper
            patched.setattr(sys, "stderr", sys.stderr)
            if not take_fast_path:
                patched.setattr(entry, "validate_form", lambda _args: None)
            assert main(["validate", "ok.yaml"]) == 1
            assert type(sys.stdout).__name__ == "_PacifyFlushWrapper"
            assert type(sys.stderr).__name__ == "_PacifyFlushWrapper"
        assert capsys.readouterr() == ("", "")
