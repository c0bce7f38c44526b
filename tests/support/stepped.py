"""A stepped target in memory (a dict), for the tests of the stepped path: the engine's
(``tests/unit/test_stepped_target.py``) and the state stores' (``test_state_stores.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmform.core.diff import DELETE, Change
from llmform.core.plan import Plan, build_plan
from llmform.core.resources import Resource
from llmform.engine.backend import Backend
from llmform.errors import StoreError
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
    current = backend.read()
    return build_plan(
        desired,
        current.resources,
        store_url=backend.display_url,
        lineage=current.lineage,
        serial=current.serial,
        fingerprints={},
    )
