"""``postgresql://USER@HOST:PORT/DBNAME``: the registry on a PostgreSQL server, shared by many
runners, read by applications as the SQLite file is (``llmform.registry``).

Two halves on one connection and one transaction, as on SQLite: the target (the resource
tables, ``registry_sql``) and the state (``postgres_state``: lineage, serial, fingerprint key,
audit trail; ``postgres_lock``: the apply lock), on the session ``state.sql.postgres_session``
shares with the PostgreSQL state store (the connection, its transactions, the lock).

How the database is opened depends on the command (``OpenMode``). Read-only commands (plan,
export, audit, show) run every query in ``READ ONLY`` transactions and never touch the lock,
so a role that may only SELECT can run them and they never wait on an apply. Only init and
apply create llmform's tables, in a database that must exist already (creating databases is
the administrator's job); a database without them plans as a new, empty registry.

Apply is one ``REPEATABLE READ`` transaction. The advisory lock already keeps llmform's runs
apart; what the transaction adds is one snapshot in which the serial (locked ``FOR UPDATE``
first) and every change's ``before`` are checked and the changes written, and, for any other
writer touching the same rows meanwhile (an application, a hand edit), PostgreSQL's "could not
serialize" error instead of a lost update. SERIALIZABLE would add predicate locks and refuse
applies for applications' unrelated writes, protecting nothing more: every apply writes the
serial's row, so two applies can never both commit from one snapshot.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from ...console import printable
from ...core.diff import Change
from ...errors import StoreError
from ...state.audit import AuditEvent
from ...state.audit_keys import ChainKey
from ...state.lock import LockInfo
from ...state.sql import postgres_state as state_sql
from ...state.sql.new_store_key import new_store_key
from ...state.sql.postgres_connect import QmarkCursor, error_text
from ...state.sql.postgres_session import LostAtCommit, PostgresSession
from ...state.sql.postgres_state import PG_RESTORE
from ...state.sql.sqlite_files import damaged
from ..base import (
    NoStoreError,
    OpenMode,
    StalePlanError,
    StoredDigests,
    StoreState,
    TargetResources,
)
from . import registry_digests as digests
from . import registry_sql as sql
from .postgres_migrate import MIGRATION_LOCK_KEY, migrate, schema_version, upgrade
from .row_checks import DamagedRow
from .sqlite_migrate import SCHEMA_VERSION, fresh_meta
from .sqlite_schema import read_as_current


class PostgresStore(PostgresSession):
    noun = "store"
    applied_by_trusted_runs = True  # only roles with write grants change it

    def __init__(self, url: str, mode: OpenMode = OpenMode.CREATE) -> None:
        super().__init__(url, mode)
        # a registry not created yet: its lineage and key, for plans and for the first apply
        self._fresh = fresh_meta(new_store_key(self.display_url))
        self._connect()

    # -- opening -----------------------------------------------------------------------------

    def _open(self) -> None:
        with self._reading() as cur:
            version = schema_version(cur, self.display_url)
        if version is None:
            if self.mode in (OpenMode.READ, OpenMode.EXISTING):
                raise NoStoreError(
                    self.display_url, f"the database {self._where.dbname} holds no llmform tables"
                )
            self.exists = False
            if self.mode is OpenMode.CREATE:
                self.created = self._migrate(create=True)
                self.exists = True
            return
        if version == SCHEMA_VERSION:
            return
        if not self.mode.writes:
            # as SQLite's read-only commands upgrade a copy in memory: read it as upgraded
            self._read_as = read_as_current(version)
            if self._read_as is not None:
                return
            raise StoreError(
                f"the store {self.display_url} has schema version {version}, older than this "
                f"llmform's ({SCHEMA_VERSION}), and a read-only command does not upgrade it; "
                f"upgrade it once with a role that may alter its tables: llmform init --store "
                f"{printable(self.display_url)}"
            )
        self._migrate(create=False)

    def _migrate(self, *, create: bool) -> bool:
        try:
            return migrate(self._conn, self.display_url, (lambda: self._fresh) if create else None)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot {'create' if create else 'upgrade'} the store {self.display_url}, "
                f"nothing was changed: {error_text(exc, self._url)}"
            ) from None

    @contextmanager
    def _reading(self) -> Iterator[QmarkCursor]:
        try:
            with super()._reading() as cur:
                yield cur
        except DamagedRow as exc:
            raise damaged(self.display_url, exc.table, exc.row, exc.problem, PG_RESTORE) from None

    def _refresh_exists(self) -> None:
        with self._reading() as cur:
            self.exists = schema_version(cur, self.display_url) is not None

    def _has_lock_table(self) -> bool:
        return self.exists

    # -- Store protocol ----------------------------------------------------------------------

    def read(self) -> StoreState:
        if not self.exists:
            return StoreState(self._fresh[0], 0, {}, {})
        with self._reading() as cur:
            lineage, serial = state_sql.lineage_serial(cur, self.display_url)
            managed, unmanaged = sql.read_resources(cur)
        return StoreState(lineage, serial, managed, unmanaged)

    def read_digests(self, scope: Sequence[str] = ()) -> StoredDigests | None:
        """``targets.base.DigestedStore``: keys and digests only, one snapshot. None for an
        older registry read as upgraded (its digests come with the upgrade)."""
        if not self.exists or self._read_as is not None:
            return None
        with self._reading() as cur:
            if not digests.triggers_intact(cur, "postgresql"):
                return None
            lineage, serial = state_sql.lineage_serial(cur, self.display_url)
            found = digests.read_digests(cur, scope)
        if found.damaged:
            return None
        return StoredDigests(lineage, serial, found.managed, found.unmanaged)

    def read_some(self, addresses: Collection[str]) -> StoreState:
        if not self.exists:
            return StoreState(self._fresh[0], 0, {}, {})
        with self._reading() as cur:
            lineage, serial = state_sql.lineage_serial(cur, self.display_url)
            managed, unmanaged = digests.read_some(cur, addresses)
        return StoreState(lineage, serial, managed, unmanaged)

    def read_endpoints(self) -> StoreState:
        if not self.exists:
            return StoreState(self._fresh[0], 0, {}, {})
        with self._reading() as cur:
            lineage, serial = state_sql.lineage_serial(cur, self.display_url)
            managed, _ = digests.read_some(cur, digests.endpoint_addresses(cur))
        return StoreState(lineage, serial, managed)

    def read_resources(self) -> TargetResources:
        """The target half alone (``targets.base.Target``)."""
        if not self.exists:
            return TargetResources({}, {})
        with self._reading() as cur:
            return TargetResources(*sql.read_resources(cur))

    def lineage_serial(self) -> tuple[str, int]:
        """The state half alone (``state.base.StateStore``)."""
        if not self.exists:
            return self._fresh[0], 0
        with self._reading() as cur:
            return state_sql.lineage_serial(cur, self.display_url)

    def fingerprint_key(self) -> bytes:
        if not self.exists:
            return bytes.fromhex(self._fresh[1])
        with self._reading() as cur:
            return state_sql.fingerprint_key(cur, self.display_url)

    def force_unlock(self, lock_id: str) -> LockInfo:
        return self._force_unlock(lock_id)

    def apply(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        sealed: Mapping[str, Mapping[str, str]] | None = None,
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        self._require_writes()
        try:
            with self._writing() as raw:
                cur = QmarkCursor(raw)
                if not self.exists:
                    self._create_in(raw)
                at = state_sql.check_expected(cur, self.display_url, expected)
                # in the transaction's snapshot, the serial locked: nothing can slip in
                digests.apply_changes(cur, changes, sealed or {})
                events = state_sql.record(cur, at, audit_drafts, chain_key)
        except LostAtCommit as lost:
            raise StoreError(
                f"the connection to {self._where} was lost while the apply was committing "
                f"({error_text(lost.error, self._url)}): it landed whole or not at all; run "
                "llmform plan to see which"
            ) from None
        except psycopg.Error as exc:
            raise self._apply_error(exc) from None
        except DamagedRow as exc:
            raise damaged(self.display_url, exc.table, exc.row, exc.problem, PG_RESTORE) from None
        if not self.exists:
            self.exists = self.created = True
        return events

    def _create_in(self, raw: psycopg.Cursor[Any]) -> None:
        """The first apply creates the tables in its own transaction: a refused or failed
        apply leaves none."""
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        if schema_version(QmarkCursor(raw), self.display_url) is not None:
            raise StalePlanError(
                f"the store {self.display_url} was created by another run while this one was "
                "applying; nothing was changed by this run: run llmform apply again"
            )
        upgrade(raw, 0, self._fresh)

    def _apply_error(self, exc: psycopg.Error) -> StoreError:
        why = error_text(exc, self._url)
        if isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
            why = (
                "another session changed the same rows meanwhile (an application or a hand "
                "edit); run llmform apply again"
            )
        elif isinstance(exc, psycopg.OperationalError):
            why = f"the connection to {self._where} was lost ({why})"
        return StoreError(f"apply failed and was rolled back, nothing changed: {why}")

    def audit_events(
        self, *, run_id: str | None = None, last_only: bool = False
    ) -> list[AuditEvent]:
        if not self.exists:
            return []
        with self._reading() as cur:
            return state_sql.audit_events(cur, self.display_url, run_id=run_id, last_only=last_only)
