"""The commands that read or repair a store without planning, as library calls: ``init``,
``export``, ``audit`` (listing and ``--verify``) and ``force-unlock``. Each opens the backend as
its command needs (see OpenMode) and returns what the CLI prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..core.export import export_yaml
from ..state.audit import AuditEvent
from ..state.audit_keys import configured_chain_key
from ..state.audit_trail import CopiedEvent, Head, TrailReport, verify_trail
from ..state.base import NoStateError
from ..state.lock import LockInfo
from ..state.urls import check_scheme
from ..targets import STORES, OpenMode
from ..targets.base import SteppedTarget, StoreState
from .adoption import with_adoptable
from .backend import SELF_STATED_SCHEMES, Location, Warn, opened_backend


@dataclass(frozen=True)
class Initialized:
    created: bool  # False: it existed already, and nothing was changed
    serial: int
    state: str | None = None  # a target that keeps no state: where llmform's state of it is


def init_store(where: Location, warn: Warn) -> Initialized:
    """Create the store unless it exists (the one command besides apply that creates one).

    For a target that keeps no state (MLflow's gateway) that is llmform's state of it, in the
    state store; the target itself is only read, first, so that a server that cannot be
    reached or refuses the credentials gets no state: llmform never creates an MLflow server,
    and init changes nothing in it."""
    if check_scheme(where.store, sorted(STORES)) not in SELF_STATED_SCHEMES:
        with opened_backend(where, OpenMode.PLAN, warn) as backend:
            backend.read()
        with opened_backend(where, OpenMode.CREATE, lambda _: None) as backend:  # warned above
            serial = backend.state.lineage_serial()[1]
            return Initialized(backend.state.created, serial, backend.state.display_url)
    with opened_backend(where, OpenMode.CREATE, warn) as backend:
        serial = backend.read().serial
        return Initialized(backend.target.created, serial)


# above the configs export offers for adoption (a hand-made MLflow gateway's)
ADOPTION_NOTE = """\
Configs llmform did not make are exported for adoption, keeping their objects' names; their
keys are placeholders (env:MLFLOW_..._KEY): point each at where the key is kept, e.g.
{vault: secret/llm/openai#api_key}. llmform plan then shows only the keys (which cannot be
read back) as changes; llmform apply pushes them and manages the objects from then on."""


def export_store(where: Location, warn: Warn) -> str:
    """The store's managed resources as llmform YAML (secrets as references), with what it
    offers for adoption (``engine.adoption``). Each note of the target (an object that cannot
    be exported, a field that is not) goes to ``warn``. A target whose state is not there yet
    (a gateway made by hand) is exported as it is."""
    try:
        with opened_backend(where, OpenMode.READ, warn) as backend:
            return _export(backend.read(), warn)
    except NoStateError:
        with opened_backend(where, OpenMode.PLAN, warn) as backend:
            return _export(backend.read(), warn)


def _export(state: StoreState, warn: Warn) -> str:
    for note in state.notes:
        warn(note)
    resources = with_adoptable(state)
    adopting = any(r.kind == "config" for a, r in resources.items() if a not in state.resources)
    return export_yaml(replace(state, resources=resources), note=ADOPTION_NOTE if adopting else "")


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
