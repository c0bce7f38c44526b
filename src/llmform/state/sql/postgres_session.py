"""What the PostgreSQL registry (``targets.registry.postgres``) and the PostgreSQL state store
(``postgres_store``) share: one session on one autocommit connection, its transactions and
its apply lock.

- Opening: a connection that is closed again if opening fails; a session the server keeps
  read-only for commands that never write (whatever a bug might try); for the others, the
  server checks that the client is alive while the session waits.
- ``_reading``: one READ ONLY snapshot, no lock taken, nothing written.
- ``_writing``: one REPEATABLE READ transaction, committed when the block ends and rolled back
  when it raises; a connection lost during COMMIT is ``LostAtCommit`` (it landed whole or not
  at all: only a new plan can tell which).
- ``lock``: the session advisory lock (``postgres_lock``: ``_lock_key``) and the holder's row
  (``_lock_scope``), the row taken over from a run that is gone.

Subclasses say what they are in messages (``noun``: "store", "state"), open themselves
(``_open``), and tell whether the lock's table is there yet (``_has_lock_table``: before the
first apply there is no table, and the advisory lock alone serialises the runs creating it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any, ClassVar

import psycopg

from ...errors import StoreError
from ..base import OpenMode
from ..lock import LockInfo, TakenOver, acquire, new_lock
from . import postgres_lock as lock_rows
from .pg_urls import display_url, endpoint
from .postgres_connect import QmarkCursor, connect, error_text
from .scope import REGISTRY, Scope

READ_ONLY = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
WRITE = "BEGIN ISOLATION LEVEL REPEATABLE READ"
DEAD_CLIENT_CHECK = "2s"


class LostAtCommit(Exception):
    """The connection failed while COMMIT was under way: the transaction landed whole or not
    at all, and nothing here can tell which."""

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__()
        self.error = error


class PostgresSession:
    noun: ClassVar[str]  # what the object is called in messages: "store" or "state"
    _read_as: Mapping[str, Sequence[tuple[str, str]]] | None = None  # an older schema's tables
    _lock_key: int = lock_rows.APPLY_LOCK_KEY
    _lock_scope: Scope = REGISTRY

    def __init__(self, url: str, mode: OpenMode) -> None:
        self.display_url = display_url(url)
        self.mode = mode
        self.exists = True
        self.created = False
        self.warnings: tuple[str, ...] = ()
        self._url = url
        self._where = endpoint(url)

    def _connect(self) -> None:
        """Connect and open (``_open``); the connection is closed if opening fails."""
        self._conn = connect(self._url, self._where, self.display_url)
        try:
            if not self.mode.writes:
                self._conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            else:
                self._notice_a_dead_client()
            self._open()
        except BaseException:
            self._conn.close()
            raise

    def _open(self) -> None:
        raise NotImplementedError

    def _has_lock_table(self) -> bool:
        raise NotImplementedError

    def _refresh_exists(self) -> None:
        """Look again whether the store is there (another run may have created it)."""
        raise NotImplementedError

    def _notice_a_dead_client(self) -> None:
        """A run killed while its session waits on a row lock would hold the apply lock until
        that wait ends: have the server check the client meanwhile (PostgreSQL 14 and later,
        on Linux; elsewhere the session ends at its next statement, as before)."""
        with suppress(psycopg.Error):
            self._conn.execute(f"SET client_connection_check_interval = '{DEAD_CLIENT_CHECK}'")

    @contextmanager
    def _reading(self) -> Iterator[QmarkCursor]:
        """A read-only transaction: one snapshot, no lock taken, nothing written."""
        try:
            with self._conn.cursor() as raw:
                raw.execute(READ_ONLY)
                try:
                    yield QmarkCursor(raw, self._read_as)
                finally:
                    if not self._conn.closed:
                        self._conn.rollback()
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot read the {self.noun} {self.display_url}: {error_text(exc, self._url)}"
            ) from None

    @contextmanager
    def _writing(self) -> Iterator[psycopg.Cursor[Any]]:
        """One REPEATABLE READ transaction: committed when the block ends, rolled back when it
        raises. psycopg's errors pass through for the caller to word, but for a connection lost
        during the COMMIT: ``LostAtCommit``."""
        with self._conn.cursor() as raw:
            raw.execute(WRITE)
            try:
                yield raw
            except BaseException:
                if not self._conn.closed:
                    self._conn.rollback()
                raise
            try:
                raw.execute("COMMIT")
            except psycopg.OperationalError as exc:
                raise LostAtCommit(exc) from None

    def _require_writes(self) -> None:
        if not self.mode.writes:
            raise StoreError(
                f"the {self.noun} {self.display_url} was opened read-only ({self.mode.value}); "
                "this command cannot change it"
            )

    def _lock_name(self) -> str:
        """The lock's name in messages."""
        return self.display_url

    @contextmanager
    def lock(self, operation: str, timeout: float) -> Iterator[LockInfo]:
        self._require_writes()
        mine = new_lock(operation)
        key, scope = self._lock_key, self._lock_scope
        try:
            acquire(
                lambda: (
                    None
                    if lock_rows.take(self._conn, key)
                    else lock_rows.holder(
                        self._conn, self.display_url, self._has_lock_table(), scope
                    )
                ),
                timeout,
            )
            if not self.exists:  # created by another run while this one waited?
                self._refresh_exists()
            has_row = self._has_lock_table()  # no table yet: the advisory lock alone
            if has_row:
                left = lock_rows.record(self._conn, mine, self.display_url, key, scope)
                if left is not None:
                    why = "its session ended: the run died, or the server restarted"
                    mine = replace(mine, taken_over=TakenOver(left, why))
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot lock the {self.noun} {self.display_url}, nothing was changed: "
                f"{error_text(exc, self._url)}"
            ) from None
        try:
            yield mine
        except BaseException:
            lock_rows.release(self._conn, mine, has_row=has_row, quiet=True, key=key, scope=scope)
            raise
        try:
            lock_rows.release(self._conn, mine, has_row=has_row, quiet=False, key=key, scope=scope)
        except psycopg.Error as exc:
            raise StoreError(
                f"could not release the lock on {self._lock_name()} "
                f"({error_text(exc, self._url)}); the server frees it when this run's session "
                "ends, and the next run takes its row over"
            ) from None

    def _force_unlock(self, lock_id: str) -> LockInfo:
        self._require_writes()
        return lock_rows.force_unlock_or_say(
            self._conn,
            lock_id,
            self.display_url,
            self._lock_name(),
            self._url,
            self._lock_key,
            self._lock_scope,
        )

    def close(self) -> None:
        self._conn.close()
