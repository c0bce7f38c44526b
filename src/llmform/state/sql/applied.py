"""The rows a state store for external targets adds to the registry's state tables: a target's
first ``meta`` rows, and ``applied`` (the resources last applied, as llmform wrote them).

The SQL is the subset SQLite and PostgreSQL both speak (``?`` placeholders, which PostgreSQL's
``postgres_connect.QmarkCursor`` takes; an upsert by ``ON CONFLICT``), so ``sqlite_store`` and
``postgres_store`` write and read these rows with the same functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from ...core.diff import Change
from ...core.plan import resource_to_json
from ...core.resources import Resource
from . import sqlite_files as dbfile
from .sqlite_state import Cursor

READ = "SELECT address, resource FROM applied WHERE target = ? ORDER BY address"


def insert_new(cur: Cursor, target: str, lineage: str, key: bytes) -> None:
    """A new target's state: its lineage, serial 0 and fingerprint key."""
    cur.executemany(
        "INSERT INTO meta (target, key, value) VALUES (?, ?, ?)",
        [
            (target, "lineage", lineage),
            (target, "serial", "0"),
            (target, "fingerprint_key", key.hex()),
        ],
    )


def write(cur: Cursor, target: str, change: Change) -> None:
    """The resource ``change`` leaves at its address (none: the row goes)."""
    if change.after is None:
        cur.execute(
            "DELETE FROM applied WHERE target = ? AND address = ?", (target, change.address)
        )
        return
    text = json.dumps(resource_to_json(change.after), sort_keys=True, separators=(",", ":"))
    cur.execute(
        "INSERT INTO applied (target, address, resource) VALUES (?, ?, ?)"
        " ON CONFLICT (target, address) DO UPDATE SET resource = excluded.resource",
        (target, change.address, text),
    )


def resources(
    rows: Iterable[tuple[str, str]], display_url: str, fix: str
) -> Mapping[str, Resource]:
    """The rows of ``READ`` as resources; a row llmform would not have written is damage."""
    applied = {}
    for address, text in rows:
        resource = _resource(text)
        if resource is None or resource.address != address:
            raise dbfile.damaged(
                display_url, "applied", repr(address), "it is not a resource llmform wrote", fix
            )
        applied[address] = resource
    return applied


def _resource(text: str) -> Resource | None:
    """A resource as ``write`` wrote it (None: not one). Its attributes are the target's own:
    the state keeps them as they were given, whatever the target."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    address, kind, workspace = data.get("address"), data.get("kind"), data.get("workspace")
    attrs, secrets = data.get("attrs"), data.get("secrets", {})
    if not (
        isinstance(address, str)
        and isinstance(kind, str)
        and (workspace is None or isinstance(workspace, str))
        and isinstance(attrs, dict)
        and isinstance(secrets, dict)
        and all(isinstance(v, str) for v in secrets.values())
    ):
        return None
    return Resource(address, kind, workspace, attrs, secrets, bool(data.get("catalog", False)))
