"""The commands that read or repair a store without planning, as library calls: ``init``,
``export``, ``audit`` (listing and ``--verify``) and ``force-unlock``. Each opens the backend as
its command needs (see OpenMode) and returns what the CLI prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..core.export import export_yaml
from ..state.audit import AuditEvent
from ..state.audit_keys import configured_chain_key
from ..state.audit_trail import CopiedEvent, Head, TrailReport, verify_trail
from ..state.lock import LockInfo
from ..targets import OpenMode
from ..targets.base import SteppedTarget
from .backend import Location, Warn, opened_backend


@dataclass(frozen=True)
class Initialized:
    created: bool  # False: it existed already, and nothing was changed
    serial: int


def init_store(where: Location, warn: Warn) -> Initialized:
    """Create the store unless it exists (the one command besides apply that creates one)."""
    with opened_backend(where, OpenMode.CREATE, warn) as backend:
        serial = backend.read().serial
        return Initialized(backend.target.created, serial)


def export_store(where: Location, warn: Warn) -> str:
    """The store's managed resources as llmform YAML (secrets as references)."""
    with opened_backend(where, OpenMode.READ, warn) as backend:
        return export_yaml(backend.read())


def audit_events(where: Location, warn: Warn) -> list[AuditEvent]:
    """Every audit event of the store, in order (read-only)."""
    with opened_backend(where, OpenMode.READ, warn) as backend:
        return backend.state.audit_events()


def verify_audit(
    where: Location,
    warn: Warn,
    head: Head | None = None,
    copy: Sequence[CopiedEvent] = (),
) -> TrailReport:
    """``audit --verify``: the trail's chain (with the audit key, if set), against the store's
    count of applies and, if given, a known head and a copy."""
    with configured_chain_key() as key, opened_backend(where, OpenMode.READ, warn) as backend:
        events = backend.state.audit_events()
        state = backend.read()
        return verify_trail(
            events,
            key,
            head=head,
            copy=copy,
            applies=state.serial,
            managed=len(state.resources),
            store=state.lineage,
            stepped=isinstance(backend.target, SteppedTarget),
        )


def force_unlock(where: Location, lock_id: str, warn: Warn) -> LockInfo:
    """Release the lock ``lock_id`` (left by a crashed run); returns who held it."""
    with opened_backend(where, OpenMode.EXISTING, warn) as backend:
        return backend.state.force_unlock(lock_id)
