"""Which rows of the registry a read takes: all of them, or those of some resources (a plan
reads only the resources whose digest differs, ``registry_digests``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ...state.sql.sqlite_state import Cursor

# Values per query: far below SQLite's limit of bound parameters (32,766) and PostgreSQL's.
CHUNK = 400

# A table's rows: the selection's field that picks them, and the columns that hold its key.
_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "factories": ("factories", ("name",)),
    "factory_models": ("factories", ("factory",)),
    "workspaces": ("workspaces", ("name",)),
    "configs": ("configs", ("workspace", "name")),
    "config_models": ("configs", ("workspace", "config")),
    "config_secrets": ("configs", ("workspace", "config")),
}


@dataclass(frozen=True)
class Selection:
    """The resources to read, by key (None: every one of that kind)."""

    factories: Collection[str] | None = None
    workspaces: Collection[str] | None = None
    configs: Collection[tuple[str, str]] | None = None  # (workspace, name)
    policies: Collection[str] | None = None

    @classmethod
    def of(cls, addresses: Iterable[str]) -> Selection:
        """The resources at ``addresses`` (any other address is ignored)."""
        by_kind: dict[str, set[Any]] = {"factory": set(), "workspace": set(), "policy": set()}
        configs: set[tuple[str, str]] = set()
        for address in addresses:
            kind, _, name = address.partition(".")
            if kind == "config" and "/" in name:
                ws, config = name.split("/", 1)
                configs.add((ws, config))
            elif kind in by_kind:
                by_kind[kind].add(name)
        return cls(by_kind["factory"], by_kind["workspace"], configs, by_kind["policy"])

    def rows(self, cur: Cursor, query: str, table: str) -> list[Any]:
        """The rows ``query`` (a SELECT from ``table`` without WHERE) returns of the selected
        resources."""
        field, columns = _KEYS[table]
        keys = getattr(self, field)
        if keys is None:
            return matching(cur, query, columns[0], None)
        if len(columns) == 1:
            return matching(cur, query, columns[0], keys)
        return matching(cur, query, f"({', '.join(columns)})", keys, width=len(columns))


EVERYTHING = Selection()


def matching(
    cur: Cursor, query: str, column: str, keys: Collection[Any] | None, *, width: int = 1
) -> list[Any]:
    """The rows of ``query`` whose ``column`` (a row value ``(a, b)`` with ``width`` 2) is one
    of ``keys`` (None: every row), a bounded number of keys per query."""
    if keys is None:
        cur.execute(query)
        return list(cur.fetchall())
    found: list[Any] = []
    ordered: Sequence[Any] = sorted(keys)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        if width == 1:
            cur.execute(f"{query} WHERE {column} IN ({', '.join('?' * len(chunk))})", chunk)
        else:
            one = f"({', '.join('?' * width)})"
            params = [value for key in chunk for value in key]
            cur.execute(
                f"{query} WHERE {column} IN (VALUES {', '.join([one] * len(chunk))})", params
            )
        found += cur.fetchall()
    return found
