"""Checks on the values read from the registry's rows.

The registry is a file that applications and people may write to. A value of the wrong type,
JSON that does not parse or has the wrong shape, or a NULL where a value must be, is reported
as a damaged row (its table, its key and what is wrong), never passed on to crash later.
"""

from __future__ import annotations

import json
from typing import Any

from ...secrets.refs import RefSyntaxError, ref_from_string


class DamagedRow(ValueError):
    def __init__(self, table: str, row: str, problem: str) -> None:
        super().__init__(f"table {table}, row {row}: {problem}")
        self.table, self.row, self.problem = table, row, problem


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Row:
    """One row being read: its table and key, to name it when a value is wrong."""

    def __init__(self, table: str, **key: Any) -> None:
        self.table = table
        self.key = ", ".join(f"{name}={_shown(value)}" for name, value in key.items())

    def damaged(self, column: str, expected: str, value: Any) -> DamagedRow:
        found = "NULL" if value is None else _shown(value)
        return DamagedRow(self.table, self.key, f"{column} must hold {expected}, not {found}")

    def text(self, column: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.damaged(column, "text", value)
        return value

    def reference(self, column: str, value: Any) -> str:
        """A secret reference as stores write it (``env:NAME``, ``vault:path#key``); a value
        that is not one is not quoted back (it may be a key stored in the wrong column)."""
        try:
            ref_from_string(self.text(column, value))
        except (RefSyntaxError, ValueError):
            wanted = "a secret reference (env:NAME or vault:path#key; the value is not shown)"
            raise DamagedRow(self.table, self.key, f"{column} must hold {wanted}") from None
        return value  # type: ignore[no-any-return]

    def choice(self, column: str, value: Any, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise self.damaged(column, f"one of {', '.join(choices)}", value)
        return self.text(column, value)

    def optional_text(self, column: str, value: Any) -> str | None:
        return None if value is None else self.text(column, value)

    def integer(self, column: str, value: Any) -> int:
        if not isinstance(value, int):
            raise self.damaged(column, "a whole number", value)
        return value

    def optional_integer(self, column: str, value: Any) -> int | None:
        return None if value is None else self.integer(column, value)

    def flag(self, column: str, value: Any) -> bool:
        if value not in (0, 1) or isinstance(value, float):
            raise self.damaged(column, "0 or 1", value)
        return bool(value)

    def _json(self, column: str, value: Any, expected: str) -> Any:
        if not isinstance(value, str):
            raise self.damaged(column, expected, value)
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            raise self.damaged(column, expected, value) from None

    def strings(self, column: str, value: Any) -> list[str]:
        """A JSON list of strings."""
        expected = "a JSON list of strings"
        parsed = self._json(column, value, expected)
        if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
            raise self.damaged(column, expected, value)
        return parsed

    def object(self, column: str, value: Any, *, of_strings: bool = False) -> dict[str, Any]:
        """A JSON object (``of_strings``: whose values are all strings)."""
        expected = "a JSON object of strings" if of_strings else "a JSON object"
        parsed = self._json(column, value, expected)
        if not isinstance(parsed, dict) or (
            of_strings and not all(isinstance(v, str) for v in parsed.values())
        ):
            raise self.damaged(column, expected, value)
        return parsed
