"""Terminal colour that respects ``--no-color``, ``NO_COLOR`` and non-terminal output."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from .errors import Diagnostic, Severity

_CODES = {"red": "31", "green": "32", "yellow": "33", "cyan": "36", "bold": "1", "dim": "2"}


def use_color(stream: TextIO, no_color_flag: bool = False) -> bool:
    """Colour only on a terminal, and never when asked not to (https://no-color.org)."""
    if no_color_flag or os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def paint(text: str, style: str, enabled: bool) -> str:
    if not enabled:
        return text
    return f"\x1b[{_CODES[style]}m{text}\x1b[0m"


def format_diagnostic(diagnostic: Diagnostic, color: bool) -> str:
    style = "red" if diagnostic.severity is Severity.ERROR else "yellow"
    where = f"{diagnostic.path}: " if diagnostic.path else ""
    label = paint(diagnostic.severity.value, style, color)
    return f"{paint(str(diagnostic.location), 'bold', color)}: {label}: {where}{diagnostic.message}"


def stderr_color(no_color_flag: bool) -> bool:
    return use_color(sys.stderr, no_color_flag)
