"""Errors and diagnostics: every problem a user can cause carries where it is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A place in an input file; line and column are 1-based (0 when unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in the input: ``file:line:col: error: path: message``."""

    severity: Severity
    location: Location
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.location}: {self.severity.value}: {where}{self.message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file, loc.line, loc.column, self.message)


def error(location: Location, path: str, message: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, location, path, message)


def warning(location: Location, path: str, message: str) -> Diagnostic:
    return Diagnostic(Severity.WARNING, location, path, message)


class LlmformError(Exception):
    """The root of every error llmform reports to a user (never with a traceback).

    A message of several lines is given one line per argument (``LlmformError(first, *more)``):
    printed, each argument is one line, and a line break inside an argument is data, escaped
    like any other control character. So a name, a path, a URL or a server's text quoted in a
    message can never add a line of its own (a forged ``error:`` line, say), wherever the
    message was made.
    """

    @property
    def lines(self) -> tuple[str, ...]:
        """The message's own lines (one per argument)."""
        return tuple(str(arg) for arg in self.args)

    def __str__(self) -> str:
        return "\n".join(self.lines)


class InputError(LlmformError):
    """The desired state has problems; all of them are in ``diagnostics``."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__(*(str(d) for d in self.diagnostics))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


class StoreError(LlmformError):
    """The store cannot be used: unreachable, unreadable, or in an unexpected state. The root of
    the errors of a target and of llmform's state (a lock held by another run among them)."""
