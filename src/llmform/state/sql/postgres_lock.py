"""The apply lock of the PostgreSQL registry: a session-level advisory lock, which the server
releases when the session ends however it ends (a killed runner, a lost network, a server
restart), and a row in ``locks`` naming its holder for messages and ``force-unlock``.

The advisory lock is the lock; the row only says who holds it. So a row whose advisory lock is
free is a leftover of a run that died before it could delete it, and is taken over; and
``force-unlock`` can clear a row but cannot take a live session's lock away (it says so: that
run is still connected, and only ending it, by its runner or ``pg_terminate_backend``, frees it).
Taking the lock never waits inside PostgreSQL: ``pg_try_advisory_lock`` is polled by
``state.lock.acquire`` until ``--lock-timeout``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import psycopg

from ...console import printable
from ...errors import StoreError
from ..lock import UNNAMED_LOCK_ID, LockInfo
from .postgres_state import PG_RESTORE
from .sqlite_lock import lock_info

# The advisory lock's key ("llmform" + "apply"); advisory locks are per database, as the
# registry is.
APPLY_LOCK_KEY = 0x6C6C6D66_00000002
CREATING = LockInfo(UNNAMED_LOCK_ID, "another llmform run creating the registry", 0, "apply", "")
_HOLDER = "SELECT lock_id, holder, pid, operation, created_at FROM locks WHERE name = 'apply'"


def holder_row(cur: psycopg.Cursor[Any]) -> Sequence[Any] | None:
    cur.execute(_HOLDER)
    row: Sequence[Any] | None = cur.fetchone()
    return row


def holding_backend(conn: psycopg.Connection[Any]) -> int | None:
    """The server process of the session holding the apply lock now (None: it is free)."""
    row = conn.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
        (APPLY_LOCK_KEY >> 32, APPLY_LOCK_KEY & 0xFFFFFFFF),
    ).fetchone()
    return int(row[0]) if row else None


def take(conn: psycopg.Connection[Any]) -> bool:
    """Take the advisory lock if it is free (never waits)."""
    return _try(conn)


def holder(conn: psycopg.Connection[Any], display_url: str, has_tables: bool) -> LockInfo:
    """Who holds the advisory lock, as its row says. Without the registry's tables (a run about
    to create them) there is no row: the advisory lock alone serialises those runs."""
    if not has_tables:
        return CREATING
    with conn.cursor() as cur:
        row = holder_row(cur)
    if row is None:  # between its lock and its row, or after its row went
        return LockInfo(UNNAMED_LOCK_ID, "another llmform run", 0, "apply", "")
    return _info(row, display_url)


def record(conn: psycopg.Connection[Any], mine: LockInfo, display_url: str) -> LockInfo | None:
    """Write ``mine`` as the holder (the advisory lock is ours: a row left here is a dead
    run's, and is taken over: returned); on failure the advisory lock is let go."""
    try:
        with conn.cursor() as cur:
            left = holder_row(cur)
        conn.execute(
            "INSERT INTO locks (name, lock_id, holder, pid, operation, created_at)"
            " VALUES ('apply', %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
            " lock_id = excluded.lock_id, holder = excluded.holder, pid = excluded.pid,"
            " operation = excluded.operation, created_at = excluded.created_at",
            (mine.lock_id, mine.holder, mine.pid, mine.operation, mine.created_at),
        )
    except BaseException:
        _unlock_quietly(conn)
        raise
    return _info(left, display_url) if left else None


def release(conn: psycopg.Connection[Any], mine: LockInfo, *, has_row: bool, quiet: bool) -> None:
    """Delete this run's row (if it wrote one) and let go of the advisory lock. ``quiet``: an
    error is in flight and is the one to report (the server frees the lock with the session
    anyway, and the next run takes the row over)."""
    try:
        if has_row:
            conn.execute("DELETE FROM locks WHERE name = 'apply' AND lock_id = %s", (mine.lock_id,))
        _unlock(conn)
    except psycopg.Error:
        if not quiet:
            raise


def force_unlock(
    conn: psycopg.Connection[Any], lock_id: str, display_url: str
) -> tuple[LockInfo, int | None]:
    """Clear the row of lock ``lock_id``; returns its holder, and the server process of the
    live session that still holds the advisory lock, if one does (force-unlock ends none)."""
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        try:
            cur.execute(_HOLDER + " FOR UPDATE")
            row = cur.fetchone()
            if row is None or row[0] != lock_id:
                cur.execute("ROLLBACK")
                held = f"it is held as {printable(str(row[0]))}" if row else "nothing holds it"
                raise StoreError(f"no lock {lock_id!r} on {display_url} ({held})")
            cur.execute("DELETE FROM locks WHERE name = 'apply' AND lock_id = %s", (lock_id,))
            cur.execute("COMMIT")
        except psycopg.Error:
            conn.rollback()
            raise
    return _info(row, display_url), holding_backend(conn)


def _info(row: Sequence[Any], display_url: str) -> LockInfo:
    try:
        return lock_info(row, display_url)
    except StoreError:
        raise StoreError(
            f"the store {display_url} is damaged: table locks, row 'apply': a column holds a "
            "value of the wrong type; delete that row once no run is applying: DELETE FROM "
            f"locks WHERE name = 'apply' (or {PG_RESTORE})"
        ) from None


def _try(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (APPLY_LOCK_KEY,)).fetchone()
    return bool(row and row[0])


def _unlock(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (APPLY_LOCK_KEY,))


def _unlock_quietly(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(psycopg.Error):  # the session is gone, and its lock with it
        _unlock(conn)
