"""``--state postgresql://USER@HOST:PORT/DBNAME``: the state of targets that keep none of their
own (MLflow's gateway) in a PostgreSQL database, shared by many runners, several targets' in
one database, each target's rows told apart by its URL (``scope.Scope``).

The same tables as ``sqlite_store`` (``state_schema``: the subset of SQL both databases speak)
and the same semantics, in PostgreSQL's dialect: the shared SQL (``sqlite_state`` through
``postgres_state``, ``applied``) on a ``QmarkCursor``; the lock is ``postgres_lock``'s session
advisory lock, one per target (``target_lock_key``), with the holder's row per target.

Opening follows ``OpenMode``: PLAN and READ run every query in ``READ ONLY`` transactions (the
session itself is read-only) and never create anything; only CREATE and APPLY create, in a
database that must exist already. A state not there yet (no tables, or no rows for this target)
reads as new (serial 0); its tables and rows are written by its first recorded step, in that
step's transaction. Each step is recorded in one ``REPEATABLE READ`` transaction, the target's
serial row locked ``FOR UPDATE`` first. The URL is shown without its password, everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from ...core.diff import Change
from ...core.resources import Resource
from ...errors import StoreError
from ..audit import AuditEvent
from ..audit_keys import ChainKey
from ..base import NoStateError, OpenMode, StalePlanError
from ..lock import LockInfo
from . import applied as applied_rows
from . import postgres_lock as lock_rows
from . import postgres_state as state_sql
from .postgres_connect import QmarkCursor, error_text
from .postgres_session import LostAtCommit, PostgresSession
from .postgres_state import PG_RESTORE
from .scope import Scope
from .state_schema import SCHEMA, SCHEMA_VERSION, new_key

# runs creating the tables meet here (per database, as the tables are): "llmform" + "state"
CREATION_LOCK_KEY = 0x6C6C6D66_00000003


class PostgresStateStore(PostgresSession):
    """The state of the target ``target_url`` (as shown: without credentials) in the
    PostgreSQL database of ``url`` (``state.base.SteppedStateStore``)."""

    noun = "state"

    def __init__(self, url: str, mode: OpenMode, target_url: str) -> None:
        super().__init__(url, mode)
        self.target_url = target_url
        self.scope = self._lock_scope = Scope(target_url)
        self._lock_key = lock_rows.target_lock_key(target_url)
        self._tables = True
        # what a state not there yet starts as: the same key for every plan against it
        self._new = (uuid.uuid4().hex, new_key(self.display_url, target_url))
        self._connect()

    # -- opening -----------------------------------------------------------------------------

    def _open(self) -> None:
        self._refresh_exists()
        if not self._tables:
            self._absent(f"the database {self._where.dbname} holds no llmform state tables")
        elif not self.exists:
            self._absent(f"it holds no state for {self.target_url}")
        if not self.exists and self.mode is OpenMode.CREATE:
            self._record((), None, (), None)

    def _refresh_exists(self) -> None:
        with self._reading() as cur:
            self._tables = self._has_schema(cur)
            self.exists = self._tables and self._has_target(cur)

    def _has_lock_table(self) -> bool:
        return self._tables

    def _lock_name(self) -> str:
        return f"{self.target_url} in {self.display_url}"

    def _absent(self, why: str) -> None:
        """This target's state is not there: an error for the modes that need it."""
        if self.mode in (OpenMode.READ, OpenMode.EXISTING):
            raise NoStateError(self.display_url, self.target_url, why)
        self.exists = False

    def _has_schema(self, cur: QmarkCursor) -> bool:
        """The database holds a state store's tables (False: none of llmform's)."""
        cur.execute("SELECT to_regclass('meta') IS NOT NULL")
        if not cur.fetchone()[0]:
            return False
        cur.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = 'meta' AND column_name = 'target'"
        )
        version = None
        if cur.fetchone()[0]:
            cur.execute("SELECT value FROM meta WHERE target = '' AND key = 'state_schema_version'")
            row = cur.fetchone()
            version = row[0] if row else None
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"the state {self.display_url} is not an llmform state store (version "
                f"{SCHEMA_VERSION}): the database {self._where.dbname} holds other tables (a "
                "registry is its own state: name it with --store, or give --state a database "
                "of its own)"
            )
        return True

    def _has_target(self, cur: QmarkCursor) -> bool:
        cur.execute("SELECT 1 FROM meta WHERE target = ? AND key = 'lineage'", (self.target_url,))
        return cur.fetchone() is not None

    # -- reading -----------------------------------------------------------------------------

    def lineage_serial(self) -> tuple[str, int]:
        if not self.exists:
            return self._new[0], 0
        with self._reading() as cur:
            return state_sql.lineage_serial(cur, self.display_url, self.scope)

    def fingerprint_key(self) -> bytes:
        if not self.exists:
            return self._new[1]
        with self._reading() as cur:
            return state_sql.fingerprint_key(cur, self.display_url, self.scope)

    def audit_events(
        self, *, run_id: str | None = None, last_only: bool = False
    ) -> list[AuditEvent]:
        if not self.exists:
            return []
        with self._reading() as cur:
            return state_sql.audit_events(
                cur, self.display_url, self.scope, run_id=run_id, last_only=last_only
            )

    def last_applied(self) -> Mapping[str, Resource]:
        if not self.exists:
            return {}
        with self._reading() as cur:
            cur.execute(applied_rows.READ, (self.target_url,))
            rows = cur.fetchall()
        return applied_rows.resources(rows, self.display_url, PG_RESTORE)

    # -- the lock ----------------------------------------------------------------------------

    def force_unlock(self, lock_id: str) -> LockInfo:
        self._require_writes()
        if not self._tables:
            raise NoStateError(self.display_url, self.target_url, "no tables")
        return self._force_unlock(lock_id)

    # -- recording steps ---------------------------------------------------------------------

    def record_step(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        self._require_writes()
        return self._record(changes, expected, audit_drafts, chain_key)

    def _record(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int] | None,
        audit_drafts: Sequence[Mapping[str, Any]],
        chain_key: ChainKey | None,
    ) -> list[AuditEvent]:
        """In one transaction: the tables and this target's rows if they are new, the resources
        the changes leave, the sealed audit events and the serial (none of it without
        ``expected``)."""
        try:
            with self._writing() as raw:
                cur = QmarkCursor(raw)
                if not self._tables:
                    self._create_tables(raw)
                if not self.exists:
                    applied_rows.insert_new(cur, self.target_url, *self._new)
                events: list[AuditEvent] = []
                if expected is not None:
                    at = state_sql.check_expected(cur, self.display_url, expected, self.scope)
                    for change in changes:
                        applied_rows.write(cur, self.target_url, change)
                    events = state_sql.record(cur, at, audit_drafts, chain_key, self.scope)
        except pg_errors.UniqueViolation:
            raise StalePlanError(
                f"the state of {self.target_url} in {self.display_url} was created by another "
                "run meanwhile; run llmform plan again"
            ) from None
        except LostAtCommit as lost:
            raise StoreError(
                f"the connection to {self._where} was lost while a step was being recorded "
                f"({error_text(lost.error, self._url)}): it landed whole or not at all; run "
                "llmform plan to see which"
            ) from None
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot record the step in the state {self.display_url}, it was rolled back: "
                + error_text(exc, self._url)
            ) from None
        if not self.exists:
            self._tables = self.exists = self.created = True
        return events

    def _create_tables(self, raw: psycopg.Cursor[Any]) -> None:
        """The tables, in the first step's transaction (runs creating them meet on a lock for
        the transaction; the second finds them made)."""
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (CREATION_LOCK_KEY,))
        raw.execute("SELECT to_regclass('meta') IS NOT NULL")
        row = raw.fetchone()
        if not (row and row[0]):
            raw.execute(SCHEMA)
