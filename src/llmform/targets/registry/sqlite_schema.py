"""The registry's tables, as numbered migrations: one definition, two dialects (SQLite and
PostgreSQL). The SQL is the common subset of both; where they differ, a ``$name`` in a script
is the dialect's word for it (``migration(number, dialect)``). SQLite's text is exactly what it
was before there were two, so a store's recorded schema does not change.

Runtime columns (``used_tokens``, ``created_at``, ``updated_at``) belong to the store and the
applications that read it: llmform sets the timestamps, never overwrites ``used_tokens``, and
never diffs any of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Template

from ...state.sql.sqlite_state import Cursor
from .registry_triggers import DIGESTS_ADDED, digest_triggers


@dataclass(frozen=True)
class Dialect:
    name: str
    # A counter that applications bump (tokens used): SQLite's INTEGER is 64 bits already,
    # PostgreSQL's is 32 and would overflow after two billion tokens.
    int64: str


SQLITE = Dialect("sqlite", int64="INTEGER")
POSTGRESQL = Dialect("postgresql", int64="BIGINT")

MIGRATIONS: tuple[str, ...] = (
    # 1: the registry
    """
    CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE factories (
        name TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        api_base TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    );
    CREATE TABLE factory_models (
        factory TEXT NOT NULL REFERENCES factories(name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        types TEXT NOT NULL,
        max_tokens INTEGER,
        tools INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (factory, name)
    );
    CREATE TABLE workspaces (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        labels TEXT NOT NULL DEFAULT '{}',
        defaults TEXT NOT NULL DEFAULT '{}',
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    );
    CREATE TABLE configs (
        workspace TEXT NOT NULL,
        name TEXT NOT NULL,
        factory TEXT NOT NULL,
        api_base TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        description TEXT NOT NULL DEFAULT '',
        options TEXT NOT NULL DEFAULT '{}',
        managed INTEGER NOT NULL DEFAULT 0,
        used_tokens $int64 NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT,
        PRIMARY KEY (workspace, name)
    );
    CREATE TABLE config_models (
        workspace TEXT NOT NULL,
        config TEXT NOT NULL,
        name TEXT NOT NULL,
        types TEXT,  -- custom models only; a catalog model's details are in factory_models
        max_tokens INTEGER,
        tools INTEGER NOT NULL DEFAULT 0,
        custom INTEGER NOT NULL DEFAULT 0,
        used_tokens $int64 NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace, config, name),
        FOREIGN KEY (workspace, config) REFERENCES configs(workspace, name) ON DELETE CASCADE
    );
    CREATE TABLE config_secrets (
        workspace TEXT NOT NULL,
        config TEXT NOT NULL,
        slot TEXT NOT NULL,
        position INTEGER NOT NULL,
        ref TEXT NOT NULL,
        fingerprint TEXT,
        ciphertext TEXT,
        PRIMARY KEY (workspace, config, slot),
        FOREIGN KEY (workspace, config) REFERENCES configs(workspace, name) ON DELETE CASCADE
    );
    CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        lock_id TEXT NOT NULL,
        holder TEXT NOT NULL,
        pid INTEGER NOT NULL,
        operation TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        run_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        git_commit TEXT,
        address TEXT NOT NULL,
        action TEXT NOT NULL,
        fields TEXT NOT NULL,
        result TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_events_address ON audit_events(address);
    """,
    # 2: deletion protection (``protect: true``), kept by the store so that it outlives its
    # removal from the YAML; existing rows are unprotected
    """
    ALTER TABLE workspaces ADD COLUMN protect INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE configs ADD COLUMN protect INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: policies, applied like any other resource so that those in force judge the next
    # change; an older registry holds none
    """
    CREATE TABLE policies (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        applies_to TEXT NOT NULL,
        workspaces TEXT NOT NULL DEFAULT '[]',
        labels TEXT NOT NULL DEFAULT '{}',
        rule TEXT NOT NULL,
        message TEXT NOT NULL,
        level TEXT NOT NULL,
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    );
    """,
    # 4: each managed resource's digest (``core.resources.resource_digest`` of the row as read
    # back), so that a plan recognises an unchanged resource without reading it; NULL: not
    # known, the row is read and diffed. Triggers (``registry_triggers``) set it back to NULL
    # when anything else changes the row or its model and secret rows.
    """
    ALTER TABLE factories ADD COLUMN digest TEXT DEFAULT NULL;
    ALTER TABLE workspaces ADD COLUMN digest TEXT DEFAULT NULL;
    ALTER TABLE configs ADD COLUMN digest TEXT DEFAULT NULL;
    ALTER TABLE policies ADD COLUMN digest TEXT DEFAULT NULL;
    """,
)


def record_version(
    cur: Cursor, version: int, to_version: int, fresh: tuple[str, str] | None
) -> None:
    """After the migrations from ``version`` (0: a new store, whose lineage and fingerprint
    key are ``fresh``) to ``to_version``: the meta rows that say so, in either dialect."""
    if version == 0:
        assert fresh is not None
        lineage, key = fresh
        cur.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("lineage", lineage), ("serial", "0"), ("fingerprint_key", key)],
        )
    cur.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(to_version),),
    )


def migration(number: int, dialect: Dialect) -> str:
    """The script of migration ``number`` (0-based: the one that brings version ``number`` to
    ``number + 1``) in ``dialect``, with the triggers it brings in that dialect."""
    script = Template(MIGRATIONS[number]).substitute(int64=dialect.int64)
    return script + (digest_triggers(dialect.name) if number == DIGESTS_ADDED else "")


# A migration that only adds columns with a default: ALTER TABLE t ADD COLUMN c ... DEFAULT d;
_ADDS_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+) [^;]*?DEFAULT ([^;\s]+)\s*;")
# Or a table of its own, which an older registry reads as empty: CREATE TABLE t (...);
_ADDS_TABLE = re.compile(r"CREATE TABLE (\w+) \(([^;]*)\);")
# read_as_current's column list of a table an older registry lacks: it reads as no rows
NEW_TABLE = ("*", "")


def read_as_current(version: int) -> dict[str, tuple[tuple[str, str], ...]] | None:
    """How a registry at schema ``version`` reads as the current schema without being changed
    (by a role that may only read, in a read-only transaction): per table, the columns the
    later migrations add and the value each then holds (its default). None when a later
    migration does more than add columns: such a registry cannot be read before it is
    upgraded."""
    added: dict[str, list[tuple[str, str]]] = {}
    for script in MIGRATIONS[version:]:
        if _ADDS_TABLE.sub("", _ADDS_COLUMN.sub("", script)).strip():
            return None
        for table, column, default in _ADDS_COLUMN.findall(script):
            added.setdefault(table, []).append((column, default))
        for table, body in _ADDS_TABLE.findall(script):
            columns = [line.split()[0] for line in body.split(",") if line.strip()]
            added[table] = [NEW_TABLE, *((column, "NULL") for column in columns)]
    return {table: tuple(columns) for table, columns in added.items()}
