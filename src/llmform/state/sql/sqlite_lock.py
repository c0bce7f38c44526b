"""The apply lock of the SQLite store: a row in ``locks`` naming its holder, taken and released
in short write transactions of their own (so that a run waiting at the prompt holds no SQL
lock that would block the applications writing to the registry)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from ...console import printable
from ...errors import StoreError
from ..lock import UNNAMED_LOCK_ID, LockInfo, holder_is_gone
from . import sqlite_files as dbfile
from .scope import REGISTRY, Scope


def holder_row(conn: sqlite3.Connection, scope: Scope = REGISTRY) -> Sequence[Any] | None:
    """The lock row, as ``lock_info`` reads it (None: no run holds the lock)."""
    row: Sequence[Any] | None = conn.execute(
        "SELECT lock_id, holder, pid, operation, created_at FROM locks"
        + scope.where("name = 'apply'"),
        scope.params(),
    ).fetchone()
    return row


def release(
    conn: sqlite3.Connection,
    mine: LockInfo,
    url: str,
    path: str,
    *,
    quiet: bool,
    scope: Scope = REGISTRY,
) -> None:
    """Delete this run's lock row. ``quiet``: an error is in flight, and it is the one to
    report; the row then stays, and the next run on this host takes it over."""
    try:
        sql = "DELETE FROM locks" + scope.where("name = 'apply' AND lock_id = ?")
        conn.execute(sql, scope.params(mine.lock_id))
    except sqlite3.Error as exc:
        if quiet:
            return
        raise StoreError(
            f"could not release the lock on {url} "
            f"({dbfile.explain(exc, path)}); the next run takes it over once this one "
            f"has exited, or: llmform force-unlock {mine.lock_id}"
        ) from None


def try_lock(
    conn: sqlite3.Connection,
    mine: LockInfo,
    url: str,
    path: str,
    taken_over: Callable[[LockInfo], None],
    scope: Scope = REGISTRY,
) -> LockInfo | None:
    """Take the lock row, or return who holds it (or holds a write transaction). A row left
    by a run on this host whose process is gone is taken over, and handed to
    ``taken_over``."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
            raise StoreError(f"cannot lock the store {url}: {dbfile.explain(exc, path)}") from None
        return writer(conn, url, scope)
    try:
        row = holder_row(conn, scope)
        holder = lock_info(row, url) if row else None
        if holder is not None and not holder_is_gone(holder):
            conn.execute("COMMIT")
            return holder
        if holder is not None:
            taken_over(holder)
        columns = scope.columns("name, lock_id, holder, pid, operation, created_at")
        conn.execute(
            f"INSERT OR REPLACE INTO locks ({columns})"
            f" VALUES ({'?, ' if scope.target is not None else ''}'apply', ?, ?, ?, ?, ?)",
            scope.values(mine.lock_id, mine.holder, mine.pid, mine.operation, mine.created_at),
        )
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        rollback(conn)
        raise StoreError(
            f"cannot lock the store {url}, nothing was changed: {dbfile.explain(exc, path)}"
        ) from None
    except BaseException:
        rollback(conn)
        raise
    return None


def force_unlock(
    conn: sqlite3.Connection,
    lock_id: str,
    url: str,
    path: str,
    before_write: Callable[[], None],
    scope: Scope = REGISTRY,
    where: str = "",
) -> LockInfo:
    """Clear the row of lock ``lock_id`` (``force-unlock``) and return its holder;
    ``before_write`` says why it cannot be written, before trying; ``where`` names the lock in
    messages (default: the store's URL)."""
    row = holder_row(conn, scope)
    if row is None or row[0] != lock_id:
        held = f"it is held as {printable(str(row[0]))}" if row else "nothing holds it"
        raise StoreError(f"no lock {lock_id!r} on {where or url} ({held})")
    before_write()
    try:
        sql = "DELETE FROM locks" + scope.where("name = 'apply' AND lock_id = ?")
        conn.execute(sql, scope.params(lock_id))
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot release the lock on {url}, nothing was changed: {dbfile.explain(exc, path)}"
        ) from None
    return lock_info(row, url)


def writer(conn: sqlite3.Connection, url: str, scope: Scope = REGISTRY) -> LockInfo:
    """Who holds a write transaction: the lock row's holder (a run mid-apply), or, when
    there is none or it cannot be read just now, an anonymous writer."""
    try:
        row = holder_row(conn, scope)
    except sqlite3.OperationalError:
        row = None
    if row is not None:
        return lock_info(row, url)
    return LockInfo(UNNAMED_LOCK_ID, "another connection", 0, "write", "")


def lock_info(row: Sequence[Any], display_url: str) -> LockInfo:
    """The holder a lock row names; a row of the wrong shape is reported, not trusted."""
    lock_id, holder, pid, operation, created_at = row
    if not (
        all(isinstance(v, str) for v in (lock_id, holder, operation, created_at))
        and isinstance(pid, int)
    ):
        raise dbfile.damaged(
            display_url,
            "locks",
            "'apply'",
            "a column holds a value of the wrong type",
            "delete that row once no run is applying: DELETE FROM locks WHERE name = 'apply'",
        )
    return LockInfo(lock_id, holder, pid, operation, created_at)


def rollback(conn: sqlite3.Connection) -> None:
    # SQLite rolls back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, ...); a second
    # ROLLBACK would then raise and hide the error that matters.
    if conn.in_transaction:
        conn.execute("ROLLBACK")
