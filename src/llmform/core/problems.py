"""Why a plan failed, as records: what ``plan --format markdown|json`` lists in its error
document, so that a pull-request comment says why there is no plan.

An error that knows the places it is about carries them as ``problems`` (validation
diagnostics, unresolvable secrets, refused protected deletions); any other error is one
problem, its message. Messages are the ones printed on stderr, which never hold a secret value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..errors import InputError, LlmformError, Severity


@dataclass(frozen=True)
class Problem:
    """One reason a plan failed; the location fields are set where known."""

    message: str
    file: str | None = None
    line: int = 0  # 1-based; 0 when unknown
    column: int = 0
    path: str = ""  # the YAML path, e.g. configs[2].factory
    address: str = ""  # the resource, e.g. config.prod/main

    @property
    def where(self) -> str:
        """``file:line:col`` (as much as is known), or the address, or ""."""
        if self.file is None:
            return self.address
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.file is not None:
            out["file"] = self.file
            if self.line:
                out["line"] = self.line
                out["column"] = self.column
        if self.path:
            out["path"] = self.path
        if self.address:
            out["address"] = self.address
        return out


@runtime_checkable
class HasProblems(Protocol):
    """An error that lists its problems itself (engine.SecretsError, protect.ProtectedError)."""

    problems: Sequence[Problem]


def problems_of(exc: LlmformError) -> tuple[list[Problem], list[str]]:
    """(errors, warnings) of a failure."""
    if isinstance(exc, InputError):
        errors: list[Problem] = []
        warnings: list[str] = []
        for d in exc.diagnostics:
            if d.severity is Severity.WARNING:
                warnings.append(str(d))
                continue
            loc = d.location
            errors.append(Problem(d.message, loc.file, loc.line, loc.column, d.path))
        return errors, warnings
    if isinstance(exc, HasProblems) and exc.problems:
        return list(exc.problems), []
    return [Problem(str(exc))], []
