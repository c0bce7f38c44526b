"""Running the CLI in-process, as a user would, for the tests that read what it prints."""

from __future__ import annotations

import pytest

from llmform.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``llmform --no-color ARGS``: the exit code, stdout and stderr. Whatever the outcome, no
    traceback and no internal error reaches the user."""
    code = main(["--no-color", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in out + err, out + err
    return code, out, err
