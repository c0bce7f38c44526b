"""Re-validating a saved plan against the store it is about to be applied to.

A saved plan crossed a disk (and perhaps machines) since its configuration was validated. Before
it is applied, the state the store would hold after it (what the store holds now, with the
plan's changes made) is turned back into llmform documents, one per resource, through
``export`` (the same translation as ``llmform export``), and run through the same schema and
semantic checks as YAML (``build.check_documents``). Any error on a managed resource refuses
the plan: a name the schema forbids, a value of the wrong type, an unknown factory, a config
whose workspace will not exist, a default naming a deleted config. Unmanaged rows (not
llmform's) are in the documents so that references to them resolve, but their own problems are
not the plan's.

Then each resource the plan writes must be exactly what llmform plans from its configuration
(``resources.py``), with the plan's own fingerprints (and the store's, carried over, for values
the plan did not read: ``unresolved.py``): an attribute llmform would not write, or a
fingerprint that is not the one the plan verified, is refused too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..catalog import builtin_factories
from ..console import printable
from ..core.diff import Change
from ..core.export import export_document
from ..core.plan import Plan
from ..core.resources import (
    Resource,
    config_resource,
    factory_resource,
    policy_resource,
    workspace_resource,
)
from ..core.unresolved import carry_one
from ..desired.build import check_documents
from ..desired.loader import Document, MarkedDict, MarkedList
from ..desired.model import DesiredState, SecretRef
from ..errors import Diagnostic, LlmformError, Severity
from ..secrets.refs import ref_from_string
from ..targets.base import StoreState
from ..targets.guard import same_resource

_ITEM = re.compile(r"^(?:factories|workspaces|configs|policies)\[0\]\.?")


class InvalidPlanError(LlmformError):
    """A saved plan whose changes llmform's own checks reject."""


def revalidate(plan: Plan, current: StoreState) -> None:
    """Refuse ``plan`` unless the store it leaves passes the configuration checks and every
    resource it writes is what llmform plans for it. ``current``: the store now."""
    changes = plan.actionable
    after: dict[str, Resource] = {**current.unmanaged, **current.resources}
    for change in changes:
        if change.after is None:
            after.pop(change.address, None)
        else:
            after[change.address] = change.after
    documents = [_document(address, resource) for address, resource in sorted(after.items())]
    state, diagnostics = check_documents(documents, builtin_factories())
    problems = [
        _problem(d)
        for d in diagnostics
        if d.severity is Severity.ERROR and d.location.file not in current.unmanaged
    ]
    if not problems:
        problems = _not_as_planned(changes, state, plan.fingerprints, current)
    if problems:
        raise InvalidPlanError(
            "this plan would write what llmform's checks of a configuration reject, so nothing "
            "was applied:",
            *(f"  {problem}" for problem in problems),
            "Plan again from the configuration: llmform plan -o FILE",
        )


def _document(address: str, resource: Resource) -> Document:
    """``resource`` alone as an llmform document named by its address (so that every problem
    found names the resource it is in)."""
    data = export_document(StoreState("", 0, {address: resource}))
    marked = _marked(data)
    assert isinstance(marked, MarkedDict)
    return Document(address, marked)


def _marked(value: Any) -> Any:
    """Plain JSON as the loader builds YAML (no positions: a problem is located by its path)."""
    if isinstance(value, dict):
        mapping = MarkedDict(0, 0)
        for key, item in value.items():
            mapping[key] = _marked(item)
            mapping.marks[key] = (0, 0, 0, 0)
        return mapping
    if isinstance(value, list | tuple):
        sequence = MarkedList(0, 0)
        sequence.extend(_marked(item) for item in value)
        sequence.marks = [(0, 0)] * len(sequence)
        return sequence
    return value


def _problem(diagnostic: Diagnostic) -> str:
    path = _ITEM.sub("", diagnostic.path)
    where = f"{path}: " if path else ""
    return printable(f"{diagnostic.location.file}: {where}{diagnostic.message}")


def _not_as_planned(
    changes: Sequence[Change],
    state: DesiredState,
    fingerprints: Mapping[str, str],
    current: StoreState,
) -> list[str]:
    """Each resource written, planned again from ``state`` as ``plan_prepared`` plans it: with
    the fingerprints the plan read, and the store's carried over for values it did not read."""
    by_ref = {ref_from_string(text): value for text, value in fingerprints.items()}
    problems: list[str] = []
    for change in changes:
        written = change.after
        if written is None:
            continue
        planned = _planned(state, written, by_ref)
        if planned is not None:
            planned, _ = carry_one(planned, current.resources.get(written.address))
        if planned is None:
            problems.append(f"{printable(written.address)}: not a resource llmform can write")
        elif not same_resource(planned, written):
            problems.append(
                f"{printable(written.address)}: not what llmform plans for its configuration "
                f"({', '.join(_differences(planned, written))} differ)"
            )
    return problems


def _planned(
    state: DesiredState, resource: Resource, fingerprints: Mapping[SecretRef, str]
) -> Resource | None:
    if resource.kind == "factory":
        factory = state.factories.get(resource.name)
        return None if factory is None else factory_resource(factory)
    if resource.kind == "workspace":
        workspace = state.workspaces.get(resource.name)
        return None if workspace is None else workspace_resource(workspace)
    if resource.kind == "policy":
        policy = state.policies.get(resource.name)
        return None if policy is None else policy_resource(policy)
    workspace_name, _, name = resource.name.partition("/")
    config = state.configs.get((workspace_name, name))
    if config is None:
        return None
    encrypted = resource.attrs.get("encrypted") is True
    return config_resource(config, fingerprints, encrypted=encrypted)


def _differences(planned: Resource, written: Resource) -> list[str]:
    def canonical(value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    names = sorted(
        printable(name)
        for name in planned.attrs.keys() | written.attrs.keys()
        if canonical(planned.attrs.get(name)) != canonical(written.attrs.get(name))
    )
    if canonical(planned.secrets) != canonical(written.secrets):
        names.append("secret fingerprints")
    return names or ["kind or workspace"]
