"""Terminal colour that respects ``--no-color``, ``NO_COLOR`` and non-terminal output."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from .errors import Diagnostic, Severity

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import TextIO

_CODES = {"red": "31", "green": "32", "yellow": "33", "cyan": "36", "bold": "1", "dim": "2"}


def use_color(stream: TextIO, no_color_flag: bool = False) -> bool:
    """Colour only on a terminal, and never when asked not to (https://no-color.org)."""
    if no_color_flag or os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on written as an escape instead.

    For any user- or server-controlled string before it is printed (a label, a provider's error
    text, a CI variable): a newline would forge extra output lines, ESC and C1 controls drive
    the terminal (colours, cursor moves, window titles), bidirectional overrides reorder what
    the reader sees. Printable text, spaces included, is kept as it is.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def paint(text: str, style: str, enabled: bool) -> str:
    if not enabled:
        return text
    return f"\x1b[{_CODES[style]}m{text}\x1b[0m"


def format_diagnostic(diagnostic: Diagnostic, color: bool) -> str:
    """``file:line:col: error: path: message`` on one line: the path (a label key) and the
    message (which may quote the input) are escaped like any user-controlled text."""
    style = "red" if diagnostic.severity is Severity.ERROR else "yellow"
    where = f"{printable(diagnostic.path)}: " if diagnostic.path else ""
    label = paint(diagnostic.severity.value, style, color)
    location = paint(printable(str(diagnostic.location)), "bold", color)
    return f"{location}: {label}: {where}{printable(diagnostic.message)}"


class Progress:
    """``progress(done, total)`` for long runs, on stderr. On a terminal a bar redrawn in place,
    at most every ``INTERVAL`` seconds (the start and the end always): a run reports each of
    thousands of configs, and a redraw each time would be thousands of writes no one can read;
    elsewhere (CI logs) one line when the run starts, so a log shows what it waits for."""

    WIDTH = 24
    INTERVAL = 0.1

    def __init__(
        self,
        label: str,
        unit: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``unit`` is the singular noun counted ("config"); an "s" makes the plural."""
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self._started = False
        self._drawn_at = -float("inf")

    def __call__(self, done: int, total: int) -> None:
        if not total:
            return
        if not self.live:
            if not self._started:
                self.stream.write(f"{self.label}: {total} {self._noun(total)}...\n")
                self._started = True
            return
        now = self.clock()
        if 0 < done < total and now - self._drawn_at < self.INTERVAL:
            return
        self._drawn_at = now
        filled = self.WIDTH * done // total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        end = "\n" if done == total else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} {self._noun(total)}{end}")
        self.stream.flush()

    def _noun(self, count: int) -> str:
        return self.unit if count == 1 else self.unit + "s"
