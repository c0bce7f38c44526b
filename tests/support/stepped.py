"""A stepped target in memory (a dict) and its state in memory, for the tests of the stepped
path: the engine's (``tests/unit/test_stepped_target.py``), the state stores'
(``test_state_stores.py``) and drift's (``tests/unit/test_drift.py``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from llmform.core.diff import DELETE, Change
from llmform.core.plan import Plan, build_plan
from llmform.core.resources import Resource
from llmform.engine.backend import Backend
from llmform.errors import StoreError
from llmform.state.audit import GENESIS, AuditEvent, seal
from llmform.state.audit_keys import ChainKey
from llmform.state.lock import LockInfo, new_lock
from llmform.targets.base import TargetResources

URL = "memory://gateway"


class DictTarget:
    """A target whose resources are a dict; ``fail_at`` names a change it cannot make."""

    display_url = URL
    exists = True
    created = False
    warnings: Sequence[str] = ()
    applied_by_trusted_runs = True

    def __init__(self, fail_at: str | None = None) -> None:
        self.resources: dict[str, Resource] = {}
        self.made: list[str] = []
        self.fail_at = fail_at

    def read_resources(self) -> TargetResources:
        return TargetResources(dict(self.resources))

    def apply_change(self, change: Change, sealed: Mapping[str, str] | None = None) -> None:
        if change.address == self.fail_at:
            raise StoreError(f"the gateway refused {change.address}")
        if change.action == DELETE:
            del self.resources[change.address]
        else:
            assert change.after is not None
            self.resources[change.address] = change.after
        self.made.append(f"{change.action} {change.address}")

    def close(self) -> None:
        pass


class MemoryState:
    """A state store in memory: lineage, serial, audit events, the resources last applied."""

    display_url = "memory://state"
    exists = True
    created = False
    warnings: Sequence[str] = ()

    def __init__(self) -> None:
        self.serial = 0
        self.events: list[AuditEvent] = []
        self.applied: dict[str, Resource] = {}

    def lineage_serial(self) -> tuple[str, int]:
        return "lineage-1", self.serial

    def fingerprint_key(self) -> bytes:
        return b"k" * 32

    @contextmanager
    def lock(self, operation: str, timeout: float) -> Iterator[LockInfo]:
        yield new_lock(operation)

    def force_unlock(self, lock_id: str) -> LockInfo:
        raise StoreError("not locked")

    def audit_events(
        self, *, run_id: str | None = None, last_only: bool = False
    ) -> list[AuditEvent]:
        events = [e for e in self.events if run_id is None or e.run_id == run_id]
        return events[-1:] if last_only else events

    def last_applied(self) -> Mapping[str, Resource]:
        return dict(self.applied)

    def record_step(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        assert expected == self.lineage_serial(), "a step recorded against a stale state"
        for change in changes:
            if change.after is None:
                self.applied.pop(change.address, None)
            else:
                self.applied[change.address] = change.after
        last = self.events[-1] if self.events else None
        events = seal(
            audit_drafts,
            last.hash if last else GENESIS,
            last.seq + 1 if last else 1,
            chain_key,
            "lineage-1",
        )
        self.events += events
        self.serial += 1
        return events

    def close(self) -> None:
        pass


def resource(address: str, **attrs: Any) -> Resource:
    kind, name = address.split(".", 1)
    workspace = {"factory": None, "workspace": name}.get(kind, name.split("/")[0])
    return Resource(address, kind, workspace, attrs)


DESIRED = {
    r.address: r
    for r in (
        resource("config.prod/chat", factory="gw", description="chat", secrets={}),
        resource("workspace.prod", labels={}),
        resource("factory.gw", api_base="https://gw.example/v1"),
    )
}


def plan_for(backend: Backend, desired: Mapping[str, Resource]) -> Plan:
    """The plan of ``desired`` against ``backend``, as ``engine.plan.plan_prepared`` makes
    it: with the drift of a target that keeps no state of its own."""
    current = backend.read()
    return build_plan(
        desired,
        current.resources,
        store_url=backend.display_url,
        lineage=current.lineage,
        serial=current.serial,
        fingerprints={},
        last_applied=current.last_applied,
    )
