"""How a command's run ends: its exit code, an error a user can cause printed as a message,
anything else as a bug, without a traceback. Shared by click's commands (cli/commands.py) and
the fast path of validate (cli/entry.py), without click: each passes its ``echo``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from ..console import format_diagnostic, paint, printable, use_color
from ..errors import InputError, LlmformError

# click.echo, or the fast path's: (message="", err=False, nl=True)
Echo = Callable[..., None]


def run_guarded(call: Callable[[], int], args: Sequence[str], echo: Echo) -> int:
    """``call``'s exit code; an error a user can cause printed as a message, anything else as
    a bug, still without a traceback (LLMFORM_DEBUG=1 shows it)."""
    try:
        return call()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except LlmformError as exc:
        _report(exc, "--no-color" in args, echo)
        return 1
    except KeyboardInterrupt:
        echo("Interrupted.", err=True)
        return 130
    except Exception as exc:  # a bug: say so plainly, without a traceback unless asked
        if os.environ.get("LLMFORM_DEBUG"):
            import traceback  # start-up time: for this bug report only

            from ..secrets.redaction import redact  # start-up time: see format_error

            # an exception's text may quote a request, key included: masked like any other
            echo(redact(traceback.format_exc()), err=True, nl=False)
        echo(
            f"error: internal error ({type(exc).__name__}); please report it "
            "with LLMFORM_DEBUG=1 output",
            err=True,
        )
        return 1


def format_error(lines: str | Sequence[str], color: bool) -> str:
    """An error for stderr: any secret the process holds masked (an exception may quote a
    server that quoted the request), and each line escaped, so that nothing in the message
    reaches the terminal as a control sequence. ``lines`` are the message's own lines
    (``LlmformError.lines``); a line break inside one is data, escaped as ``\\x0a``, so that
    text quoted in a message cannot forge a line."""
    # start-up time: the redaction index (hashlib, OpenSSL) only when an error is printed; a
    # process that holds secrets has imported it already, with them
    from ..secrets.redaction import redact

    if isinstance(lines, str):
        lines = (lines,)
    escaped = [printable(redact(line)) for line in lines] or [""]
    return f"{paint('error', 'red', color)}: " + "\n".join(escaped)


def _report(exc: LlmformError, no_color: bool, echo: Echo) -> None:
    color = use_color(sys.stderr, no_color)
    if isinstance(exc, InputError):
        for diagnostic in exc.diagnostics:
            echo(format_diagnostic(diagnostic, color), err=True)
        return
    echo(format_error(exc.lines, color), err=True)
