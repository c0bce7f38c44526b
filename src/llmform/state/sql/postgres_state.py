"""The state half of the PostgreSQL registry: llmform's own record (``meta``: lineage, serial,
fingerprint key; ``audit_events``), never the resource tables; the lock is ``postgres_lock``.

The SQL is SQLite's state half (``sqlite_state``), which both databases speak; what this module
adds is PostgreSQL's: the serial's row locked for the apply's transaction, and the fix for
damage named in psql's words.
"""

from __future__ import annotations

from ...errors import StoreError
from ..audit import AuditEvent
from . import sqlite_state as shared
from .scope import REGISTRY, Scope
from .sqlite_state import Cursor

PG_RESTORE = "restore the database from a backup, or correct the row with psql"

POSTGRES = shared.Dialect(
    PG_RESTORE,
    "restore the database from a backup (a new key would make every secret show as changed once)",
)


# the same SQL on both: seal the apply's events after the last one, bump the serial
record = shared.record


def lineage_serial(cur: Cursor, url: str, scope: Scope = REGISTRY) -> tuple[str, int]:
    return shared.lineage_serial(cur, url, POSTGRES, scope)


def fingerprint_key(cur: Cursor, url: str, scope: Scope = REGISTRY) -> bytes:
    return shared.fingerprint_key(cur, url, POSTGRES, scope)


def check_expected(
    cur: Cursor, url: str, expected: tuple[str, int], scope: Scope = REGISTRY
) -> tuple[str, int]:
    """Inside the apply transaction: the serial's row locked first (until the transaction
    ends, so that no other writer moves it under the apply), then the (lineage, serial) the
    plan was made from still in force, else StalePlanError."""
    cur.execute(
        "SELECT value FROM meta" + scope.where("key = 'serial'") + " FOR UPDATE", scope.params()
    )
    at = lineage_serial(cur, url, scope)
    shared.check_expected(at, expected)
    return at


def audit_events(
    cur: Cursor,
    url: str,
    scope: Scope = REGISTRY,
    *,
    run_id: str | None = None,
    last_only: bool = False,
) -> list[AuditEvent]:
    try:
        return shared.read_audit(cur, scope, run_id=run_id, last_only=last_only)
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreError(
            f"the store {url} is damaged: a row of table audit_events cannot "
            f"be read ({type(exc).__name__}: {exc}); {PG_RESTORE}"
        ) from None
