"""The console script's entry point (``llmform.cli:main``), and its fast path for the pre-commit
hook's command line.

Every commit runs ``llmform validate --ignore-foreign --whole-state FILE...``, and click's import
and parser are 10-15 ms of such a run (of a one-file validate's 80 ms). So a command line
that is exactly ``[--no-color] validate`` with validate's flags and paths runs without click,
where click would do nothing but call the command: the flags ``--no-color``,
``--ignore-foreign``, ``--whole-state`` and ``--format text|json``, anywhere after ``validate``
and any number of times, and paths that do not start with ``-``. Anything else (another
command, an option click parses otherwise or refuses, ``--help``, ``--format=json``, ``--``, a
path click would refuse as unreadable, shell completion, a console click writes to its own way)
goes to click, unchanged. tests/integration/test_cli_fast_path.py holds the two to the same
output and exit code for every form the fast path takes.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import sys
from collections.abc import Sequence

from ..collector import collector_off
from .guard import run_guarded

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any

VALIDATE_FLAGS = {
    "--no-color": "no_color",
    "--ignore-foreign": "ignore_foreign",
    "--whole-state": "whole_state",
}
FORMATS = ("text", "json")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llmform`` console script."""
    with collector_off():  # see collector.py
        args = list(sys.argv[1:] if argv is None else argv)
        _never_fail_to_print()
        form = validate_form(args)
        if form is None:
            from .commands import run_click  # start-up time: click, for every other command line

            return run_click(args)
        return run_guarded(lambda: _fast_validate(form), args, _plain_echo)


def validate_form(args: Sequence[str]) -> dict[str, Any] | None:
    """``validate_command``'s arguments when ``args`` is a validate command line the fast path
    takes (see the docstring) and click would print through to the streams as they are; else
    None."""
    if os.name == "nt" or os.environ.get("_LLMFORM_COMPLETE"):  # click's console, completion
        return None
    if not (_plain_stream(sys.stdout) and _plain_stream(sys.stderr)):
        return None
    form: dict[str, Any] = {
        "fmt": "text",
        "no_color": False,
        "ignore_foreign": False,
        "whole_state": False,
    }
    rest = iter(args)
    for arg in rest:
        if arg == "validate":
            break
        if arg != "--no-color":
            return None
        form["no_color"] = True
    else:
        return None
    paths = []
    for arg in rest:
        if arg in VALIDATE_FLAGS:
            form[VALIDATE_FLAGS[arg]] = True
        elif arg == "--format":
            fmt = next(rest, None)
            if fmt not in FORMATS:
                return None
            form["fmt"] = fmt
        elif arg and not arg.startswith("-") and _readable_or_absent(arg):
            paths.append(arg)
        else:
            return None
    form["paths"] = tuple(paths)
    return form


def _plain_stream(stream: Any) -> bool:
    """Whether click.echo writes to ``stream`` itself: a text stream with an encoding and an
    error handler, the encoding not ASCII (click rewraps such a stream in UTF-8)."""
    encoding = getattr(stream, "encoding", None)
    if stream is None or not encoding or getattr(stream, "errors", None) is None:
        return False
    try:
        return codecs.lookup(encoding).name != "ascii"
    except LookupError:
        return True


def _readable_or_absent(path: str) -> bool:
    """What click.Path() lets through without a message: a path that is absent (llmform says
    so itself), or readable. (One that os.stat refuses outright, a NUL in it, is click's.)"""
    try:
        os.stat(path)
    except OSError:
        return True
    except ValueError:
        return False
    return os.access(path, os.R_OK)


def _plain_echo(message: str = "", err: bool = False, nl: bool = True) -> None:
    """click.echo of a string, to a stream ``_plain_stream`` accepts (nothing in llmform's
    output is colour that click would strip: colour is written only to a terminal)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(message + "\n" if nl else message)
    stream.flush()


def _fast_validate(form: dict[str, Any]) -> int:
    """``validate_command``, with what click's ``main`` does around a command: an interrupt is
    "Aborted." after a blank line, a closed pipe exits 1 quietly."""
    from .validating import validate_command

    try:
        return validate_command(echo=_plain_echo, **form)
    except (EOFError, KeyboardInterrupt):
        _plain_echo(err=True)
        _plain_echo("Aborted.", err=True)
        return 1
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        from click.utils import _PacifyFlushWrapper  # as click does, on this error only

        sys.stdout = _PacifyFlushWrapper(sys.stdout)
        sys.stderr = _PacifyFlushWrapper(sys.stderr)
        return 1


def _never_fail_to_print() -> None:
    """Text the output's encoding cannot hold (a Chinese description with
    PYTHONIOENCODING=latin-1, a file name that is not UTF-8) is written as a backslash escape
    instead of failing the run: printing must not be what breaks an apply."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(Exception):
                reconfigure(errors="backslashreplace")
