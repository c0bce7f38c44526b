"""The Store protocol: what every target (SQLite, PostgreSQL, MLflow's gateway) provides.

A store reads its current state as resources, holds a lock that a second apply waits on or
fails on with the holder's identity, applies a plan's changes (all or nothing where it can;
in order, so that a re-plan repairs a partial run, where it cannot) and appends audit events.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.diff import Change
from ..core.resources import Resource
from ..errors import StoreError
from ..state.audit import AuditEvent
from ..state.audit_keys import ChainKey
from ..state.lock import LockInfo


class NoStoreError(StoreError):
    """The store does not exist, and the command may not create it."""

    def __init__(self, url: str, detail: str = "") -> None:
        self.url = url
        super().__init__(
            f"no store at {url}{f' ({detail})' if detail else ''}; check --store or "
            f"LLMFORM_STORE, or create it with: llmform init --store {shlex.quote(url)}"
        )


class OpenMode(enum.Enum):
    """How a command opens its store. Only CREATE and APPLY ever create one.

    - CREATE: create the store now if it does not exist (``llmform init``; the library default).
    - APPLY: read-write. A store that does not exist reads as new and empty (``exists`` False)
      and is created by the first apply, atomically with that apply's changes: a cancelled,
      refused or failed apply leaves nothing behind.
    - EXISTING: read-write; a missing store is a NoStoreError (destroy, force-unlock, apply of a
      saved plan).
    - READ: read-only, never a write transaction; a missing store is a NoStoreError (export,
      audit, show). Works on a read-only file or directory.
    - PLAN: read-only like READ, but a missing store reads as new and empty (``exists`` False),
      so that plan can show what apply would create.
    """

    CREATE = "create"
    APPLY = "apply"
    EXISTING = "existing"
    READ = "read"
    PLAN = "plan"

    @property
    def writes(self) -> bool:
        return self in (OpenMode.CREATE, OpenMode.APPLY, OpenMode.EXISTING)


class StalePlanError(StoreError):
    """A saved plan no longer matches the store or the secrets."""


@dataclass(frozen=True)
class StoreState:
    lineage: str
    serial: int
    resources: Mapping[str, Resource]  # managed by llmform
    unmanaged: Mapping[str, Resource] = field(default_factory=dict)  # there, not ours


class Store(Protocol):
    display_url: str  # the URL without credentials

    @property
    def exists(self) -> bool:
        """False: the store is not there yet (OpenMode.APPLY/PLAN) and reads as new and empty;
        an apply creates it."""
        ...

    @property
    def created(self) -> bool:
        """This process created the store (``llmform init``, or the first apply)."""
        ...

    @property
    def warnings(self) -> Sequence[str]:
        """Found on opening, for stderr: a registry others can read, or owned by another."""
        ...

    @property
    def applied_by_trusted_runs(self) -> bool:
        """Whether only llmform's runs write what the store holds, so that the endpoints in it
        may be trusted for key checks; False for a store a change under review could have
        written (a SQLite file that git tracks: ``registry.versioned``)."""
        ...

    def read(self) -> StoreState: ...

    def fingerprint_key(self) -> bytes:
        """The key of this store's secret fingerprints (created with the store)."""
        ...

    def lock(self, operation: str, timeout: float) -> AbstractContextManager[LockInfo]: ...

    def force_unlock(self, lock_id: str) -> LockInfo: ...

    def apply(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        sealed: Mapping[str, Mapping[str, str]] | None = None,
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        """Apply ``changes`` if the store is still at (lineage, serial) ``expected`` and holds
        each change's ``before`` at its address, none of them unmanaged (``guard.check_befores``,
        inside the same transaction); bump the serial and append the audit events, sealed with
        ``chain_key`` (plain SHA-256 without one: ``audit.seal``); return them.

        ``sealed`` (``sealing.seal_changes``): config address -> slot -> sealed value, stored
        beside the reference for every config the changes write and the plan marks
        ``encrypted``. A store that cannot keep sealed values refuses such changes."""
        ...

    def audit_events(self) -> list[AuditEvent]: ...

    def close(self) -> None: ...
