"""The StateStore protocol: llmform's own record of one target, apart from the target itself.

Terraform keeps the *backend* (state and lock) apart from the *provider* (the API it changes);
llmform does the same. The state holds what only llmform can keep: the lineage (which store a
plan was made for), the serial (how many applies it has seen, so that a saved plan applies only
to the state it was made from), the apply lock, the audit trail with its chain, and the key of
the secret fingerprints. The target (``targets.base``) holds the resources applications read.

The SQLite registry keeps its state in its own file, in the same transaction as its resources,
so it is both a target and its state store (``targets.base.Store``). A target that is an
external system (MLflow's gateway) has no place for a lock, a serial or an audit chain and
returns secrets only masked, so its state lives in a state store of its own, chosen with
``--state URL``; such a target applies one change at a time (``targets.base.SteppedTarget``) and
its state store records each step as it lands (``SteppedStateStore``), so that a run stopped
half-way leaves a record of what it did and a re-plan shows what is left.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from ..core.diff import Change
from ..core.resources import Resource
from ..errors import StoreError
from .audit import AuditEvent
from .audit_keys import ChainKey
from .lock import LockInfo


class NoStoreError(StoreError):
    """The store does not exist, and the command may not create it."""

    def __init__(self, url: str, detail: str = "") -> None:
        self.url = url
        super().__init__(
            f"no store at {url}{f' ({detail})' if detail else ''}; check --store or "
            f"LLMFORM_STORE, or create it with: llmform init --store {shlex.quote(url)}"
        )


class NoStateError(NoStoreError):
    """The state of a target is not there, and the command may not create it."""

    def __init__(self, url: str, target: str, detail: str = "") -> None:
        self.url = url
        StoreError.__init__(
            self,
            f"no state at {url} for {target}{f' ({detail})' if detail else ''}; check --state "
            "or LLMFORM_STATE (llmform apply creates it with its first change)",
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


class StateStore(Protocol):
    """llmform's record for one target: lineage, serial, lock, audit trail, fingerprint key."""

    display_url: str  # the URL without credentials

    @property
    def exists(self) -> bool:
        """False: not there yet; it reads as new (serial 0) and the first apply creates it."""
        ...

    @property
    def created(self) -> bool:
        """This process created it (``llmform init``, or the first apply)."""
        ...

    @property
    def warnings(self) -> Sequence[str]:
        """Found on opening, for stderr (a file others can read, one git tracks, ...)."""
        ...

    def lineage_serial(self) -> tuple[str, int]:
        """Which state this is (its lineage, fixed at creation) and how many applies it saw."""
        ...

    def fingerprint_key(self) -> bytes:
        """The key of the secret fingerprints (made with the state)."""
        ...

    def lock(self, operation: str, timeout: float) -> AbstractContextManager[LockInfo]:
        """Hold the apply lock, waiting up to ``timeout`` seconds for another run's
        (``state.lock.LockedError`` naming the holder after that)."""
        ...

    def force_unlock(self, lock_id: str) -> LockInfo: ...

    def audit_events(
        self, *, run_id: str | None = None, last_only: bool = False
    ) -> list[AuditEvent]:
        """The audit trail in order; ``run_id``: that run's events only; ``last_only``: the
        last event alone (or none). Both are read by a query for those rows, not by reading
        the whole trail, which grows with every apply."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class SteppedStateStore(StateStore, Protocol):
    """The state of a target that applies one change at a time (``targets.base.SteppedTarget``):
    it also keeps the resources last applied, as llmform wrote them (with the fingerprints a
    target that masks secrets cannot give back), and records each step as it lands."""

    def last_applied(self) -> Mapping[str, Resource]: ...

    def record_step(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        """In one write of the state, if it is still at (lineage, serial) ``expected``: take
        ``changes`` (already applied to the target) into the resources last applied, append
        the audit events (sealed with ``chain_key``, as ``audit.seal`` does) and bump the
        serial; return the events."""
        ...
