"""The PostgreSQL registry's schema: its version, and the migrations (``sqlite_schema``, in the
PostgreSQL dialect) that create it or bring an older one up to date, in one transaction.

PostgreSQL's DDL is transactional, so an upgrade commits whole or not at all, and two runs that
would upgrade (or create) the same registry wait on each other through a transaction-level
advisory lock, the second finding the work done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from ...errors import StoreError
from ...state.sql.postgres_connect import QmarkCursor
from ...state.sql.postgres_state import PG_RESTORE
from ...state.sql.sqlite_state import Cursor
from .registry_digests import digest_everything
from .registry_triggers import DIGESTS_ADDED
from .sqlite_migrate import SCHEMA_VERSION, known_version
from .sqlite_schema import POSTGRESQL, migration, record_version

# Every table migration 1 creates: one of them without ``meta`` is someone else's table.
TABLES = (
    "meta",
    "factories",
    "factory_models",
    "workspaces",
    "configs",
    "config_models",
    "config_secrets",
    "locks",
    "audit_events",
)
# pg_advisory_xact_lock's key for creating or upgrading the schema ("llmform" + "schema")
MIGRATION_LOCK_KEY = 0x6C6C6D66_00000001


def schema_version(cur: Cursor, display_url: str) -> int | None:
    """The registry's schema version; None when the database holds none of llmform's tables
    (a new registry)."""
    cur.execute(
        "SELECT t FROM unnest(?::text[]) AS t WHERE to_regclass(quote_ident(t)) IS NOT NULL",
        (list(TABLES),),
    )
    present = {row[0] for row in cur.fetchall()}
    if not present:
        return None
    if "meta" not in present:
        raise StoreError(
            f"the database of {display_url} holds a table named {sorted(present)[0]} but no "
            "llmform registry (no meta table); give llmform a database (or a schema, with "
            "options=-csearch_path=NAME in the URL) of its own"
        )
    cur.execute("SELECT value FROM meta WHERE key = 'schema_version'")
    return known_version(cur.fetchone(), display_url, PG_RESTORE)


def migrate(
    conn: psycopg.Connection[Any],
    display_url: str,
    fresh: Callable[[], tuple[str, str]] | None,
) -> bool:
    """Create the registry (``fresh``: its lineage and fingerprint key) or upgrade it to
    SCHEMA_VERSION, in one transaction; True when it was created. Without ``fresh`` a
    database with no registry is left alone (False)."""
    with conn.cursor() as cur:
        cur.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        try:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            # again, under the lock: another run may have just done it
            version = schema_version(QmarkCursor(cur), display_url)
            if version == SCHEMA_VERSION or (version is None and fresh is None):
                cur.execute("COMMIT")
                return False
            upgrade(cur, version or 0, fresh() if version is None and fresh else None)
            cur.execute("COMMIT")
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise
    return version is None


def upgrade(cur: psycopg.Cursor[Any], version: int, fresh: tuple[str, str] | None) -> None:
    """Run the migrations after ``version`` (0: a new registry, whose lineage and key are
    ``fresh``) and record the new version. The caller holds the transaction."""
    for number in range(version, SCHEMA_VERSION):
        cur.execute(migration(number, POSTGRESQL).encode())  # several statements, no parameters
    if 0 < version <= DIGESTS_ADDED:  # the rows of an older registry get their digests now
        digest_everything(QmarkCursor(cur))
    record_version(QmarkCursor(cur), version, SCHEMA_VERSION, fresh)
