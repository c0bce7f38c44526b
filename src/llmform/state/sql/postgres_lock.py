"""The apply lock of the PostgreSQL registry: a session-level advisory lock, which the server
releases when the session ends however it ends (a killed runner, a lost network, a server
restart), and a row in ``locks`` naming its holder for messages and ``force-unlock``.

The advisory lock is the lock; the row only says who holds it. So a row whose advisory lock is
free is a leftover of a run that died before it could delete it, and is taken over; and
``force-unlock`` can clear a row but cannot take a live session's lock away (it says so: that
run is still connected, and only ending it, by its runner or ``pg_terminate_backend``, frees it).
Taking the lock never waits inside PostgreSQL: ``pg_try_advisory_lock`` is polled by
``state.lock.acquire`` until ``--lock-timeout``.

The registry has one lock (``APPLY_LOCK_KEY``, its row unscoped); a state store for external
targets (``postgres_store``) has one per target: its own advisory key (``target_lock_key``) and
its own row (a ``scope.Scope``), so that two targets in one database never wait on each other.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from typing import Any

import psycopg

from ...console import printable
from ...errors import StoreError
from ..lock import UNNAMED_LOCK_ID, LockInfo
from .postgres_connect import QmarkCursor, error_text
from .postgres_state import PG_RESTORE
from .scope import REGISTRY, Scope
from .sqlite_lock import lock_info

# The advisory lock's key ("llmform" + "apply"); advisory locks are per database, as the
# registry is.
APPLY_LOCK_KEY = 0x6C6C6D66_00000002
CREATING = LockInfo(UNNAMED_LOCK_ID, "another llmform run creating the registry", 0, "apply", "")
_HOLDER = "SELECT lock_id, holder, pid, operation, created_at FROM locks"


def target_lock_key(target_url: str) -> int:
    """The advisory lock of one target's state: a 63-bit hash of its URL (as shown), positive
    so that it reads the same in ``pg_locks``."""
    digest = hashlib.sha256(b"llmform state lock\0" + target_url.encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def holder_row(cur: psycopg.Cursor[Any], scope: Scope = REGISTRY) -> Sequence[Any] | None:
    QmarkCursor(cur).execute(_HOLDER + scope.where("name = 'apply'"), scope.params())
    row: Sequence[Any] | None = cur.fetchone()
    return row


def holding_backend(conn: psycopg.Connection[Any], key: int = APPLY_LOCK_KEY) -> int | None:
    """The server process of the session holding the apply lock now (None: it is free)."""
    row = conn.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
        (key >> 32, key & 0xFFFFFFFF),
    ).fetchone()
    return int(row[0]) if row else None


def take(conn: psycopg.Connection[Any], key: int = APPLY_LOCK_KEY) -> bool:
    """Take the advisory lock if it is free (never waits)."""
    return _try(conn, key)


def holder(
    conn: psycopg.Connection[Any], display_url: str, has_tables: bool, scope: Scope = REGISTRY
) -> LockInfo:
    """Who holds the advisory lock, as its row says. Without the registry's tables (a run about
    to create them) there is no row: the advisory lock alone serialises those runs."""
    if not has_tables:
        return CREATING
    with conn.cursor() as cur:
        row = holder_row(cur, scope)
    if row is None:  # between its lock and its row, or after its row went
        return LockInfo(UNNAMED_LOCK_ID, "another llmform run", 0, "apply", "")
    return _info(row, display_url)


def record(
    conn: psycopg.Connection[Any],
    mine: LockInfo,
    display_url: str,
    key: int = APPLY_LOCK_KEY,
    scope: Scope = REGISTRY,
) -> LockInfo | None:
    """Write ``mine`` as the holder (the advisory lock is ours: a row left here is a dead
    run's, and is taken over: returned); on failure the advisory lock is let go."""
    try:
        with conn.cursor() as cur:
            left = holder_row(cur, scope)
            columns = scope.columns("name, lock_id, holder, pid, operation, created_at")
            QmarkCursor(cur).execute(
                f"INSERT INTO locks ({columns})"
                f" VALUES ({'?, ' if scope.target is not None else ''}'apply', ?, ?, ?, ?, ?)"
                f" ON CONFLICT ({scope.columns('name')}) DO UPDATE SET"
                " lock_id = excluded.lock_id, holder = excluded.holder, pid = excluded.pid,"
                " operation = excluded.operation, created_at = excluded.created_at",
                scope.values(mine.lock_id, mine.holder, mine.pid, mine.operation, mine.created_at),
            )
    except BaseException:
        _unlock_quietly(conn, key)
        raise
    return _info(left, display_url) if left else None


def release(
    conn: psycopg.Connection[Any],
    mine: LockInfo,
    *,
    has_row: bool,
    quiet: bool,
    key: int = APPLY_LOCK_KEY,
    scope: Scope = REGISTRY,
) -> None:
    """Delete this run's row (if it wrote one) and let go of the advisory lock. ``quiet``: an
    error is in flight and is the one to report (the server frees the lock with the session
    anyway, and the next run takes the row over)."""
    try:
        if has_row:
            with conn.cursor() as cur:
                _delete(cur, mine.lock_id, scope)
        _unlock(conn, key)
    except psycopg.Error:
        if not quiet:
            raise


def force_unlock(
    conn: psycopg.Connection[Any],
    lock_id: str,
    display_url: str,
    key: int = APPLY_LOCK_KEY,
    scope: Scope = REGISTRY,
) -> tuple[LockInfo, int | None]:
    """Clear the row of lock ``lock_id``; returns its holder, and the server process of the
    live session that still holds the advisory lock, if one does (force-unlock ends none)."""
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        try:
            QmarkCursor(cur).execute(
                _HOLDER + scope.where("name = 'apply'") + " FOR UPDATE", scope.params()
            )
            row = cur.fetchone()
            if row is None or row[0] != lock_id:
                cur.execute("ROLLBACK")
                held = f"it is held as {printable(str(row[0]))}" if row else "nothing holds it"
                raise StoreError(f"no lock {lock_id!r} on {display_url} ({held})")
            _delete(cur, lock_id, scope)
            cur.execute("COMMIT")
        except psycopg.Error:
            conn.rollback()
            raise
    return _info(row, display_url), holding_backend(conn, key)


def force_unlock_or_say(
    conn: psycopg.Connection[Any],
    lock_id: str,
    display_url: str,
    what: str,
    url: str,
    key: int = APPLY_LOCK_KEY,
    scope: Scope = REGISTRY,
) -> LockInfo:
    """``force_unlock`` for a command: its holder, or a StoreError saying what went wrong (a
    live session still holding the advisory lock: how to end it). ``what``: the lock's name in
    messages; ``url``: the URL as given, whose password no message shows."""
    try:
        released, live = force_unlock(conn, lock_id, what, key, scope)
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot release the lock on {display_url}, nothing was changed: {error_text(exc, url)}"
        ) from None
    if live is not None:
        raise StoreError(
            f"cleared the lock row {printable(released.lock_id)} of {released.who}, but "
            f"its session is still connected (server process {live}) and holds the "
            "lock, which force-unlock does not end: the next apply waits until that run "
            "finishes; if it is stuck, end it on the server with SELECT "
            f"pg_terminate_backend({live})"
        )
    return released


def _delete(cur: psycopg.Cursor[Any], lock_id: str, scope: Scope) -> None:
    sql = "DELETE FROM locks" + scope.where("name = 'apply' AND lock_id = ?")
    QmarkCursor(cur).execute(sql, scope.params(lock_id))


def _info(row: Sequence[Any], display_url: str) -> LockInfo:
    try:
        return lock_info(row, display_url)
    except StoreError:
        raise StoreError(
            f"the store {display_url} is damaged: table locks, row 'apply': a column holds a "
            "value of the wrong type; delete that row once no run is applying: DELETE FROM "
            f"locks WHERE name = 'apply' (or {PG_RESTORE})"
        ) from None


def _try(conn: psycopg.Connection[Any], key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])


def _unlock(conn: psycopg.Connection[Any], key: int) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _unlock_quietly(conn: psycopg.Connection[Any], key: int) -> None:
    with contextlib.suppress(psycopg.Error):  # the session is gone, and its lock with it
        _unlock(conn, key)
