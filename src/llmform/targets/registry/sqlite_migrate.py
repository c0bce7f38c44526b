"""The SQLite store's schema: its version, the migrations that bring a file up to date, and
a new store's meta rows (lineage, serial, fingerprint key)."""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from collections.abc import Iterator

from ...errors import StoreError
from ...state.sql import sqlite_files as dbfile
from ...state.sql.sqlite_state import FINGERPRINT_KEY_BYTES
from .registry_digests import digest_everything
from .registry_triggers import DIGESTS_ADDED
from .sqlite_schema import MIGRATIONS, SQLITE, migration, record_version

SCHEMA_VERSION = len(MIGRATIONS)


def new_in_memory(key: bytes | None = None) -> sqlite3.Connection:
    """A new, empty store in memory, with its lineage and fingerprint key (``key``, or a
    random one)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    upgrade(conn, 0, "a new store", fresh_meta(key))
    return conn


def fresh_meta(key: bytes | None = None) -> tuple[str, str]:
    """A new store's lineage and fingerprint key (hexadecimal)."""
    return uuid.uuid4().hex, (key.hex() if key else secrets.token_hex(FINGERPRINT_KEY_BYTES))


def upgrade(
    conn: sqlite3.Connection,
    version: int,
    display_url: str,
    fresh: tuple[str, str] | None = None,
) -> None:
    """Run the migrations after ``version`` (0: a new store, whose lineage and key are
    ``fresh``). The caller holds the transaction, if any."""
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    for number in range(version, SCHEMA_VERSION):
        for statement in _statements(migration(number, SQLITE)):
            conn.execute(statement)
    if 0 < version <= DIGESTS_ADDED:  # the rows of an older store get their digests now
        digest_everything(conn.cursor())
    record_version(conn.cursor(), version, SCHEMA_VERSION, fresh)


def schema_version(conn: sqlite3.Connection, display_url: str) -> int | None:
    """The store's schema version; None for an empty database (no tables: a new store)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return None
    if "meta" not in tables:
        raise StoreError(
            f"{display_url} is a SQLite database but not an llmform store (it has no meta "
            "table); check --store, or give a new file for a new store"
        )
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return known_version(row, display_url)


def known_version(
    row: tuple[object, ...] | None, display_url: str, fix: str = dbfile.RESTORE
) -> int:
    """The schema version in ``meta``'s ``row`` (either database's), one this llmform can
    read or upgrade; else damage, or a newer store, said with its fix."""
    text = row[0] if row else None
    if not (isinstance(text, str) and text.isascii() and text.isdigit() and int(text) >= 1):
        problem = "it is missing" if row is None else f"{text!r} is not a schema version"
        raise dbfile.damaged(display_url, "meta", "'schema_version'", problem, fix)
    version = int(text)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store {display_url} has schema version {version}, newer than "
            f"this llmform knows ({SCHEMA_VERSION}); upgrade llmform"
        )
    return version


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration script. A ';' inside a comment, a string or a trigger
    body does not end a statement, so split where SQLite says a statement is complete."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.replace(";", "").strip():
                yield pending
            pending = ""
    if pending.replace(";", "").strip():
        yield pending
