"""``sqlite:///PATH``: the embedded registry, one file that applications read directly.

Apply is one ``BEGIN IMMEDIATE`` transaction in rollback-journal mode: it commits whole or
leaves the file as it was, even when the process is killed mid-way. The apply lock is a row
that names its holder; a row left by a process that no longer exists on this host is taken
over, anything else waits up to the lock timeout and then fails naming the holder.

How the file is opened depends on the command (``OpenMode``): read-only commands never write
it, and only ``init`` and ``apply`` create it. A store that does not exist yet lives in memory
(new and empty) until an apply writes it, whole, to its file (``sqlite_files.create``); runs
that would create the same store wait on each other through ``creation_lock``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from ...core.diff import Change
from ...errors import StoreError
from ...state.audit import AuditEvent
from ...state.audit_keys import ChainKey
from ...state.lock import LockInfo, TakenOver, acquire, new_lock
from ...state.sql import sqlite_files as dbfile
from ...state.sql import sqlite_lock as lock_rows
from ...state.sql import sqlite_state as state_sql
from ...state.sql.creation_lock import CreationLock
from ...state.sql.new_store_key import new_store_key
from ...state.urls import sqlite_path
from ..base import NoStoreError, OpenMode, StoredDigests, StoreState, TargetResources
from . import registry_digests as digests
from . import registry_sql as sql
from .row_checks import DamagedRow
from .sqlite_migrate import (
    SCHEMA_VERSION,
    fresh_meta,
    new_in_memory,
    schema_version,
    upgrade,
)
from .versioned import version_control_warning

BUSY_TIMEOUT_S = dbfile.BUSY_TIMEOUT_S
LOCK_ATTEMPT_MS = 100  # SQLite's busy wait per lock attempt; ``acquire`` polls between them


class SqliteStore:
    """The registry: a target that keeps its own state (``targets.base.Store``). Its state half
    (``sqlite_state``, ``sqlite_lock``) and its target half (``registry_sql``) share one
    connection, so that an apply's changes and its record commit in one transaction."""

    def __init__(self, url: str, mode: OpenMode = OpenMode.CREATE) -> None:
        self.display_url = url
        self.mode = mode
        self.path = sqlite_path(url)
        self.exists = True
        self.created = False
        self.warnings: tuple[str, ...] = ()
        self.applied_by_trusted_runs = True
        self._conn = self._open()

    # -- opening -----------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        why_missing = dbfile.missing(self.path)
        if why_missing is not None:
            if os.path.lexists(self.path):  # something that is not a file is in the way
                raise StoreError(f"cannot open the store {self.display_url}: {why_missing}")
            if self.mode in (OpenMode.READ, OpenMode.EXISTING):
                raise NoStoreError(self.display_url, why_missing)
            self.exists = False
            new = new_in_memory(new_store_key(self.path))
            if self.mode is not OpenMode.CREATE:
                return new  # created by the first apply (APPLY), or never (PLAN)
            try:
                self.created = dbfile.create(new, self.path, self.display_url)
            finally:
                new.close()
            self.exists = True
        self.warnings = dbfile.permission_warnings(self.path)
        versioned = version_control_warning(self.path)
        if versioned is not None:
            self.warnings += (versioned,)
            self.applied_by_trusted_runs = False
        try:
            if self.mode.writes:
                conn = dbfile.connect(self.path, read_only=False)
                try:
                    self._migrate(conn)
                except BaseException:
                    conn.close()
                    raise
                return conn
            return self._open_read_only()
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the store {self.display_url}: {dbfile.explain(exc, self.path)}"
            ) from None

    def _open_read_only(self) -> sqlite3.Connection:
        conn = dbfile.connect_read_only(self.path, self.display_url)
        try:
            version = schema_version(conn, self.display_url)
        except BaseException:
            conn.close()
            raise
        if version == SCHEMA_VERSION:
            return conn
        if version is None and self.mode is OpenMode.READ:
            conn.close()
            raise NoStoreError(self.display_url, f"{self.path} is an empty database")
        # An older (or still empty) store: upgrade a copy in memory, as apply would upgrade the
        # file, so that reading it writes nothing.
        copy = sqlite3.connect(":memory:", isolation_level=None)
        conn.backup(copy)
        conn.close()
        copy.execute("PRAGMA foreign_keys = ON")
        if version is None:
            self.exists = False
            upgrade(copy, 0, self.display_url, fresh_meta(new_store_key(self.path)))
        else:
            upgrade(copy, version, self.display_url)
        return copy

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring the file's schema up to date (a write, in write modes only). An empty database
        (a file made by ``touch``) is no store yet: only the modes that may create a store make
        it one; the others (destroy, force-unlock, apply of a saved plan) say there is none."""
        version = schema_version(conn, self.display_url)
        if version == SCHEMA_VERSION:
            # Up to date: no write transaction, so that opening the store while another run is
            # mid-apply does not queue behind it (that run's lock is reported instead).
            return
        if version is None and self.mode is OpenMode.EXISTING:
            raise NoStoreError(self.display_url, f"{self.path} is an empty database")
        conn.execute("BEGIN IMMEDIATE")
        try:
            # read again under the write lock: another run may have just upgraded it
            version = schema_version(conn, self.display_url)
            if version != SCHEMA_VERSION:
                fresh = fresh_meta(new_store_key(self.path)) if version is None else None
                upgrade(conn, version or 0, self.display_url, fresh)
                self.created = version is None
            conn.execute("COMMIT")
        except BaseException:
            lock_rows.rollback(conn)
            raise

    def _open_created_file(self) -> None:
        """Switch from the store in memory to the file, once it exists."""
        self._conn.close()
        self.exists = True
        self.warnings = dbfile.permission_warnings(self.path)
        try:
            conn = dbfile.connect(self.path, read_only=False)
            self._migrate(conn)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the store {self.display_url}: {dbfile.explain(exc, self.path)}"
            ) from None
        self._conn = conn

    def _require_writable(self) -> None:
        """Before a write this user could not make: say why, with the fix, before trying."""
        problem = dbfile.unwritable(self.path)
        if problem is not None:
            raise StoreError(
                f"cannot write to the store {self.display_url}: {problem}; nothing was changed"
            )

    def _require_writes(self) -> None:
        if not self.mode.writes:
            raise StoreError(
                f"the store {self.display_url} was opened read-only ({self.mode.value}); "
                "this command cannot change it"
            )

    # -- the state half (meta, locks, audit_events: ``sqlite_state``, ``sqlite_lock``) -------

    def lineage_serial(self) -> tuple[str, int]:
        try:
            return state_sql.lineage_serial(self._conn, self.display_url)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot read the store {self.display_url}: {dbfile.explain(exc, self.path)}"
            ) from None

    def fingerprint_key(self) -> bytes:
        return state_sql.fingerprint_key(self._conn, self.display_url)

    def audit_events(
        self, *, run_id: str | None = None, last_only: bool = False
    ) -> list[AuditEvent]:
        return state_sql.audit_events(
            self._conn, self.display_url, self.path, run_id=run_id, last_only=last_only
        )

    # -- the target half (the resource tables: ``registry_sql``) -------------------------------

    def read_resources(self) -> TargetResources:
        state = self.read()
        return TargetResources(state.resources, state.unmanaged)

    def read(self) -> StoreState:
        """Both halves in one snapshot: the state's lineage and serial, the target's rows."""
        with self._snapshot() as cur:
            lineage, serial = state_sql.lineage_serial(cur, self.display_url)
            managed, unmanaged = sql.read_resources(cur)
        return StoreState(lineage, serial, managed, unmanaged)

    def read_digests(self, scope: Sequence[str] = ()) -> StoredDigests | None:
        """``targets.base.DigestedStore``: keys and digests only, one snapshot."""
        with self._snapshot() as cur:
            if not digests.triggers_intact(cur, "sqlite"):
                return None
            lineage, serial = state_sql.lineage_serial(cur, self.display_url)
            found = digests.read_digests(cur, scope)
        if found.damaged:
            return None
        return StoredDigests(lineage, serial, found.managed, found.unmanaged)

    def read_some(self, addresses: Collection[str]) -> StoreState:
        with self._snapshot() as cur:
            lineage, serial = state_sql.lineage_serial(cur, self.display_url)
            managed, unmanaged = digests.read_some(cur, addresses)
        return StoreState(lineage, serial, managed, unmanaged)

    def read_endpoints(self) -> StoreState:
        with self._snapshot() as cur:
            lineage, serial = state_sql.lineage_serial(cur, self.display_url)
            managed, _ = digests.read_some(cur, digests.endpoint_addresses(cur))
        return StoreState(lineage, serial, managed)

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Cursor]:
        """A read transaction (one consistent snapshot), its errors said as a store's."""
        try:
            cur = self._conn.cursor()
            cur.execute("BEGIN")
            try:
                yield cur
            finally:
                cur.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot read the store {self.display_url}: {dbfile.explain(exc, self.path)}"
            ) from None
        except DamagedRow as exc:
            raise dbfile.damaged(self.display_url, exc.table, exc.row, exc.problem) from None

    @contextmanager
    def lock(self, operation: str, timeout: float) -> Iterator[LockInfo]:
        self._require_writes()
        mine = new_lock(operation)
        if not self.exists:
            creating = CreationLock(self.path, self.display_url)
            creating.acquire(mine, timeout)
            if dbfile.missing(self.path) is None:  # another run created it while we waited
                creating.release(remove_dirs=False)
                self._open_created_file()
            else:
                try:
                    yield mine
                finally:
                    creating.release(remove_dirs=not self.exists)
                return
        self._require_writable()
        # While the holder is inside its apply transaction, BEGIN IMMEDIATE would sit in
        # SQLite's busy wait (BUSY_TIMEOUT_S) past the caller's lock timeout: wait briefly
        # per attempt instead, and let ``acquire`` poll and give up naming the holder.
        self._conn.execute(f"PRAGMA busy_timeout = {LOCK_ATTEMPT_MS}")
        left: list[LockInfo] = []
        try:
            acquire(
                lambda: lock_rows.try_lock(
                    self._conn, mine, self.display_url, self.path, left.append
                ),
                timeout,
            )
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if left:
            mine = replace(mine, taken_over=TakenOver(left[-1], "its process no longer exists"))
        try:
            yield mine
        except BaseException:
            lock_rows.release(self._conn, mine, self.display_url, self.path, quiet=True)
            raise
        lock_rows.release(self._conn, mine, self.display_url, self.path, quiet=False)

    def force_unlock(self, lock_id: str) -> LockInfo:
        self._require_writes()
        return lock_rows.force_unlock(
            self._conn, lock_id, self.display_url, self.path, self._require_writable
        )

    def apply(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        sealed: Mapping[str, Mapping[str, str]] | None = None,
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        self._require_writes()
        events = self._apply_in(
            self._conn, changes, expected, audit_drafts, sealed or {}, chain_key
        )
        if not self.exists:
            # The store in memory now holds this apply: write it to its file, whole.
            if not dbfile.create(self._conn, self.path, self.display_url):
                raise StoreError(
                    f"the store {self.display_url} was created by another run while this one "
                    "was applying; nothing was changed by this run: run llmform apply again"
                )
            self.created = True
            self._open_created_file()
        return events

    def _apply_in(
        self,
        conn: sqlite3.Connection,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        sealed: Mapping[str, Mapping[str, str]],
        chain_key: ChainKey | None,
    ) -> list[AuditEvent]:
        cur = conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:  # e.g. still busy after BUSY_TIMEOUT_S: an error, not a bug
            raise StoreError(
                f"cannot start the apply, nothing changed: {dbfile.explain(exc, self.path)}"
            ) from None
        try:
            at = state_sql.lineage_serial(cur, self.display_url)
            state_sql.check_expected(at, expected)
            # under the write lock, against the rows about to change: nothing can slip in
            digests.apply_changes(cur, changes, sealed)
            events = state_sql.record(cur, at, audit_drafts, chain_key)
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            lock_rows.rollback(conn)
            raise StoreError(
                "apply failed and was rolled back, nothing changed: "
                + dbfile.explain(exc, self.path)
            ) from None
        except DamagedRow as exc:
            lock_rows.rollback(conn)
            raise dbfile.damaged(self.display_url, exc.table, exc.row, exc.problem) from None
        except BaseException:
            lock_rows.rollback(conn)
            raise
        return events

    def close(self) -> None:
        self._conn.close()
