"""The state half of the SQLite registry: llmform's own record in the ``meta`` and
``audit_events`` tables (lineage, serial, fingerprint key, the audit trail); the lock is
``sqlite_lock`` (the ``locks`` table).

It never reads nor writes a resource table (those are ``registry_sql``, the target half), so
that a SQLite state store kept for an external target (issue 12) can take this SQL as it is.
The registry calls both halves on one connection, inside one transaction.

The SQL is the subset both databases speak (``?`` placeholders, which PostgreSQL's
``postgres_connect.QmarkCursor`` takes too), so the PostgreSQL registry's state half
(``postgres_state``) reads, checks and seals with these functions; where the two differ, in the
words of the fix for damage, a ``Dialect`` says so.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ...errors import LlmformError, StoreError
from ..audit import GENESIS, AuditEvent, event_from_row, fields_json, seal
from ..audit_keys import ChainKey
from ..base import StalePlanError
from . import sqlite_files as dbfile
from .scope import REGISTRY, Scope

FINGERPRINT_KEY_BYTES = 32


class Cursor(Protocol):
    """A DB-API cursor, as both databases' drivers give one (PostgreSQL's with ``?``
    placeholders: ``postgres_connect.QmarkCursor``)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class Queries(Protocol):
    """A connection or a cursor: ``execute`` returns what rows are fetched from."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...


@dataclass(frozen=True)
class Dialect:
    """How damage to the state is fixed in one database: the fix for a bad row, and for a lost
    fingerprint key (from a backup: a new key would make every secret show as changed once)."""

    fix_row: str
    fix_key: str


SQLITE = Dialect(
    dbfile.RESTORE,
    "restore the store file from a backup (a new key would make every secret show as changed once)",
)


def meta(
    conn: Queries, url: str, key: str, dialect: Dialect = SQLITE, scope: Scope = REGISTRY
) -> str:
    """A ``meta`` value; one that is missing or empty is damage, named with its fix."""
    sql = "SELECT value FROM meta" + scope.where("key = ?")
    row = conn.execute(sql, scope.params(key)).fetchone()
    if row is None or not isinstance(row[0], str) or not row[0]:
        if row is None:
            problem = "it is missing"
        elif row[0] is None:
            problem = "its value is NULL"  # in the words of the sqlite3 shell it is fixed with
        else:
            problem = f"its value is {row[0]!r}"
        raise dbfile.damaged(url, "meta", repr(key), problem, dialect.fix_row)
    return row[0]


def lineage_serial(
    conn: Queries, url: str, dialect: Dialect = SQLITE, scope: Scope = REGISTRY
) -> tuple[str, int]:
    lineage = meta(conn, url, "lineage", dialect, scope)
    text = meta(conn, url, "serial", dialect, scope)
    if not (text.isascii() and text.isdigit()):
        raise dbfile.damaged(
            url, "meta", "'serial'", f"{text!r} is not a whole number", dialect.fix_row
        )
    return lineage, int(text)


def fingerprint_key(
    conn: Queries, url: str, dialect: Dialect = SQLITE, scope: Scope = REGISTRY
) -> bytes:
    text = meta(conn, url, "fingerprint_key", dialect, scope)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < FINGERPRINT_KEY_BYTES // 2:
        raise dbfile.damaged(
            url,
            "meta",
            "'fingerprint_key'",
            "the value is not a key (hexadecimal, 32 bytes)",
            dialect.fix_key,
        )
    return key


def check_expected(found: tuple[str, int], expected: tuple[str, int]) -> None:
    """Inside the apply transaction: the state is still the one the plan was made from."""
    if found != expected:
        raise StalePlanError(
            f"the store changed since the plan was made (serial {expected[1]} -> "
            f"{found[1]}); run llmform plan again"
            if found[0] == expected[0]
            else "the plan was made for a different store (lineage differs)"
        )


def record(
    cur: Cursor,
    at: tuple[str, int],
    audit_drafts: Sequence[Mapping[str, Any]],
    chain_key: ChainKey | None,
    scope: Scope = REGISTRY,
) -> list[AuditEvent]:
    """Inside the apply transaction, the state at ``at`` (lineage, serial): append the audit
    events, sealed after the last one, and bump the serial."""
    lineage, serial = at
    last = last_audit(cur, scope)
    try:
        events = seal(
            audit_drafts,
            last[1] if last else GENESIS,
            last[0] + 1 if last else 1,
            chain_key,
            lineage,
        )
    except LlmformError as exc:  # a bad value or a key that cannot seal: roll back
        raise StoreError(f"apply refused, nothing changed: {exc}") from None
    insert_audit(cur, events, scope)
    cur.execute(
        "UPDATE meta SET value = ?" + scope.where("key = 'serial'"), scope.params(str(serial + 1))
    )
    return events


def audit_events(
    conn: sqlite3.Connection,
    url: str,
    path: str,
    scope: Scope = REGISTRY,
    *,
    run_id: str | None = None,
    last_only: bool = False,
) -> list[AuditEvent]:
    try:
        return read_audit(conn.cursor(), scope, run_id=run_id, last_only=last_only)
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot read the audit log of {url}: {dbfile.explain(exc, path)}"
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreError(
            f"the store {url} is damaged: a row of table audit_events cannot "
            f"be read ({type(exc).__name__}: {exc}); {dbfile.RESTORE}"
        ) from None


_AUDIT_COLUMNS = (
    "seq, time, run_id, actor, git_commit, address, action, fields, result, prev_hash, hash"
)


def last_audit(cur: Cursor, scope: Scope = REGISTRY) -> tuple[int, str] | None:
    sql = "SELECT seq, hash FROM audit_events" + scope.where() + " ORDER BY seq DESC LIMIT 1"
    cur.execute(sql, scope.params())
    row = cur.fetchone()
    return (int(row[0]), str(row[1])) if row else None


def insert_audit(cur: Cursor, events: Sequence[AuditEvent], scope: Scope = REGISTRY) -> None:
    """The events as sealed: every value is the text the seal covers (``audit.message``)."""
    columns = scope.columns(_AUDIT_COLUMNS)
    marks = ", ".join("?" * len(columns.split(",")))
    cur.executemany(
        f"INSERT INTO audit_events ({columns}) VALUES ({marks})",
        [
            scope.values(
                e.seq,
                e.time,
                e.run_id,
                e.actor,
                e.commit,
                e.address,
                e.action,
                fields_json(e.fields),
                e.result,
                e.prev_hash,
                e.hash,
            )
            for e in events
        ],
    )


def read_audit(
    cur: Cursor, scope: Scope = REGISTRY, *, run_id: str | None = None, last_only: bool = False
) -> list[AuditEvent]:
    """Every event in order; a row llmform would not have written is read as damaged. With
    ``run_id``, that run's events only, and with ``last_only`` the last event alone: each is one
    query that returns those rows, never the whole trail (a saved plan's apply asks both)."""
    condition, values = ("run_id = ?", (run_id,)) if run_id is not None else ("", ())
    order = " ORDER BY seq DESC LIMIT 1" if last_only else " ORDER BY seq"
    cur.execute(
        f"SELECT {_AUDIT_COLUMNS} FROM audit_events{scope.where(condition)}{order}",
        scope.params(*values),
    )
    return [event_from_row(row) for row in cur.fetchall()]
