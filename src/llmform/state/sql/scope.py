"""Whose rows of the state's tables a query reads and writes.

The registry's tables (``meta``, ``locks``, ``audit_events``) hold one target's state: every
row is its own, and its SQL has no condition for it (``REGISTRY``: the SQL is the registry's,
unchanged). A state store for external targets (``sqlite_store``) holds the state of several
targets in the same tables, each row naming its target's URL in a ``target`` column, so that
one ``.llmform/state.db`` serves every gateway a repository manages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scope:
    """One target's rows: all of them (``target`` None), or those whose ``target`` is it."""

    target: str | None = None

    def where(self, condition: str = "") -> str:
        """`` WHERE condition`` limited to this target's rows ("" when nothing limits)."""
        parts = [part for part in (condition, self._mine) if part]
        return f" WHERE {' AND '.join(parts)}" if parts else ""

    def params(self, *values: Any) -> tuple[Any, ...]:
        """``values``, then the target's URL when ``where`` asks for it."""
        return values if self.target is None else (*values, self.target)

    def columns(self, columns: str) -> str:
        """The columns an INSERT names, with ``target`` first when rows are told apart."""
        return columns if self.target is None else f"target, {columns}"

    def values(self, *values: Any) -> tuple[Any, ...]:
        """An INSERT's values for ``columns``: the target's URL first when it is a column."""
        return values if self.target is None else (self.target, *values)

    @property
    def _mine(self) -> str:
        return "" if self.target is None else "target = ?"


REGISTRY = Scope()
