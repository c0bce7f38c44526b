"""``sqlite:///PATH``: the embedded registry, one file that applications read directly.

Apply is one ``BEGIN IMMEDIATE`` transaction in rollback-journal mode: it commits whole or
leaves the file as it was, even when the process is killed mid-way. The apply lock is a row
that names its holder; a row left by a process that no longer exists on this host is taken
over, anything else waits up to the lock timeout and then fails naming the holder.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..audit import GENESIS, AuditEvent, seal
from ..audit_keys import ChainKey
from ..console import printable
from ..diff import Change
from ..errors import LlmformError
from . import registry_sql as sql
from .base import (
    UNNAMED_LOCK_ID,
    LockInfo,
    StalePlanError,
    StoreError,
    StoreState,
    acquire,
    holder_is_gone,
    new_lock,
)
from .guard import check_befores
from .sqlite_schema import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)
BUSY_TIMEOUT_S = 30.0
LOCK_ATTEMPT_MS = 100  # SQLite's busy wait per lock attempt; ``acquire`` polls between them


def path_from_url(url: str) -> str:
    """``sqlite:///rel/path.db`` -> ``rel/path.db``; ``sqlite:////abs.db`` -> ``/abs.db``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise StoreError(
            f"{url!r} is not a SQLite store URL; write sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    return url[len(prefix) :]


class SqliteStore:
    def __init__(self, url: str) -> None:
        self.display_url = url
        self.path = path_from_url(url)
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        path = Path(self.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # created owner-only before SQLite opens it: the journal inherits these permissions
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store {self.display_url}: {exc}") from None
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if _schema_version(conn) == SCHEMA_VERSION:
            # Up to date: no write transaction, so that opening the store while another run is
            # mid-apply does not queue behind it (that run's lock is reported instead).
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.display_url} has schema version {version}, newer than "
                    f"this llmform knows ({SCHEMA_VERSION}); upgrade llmform"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    conn.execute(statement)
            if version == 0:
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("lineage", uuid.uuid4().hex),
                        ("serial", "0"),
                        ("fingerprint_key", secrets.token_hex(32)),
                    ],
                )
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _meta(self, key: str) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise StoreError(
                f"the store {self.display_url} has no {key!r}; is it an llmform store?"
            )
        return str(row[0])

    # -- Store protocol ----------------------------------------------------------------------

    def read(self) -> StoreState:
        cur = self._conn.cursor()
        cur.execute("BEGIN")  # one consistent snapshot
        try:
            lineage, serial = self._meta("lineage"), int(self._meta("serial"))
            managed, unmanaged = sql.read_resources(cur)
        finally:
            cur.execute("COMMIT")
        return StoreState(lineage, serial, managed, unmanaged)

    def fingerprint_key(self) -> bytes:
        return bytes.fromhex(self._meta("fingerprint_key"))

    @contextmanager
    def lock(self, operation: str, timeout: float) -> Iterator[LockInfo]:
        mine = new_lock(operation)
        # While the holder is inside its apply transaction, BEGIN IMMEDIATE would sit in
        # SQLite's busy wait (BUSY_TIMEOUT_S) past the caller's lock timeout: wait briefly
        # per attempt instead, and let ``acquire`` poll and give up naming the holder.
        self._conn.execute(f"PRAGMA busy_timeout = {LOCK_ATTEMPT_MS}")
        try:
            acquire(lambda: self._try_lock(mine), timeout)
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        try:
            yield mine
        finally:
            self._conn.execute(
                "DELETE FROM locks WHERE name = 'apply' AND lock_id = ?", (mine.lock_id,)
            )

    def _try_lock(self, mine: LockInfo) -> LockInfo | None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise StoreError(f"cannot lock the store {self.display_url}: {exc}") from None
            return self._writer()
        try:
            row = conn.execute(
                "SELECT lock_id, holder, pid, operation, created_at FROM locks WHERE name = 'apply'"
            ).fetchone()
            holder = LockInfo(*row) if row else None
            if holder is not None and not holder_is_gone(holder):
                conn.execute("COMMIT")
                return holder
            conn.execute(
                "INSERT OR REPLACE INTO locks (name, lock_id, holder, pid, operation, created_at)"
                " VALUES ('apply', ?, ?, ?, ?, ?)",
                (mine.lock_id, mine.holder, mine.pid, mine.operation, mine.created_at),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return None

    def _writer(self) -> LockInfo:
        """Who holds a write transaction: the lock row's holder (a run mid-apply), or, when
        there is none or it cannot be read just now, an anonymous writer."""
        try:
            row = self._conn.execute(
                "SELECT lock_id, holder, pid, operation, created_at FROM locks WHERE name = 'apply'"
            ).fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is not None:
            return LockInfo(*row)
        return LockInfo(UNNAMED_LOCK_ID, "another connection", 0, "write", "")

    def force_unlock(self, lock_id: str) -> LockInfo:
        row = self._conn.execute(
            "SELECT lock_id, holder, pid, operation, created_at FROM locks WHERE name = 'apply'"
        ).fetchone()
        if row is None or row[0] != lock_id:
            held = f"it is held as {printable(str(row[0]))}" if row else "nothing holds it"
            raise StoreError(f"no lock {lock_id!r} on {self.display_url} ({held})")
        self._conn.execute("DELETE FROM locks WHERE name = 'apply' AND lock_id = ?", (lock_id,))
        return LockInfo(*row)

    def apply(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        sealed: Mapping[str, Mapping[str, str]] | None = None,
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        sealed = sealed or {}
        conn = self._conn
        cur = conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:  # e.g. still busy after BUSY_TIMEOUT_S: an error, not a bug
            raise StoreError(f"cannot start the apply, nothing changed: {exc}") from None
        try:
            lineage, serial = self._meta("lineage"), int(self._meta("serial"))
            if (lineage, serial) != expected:
                raise StalePlanError(
                    f"the store changed since the plan was made (serial {expected[1]} -> "
                    f"{serial}); run llmform plan again"
                    if lineage == expected[0]
                    else "the plan was made for a different store (lineage differs)"
                )
            # under the write lock, against the rows about to change: nothing can slip in
            managed, unmanaged = sql.read_resources(cur)
            check_befores(changes, managed, unmanaged)
            for change in changes:
                try:
                    sql.apply_change(cur, change, sealed.get(change.address))
                except sql.SealedMismatch as exc:  # the caller's bug, not the store's state
                    raise StoreError(f"apply refused, nothing changed: {exc}") from None
            last = sql.last_audit(cur)
            try:
                events = seal(
                    audit_drafts,
                    last[1] if last else GENESIS,
                    last[0] + 1 if last else 1,
                    chain_key,
                )
            except LlmformError as exc:  # a bad value or a key that cannot seal: roll back
                raise StoreError(f"apply refused, nothing changed: {exc}") from None
            sql.insert_audit(cur, events)
            cur.execute("UPDATE meta SET value = ? WHERE key = 'serial'", (str(serial + 1),))
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise StoreError(f"apply failed and was rolled back, nothing changed: {exc}") from None
        except BaseException:
            _rollback(conn)
            raise
        return events

    def audit_events(self) -> list[AuditEvent]:
        return sql.read_audit(self._conn.cursor())

    def close(self) -> None:
        self._conn.close()


def _schema_version(conn: sqlite3.Connection) -> int | None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table yet: a new file
        return None
    return int(row[0]) if row else None


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


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite rolls back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, ...); a second
    # ROLLBACK would then raise and hide the error that matters.
    if conn.in_transaction:
        conn.execute("ROLLBACK")
