"""``--state sqlite:///PATH``: the state of targets that keep none of their own (MLflow's
gateway), in one SQLite file that may hold several targets' (``.llmform/state.db`` serves every
gateway a repository manages), each target's rows told apart by its URL (``scope.Scope``).

Its tables are the registry's state tables (``meta``, ``locks``, ``audit_events``) with a
``target`` column, plus ``applied`` (the resources last applied, as llmform wrote them), so the
registry's SQL (``sqlite_state``, ``sqlite_lock``) reads and writes them unchanged: the same
lock (a row naming its holder, ``--lock-timeout``, a gone holder's row taken over,
``force-unlock``), the same sealed audit chain, the same messages.

Opening follows ``OpenMode`` as the registry does: only CREATE and APPLY create; PLAN and READ
never write. A state not there yet (no file, or no rows for this target) reads as new (serial
0) and is written by the first recorded step: a new file whole (``sqlite_files.create``, 0600,
linked into place, runs that would create it meeting on ``creation_lock``), or the target's
rows in the first step's transaction.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from ...core.diff import Change
from ...core.resources import Resource
from ...errors import StoreError
from ..audit import AuditEvent
from ..audit_keys import ChainKey
from ..base import NoStateError, OpenMode, StalePlanError
from ..lock import LockInfo, TakenOver, acquire, new_lock
from ..urls import sqlite_path
from . import applied as applied_rows
from . import sqlite_files as dbfile
from . import sqlite_lock as lock_rows
from . import sqlite_state as state_sql
from .creation_lock import CreationLock
from .scope import Scope
from .state_schema import SCHEMA, SCHEMA_VERSION, new_key

LOCK_ATTEMPT_MS = 100  # SQLite's busy wait per lock attempt; ``acquire`` polls between them


class SqliteStateStore:
    """The state of the target ``target_url`` (as shown: without credentials) in the SQLite
    file of ``url`` (``state.base.SteppedStateStore``)."""

    def __init__(self, url: str, mode: OpenMode, target_url: str) -> None:
        self.display_url = url
        self.mode = mode
        self.target_url = target_url
        self.path = sqlite_path(url)
        self.scope = Scope(target_url)
        self.exists = True  # this target's rows are in the file
        self.created = False
        self.warnings: tuple[str, ...] = ()
        self._conn: sqlite3.Connection | None = None  # None: no file yet
        # what a state not there yet starts as: the same key for every plan against it
        # (``new_store_key``), one per target
        self._new = (uuid.uuid4().hex, new_key(self.path, target_url))
        self._open()

    # -- opening -----------------------------------------------------------------------------

    def _open(self) -> None:
        why_missing = dbfile.missing(self.path)
        if why_missing is not None:
            if os.path.lexists(self.path):  # something that is not a file is in the way
                raise StoreError(f"cannot open the state {self.display_url}: {why_missing}")
            self._absent(why_missing)
            if self.mode is OpenMode.CREATE:
                self._create_file(())
            return
        self.warnings = dbfile.permission_warnings(self.path)
        try:
            self._conn = (
                dbfile.connect(self.path, read_only=False)
                if self.mode.writes
                else dbfile.connect_read_only(self.path, self.display_url)
            )
            if not self._has_schema(self._conn):
                if self.mode not in (OpenMode.CREATE, OpenMode.APPLY):
                    self._conn.close()
                    self._conn = None
                    self._absent(f"{self.path} is an empty database")
                    return
                # an empty database (made by ``touch``): the modes that may create a state make
                # it one, as the registry's do
                self._conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")
            self.exists = self._has_target(self._conn)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the state {self.display_url}: {dbfile.explain(exc, self.path)}"
            ) from None
        if not self.exists:
            self._absent(f"it holds no state for {self.target_url}")
            if self.mode is OpenMode.CREATE:
                self._record_in_file((), None, (), None)

    def _absent(self, why: str) -> None:
        """This target's state is not there: an error for the modes that need it."""
        if self.mode in (OpenMode.READ, OpenMode.EXISTING):
            raise NoStateError(self.display_url, self.target_url, why)
        self.exists = False

    def _has_schema(self, conn: sqlite3.Connection) -> bool:
        """The file is a state store (False: an empty database, made by ``touch``)."""
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if not tables:
            return False
        try:
            row = conn.execute(
                "SELECT value FROM meta WHERE target = '' AND key = 'state_schema_version'"
            ).fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is None or row[0] != SCHEMA_VERSION:
            raise StoreError(
                f"the state {self.display_url} is not an llmform state store (version "
                f"{SCHEMA_VERSION}): {self.path} holds other tables (a registry is its own "
                "state: name it with --store, or give --state a file of its own)"
            )
        return True

    def _has_target(self, conn: sqlite3.Connection) -> bool:
        row = conn.execute(
            "SELECT 1 FROM meta WHERE target = ? AND key = 'lineage'", (self.target_url,)
        ).fetchone()
        return row is not None

    def _require_writes(self) -> None:
        if not self.mode.writes:
            raise StoreError(
                f"the state {self.display_url} was opened read-only ({self.mode.value}); "
                "this command cannot change it"
            )

    def _require_writable(self) -> None:
        problem = dbfile.unwritable(self.path)
        if problem is not None:
            raise StoreError(
                f"cannot write to the state {self.display_url}: {problem}; nothing was changed"
            )

    # -- reading -----------------------------------------------------------------------------

    def lineage_serial(self) -> tuple[str, int]:
        if not self.exists or self._conn is None:
            return self._new[0], 0
        try:
            return state_sql.lineage_serial(
                self._conn, self.display_url, state_sql.SQLITE, self.scope
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot read the state {self.display_url}: {dbfile.explain(exc, self.path)}"
            ) from None

    def fingerprint_key(self) -> bytes:
        if not self.exists or self._conn is None:
            return self._new[1]
        return state_sql.fingerprint_key(self._conn, self.display_url, state_sql.SQLITE, self.scope)

    def audit_events(
        self, *, run_id: str | None = None, last_only: bool = False
    ) -> list[AuditEvent]:
        if not self.exists or self._conn is None:
            return []
        return state_sql.audit_events(
            self._conn, self.display_url, self.path, self.scope, run_id=run_id, last_only=last_only
        )

    def last_applied(self) -> Mapping[str, Resource]:
        if not self.exists or self._conn is None:
            return {}
        rows = self._conn.execute(applied_rows.READ, (self.target_url,)).fetchall()
        return applied_rows.resources(rows, self.display_url, dbfile.RESTORE)

    # -- the lock ----------------------------------------------------------------------------

    @contextmanager
    def lock(self, operation: str, timeout: float) -> Iterator[LockInfo]:
        self._require_writes()
        mine = new_lock(operation)
        if self._conn is None:
            creating = CreationLock(self.path, self.display_url)
            creating.acquire(mine, timeout)
            if dbfile.missing(self.path) is not None:
                try:
                    yield mine
                finally:
                    creating.release(remove_dirs=self._conn is None)
                return
            creating.release(remove_dirs=False)  # another run created it while we waited
            self._conn = dbfile.connect(self.path, read_only=False)
        self._require_writable()
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {LOCK_ATTEMPT_MS}")
        left: list[LockInfo] = []
        try:
            acquire(
                lambda: lock_rows.try_lock(
                    conn, mine, self.display_url, self.path, left.append, self.scope
                ),
                timeout,
            )
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(dbfile.BUSY_TIMEOUT_S * 1000)}")
        if left:
            mine = replace(mine, taken_over=TakenOver(left[-1], "its process no longer exists"))
        self.exists = self._has_target(conn)  # another run may have created it meanwhile
        try:
            yield mine
        except BaseException:
            lock_rows.release(conn, mine, self.display_url, self.path, quiet=True, scope=self.scope)
            raise
        lock_rows.release(conn, mine, self.display_url, self.path, quiet=False, scope=self.scope)

    def force_unlock(self, lock_id: str) -> LockInfo:
        self._require_writes()
        if self._conn is None:
            raise NoStateError(self.display_url, self.target_url, "no file")
        return lock_rows.force_unlock(
            self._conn,
            lock_id,
            self.display_url,
            self.path,
            self._require_writable,
            self.scope,
            f"{self.target_url} in {self.display_url}",
        )

    # -- recording steps ---------------------------------------------------------------------

    def record_step(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        self._require_writes()
        if self._conn is None:
            return self._create_file(changes, expected, audit_drafts, chain_key)
        return self._record_in_file(changes, expected, audit_drafts, chain_key)

    def _record_in_file(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int] | None,
        audit_drafts: Sequence[Mapping[str, Any]],
        chain_key: ChainKey | None,
    ) -> list[AuditEvent]:
        assert self._conn is not None
        self._require_writable()
        events = self._record(self._conn, changes, expected, audit_drafts, chain_key)
        if not self.exists:
            self.exists = self.created = True
        return events

    def _create_file(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int] | None = None,
        audit_drafts: Sequence[Mapping[str, Any]] = (),
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        """Write a new file, whole, holding this target's state and the step."""
        memory = sqlite3.connect(":memory:", isolation_level=None)
        try:
            memory.executescript(SCHEMA)
            events = self._record(memory, changes, expected, audit_drafts, chain_key)
            if not dbfile.create(memory, self.path, self.display_url):
                raise StoreError(
                    f"the state {self.display_url} was created by another run while this one "
                    "was applying; this step is not recorded in it: run llmform plan"
                )
        finally:
            memory.close()
        self.exists = self.created = True
        self.warnings = dbfile.permission_warnings(self.path)
        self._conn = dbfile.connect(self.path, read_only=False)
        return events

    def _record(
        self,
        conn: sqlite3.Connection,
        changes: Sequence[Change],
        expected: tuple[str, int] | None,
        audit_drafts: Sequence[Mapping[str, Any]],
        chain_key: ChainKey | None,
    ) -> list[AuditEvent]:
        """In one transaction: this target's rows if they are new, the resources the changes
        leave, the sealed audit events and the serial (none of it without ``expected``)."""
        cur = conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot write the state {self.display_url}: {dbfile.explain(exc, self.path)}"
            ) from None
        try:
            if not self.exists:
                applied_rows.insert_new(cur, self.target_url, *self._new)
            events: list[AuditEvent] = []
            if expected is not None:
                at = state_sql.lineage_serial(cur, self.display_url, state_sql.SQLITE, self.scope)
                state_sql.check_expected(at, expected)
                for change in changes:
                    applied_rows.write(cur, self.target_url, change)
                events = state_sql.record(cur, at, audit_drafts, chain_key, self.scope)
            cur.execute("COMMIT")
        except sqlite3.IntegrityError:
            lock_rows.rollback(conn)
            raise StalePlanError(
                f"the state of {self.target_url} in {self.display_url} was created by another "
                "run meanwhile; run llmform plan again"
            ) from None
        except sqlite3.Error as exc:
            lock_rows.rollback(conn)
            raise StoreError(
                f"cannot record the step in the state {self.display_url}, it was rolled back: "
                + dbfile.explain(exc, self.path)
            ) from None
        except BaseException:
            lock_rows.rollback(conn)
            raise
        return events

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
