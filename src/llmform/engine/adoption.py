"""Adoption: what a target holds that llmform did not make, taken over by declaring it.

A target offers such resources as ``adoptable`` (``targets.base.Adoptable``: MLflow's
hand-made gateway objects in llmform's shape of a config, ``targets/mlflow/adoption.py``).
Until the configuration declares one at its address it is unmanaged like anything else there,
and left alone. Declared, it is adopted when the plan changes it in place without taking any
of it away: no replace, no model dropped, not disabled. The plan then diffs against it like
any managed resource (for MLflow: only the keys, whose values cannot be read back), apply
takes it over, and the state records it. A declaration that would take something away adopts
nothing: the resource stays unmanaged, and the plan says it is left alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from ..core.diff import field_changes
from ..core.plan import Plan
from ..core.resources import REPLACE_FIELDS, Resource
from ..targets.base import StoreState


def adopt(state: StoreState, desired: Mapping[str, Resource]) -> StoreState:
    """``state`` with each adoptable resource that ``desired`` declares and takes over moved
    from the unmanaged (its own address and its objects') to the managed."""
    resources, unmanaged = dict(state.resources), dict(state.unmanaged)
    for address, offer in sorted(state.adoptable.items()):
        wanted = desired.get(address)
        if wanted is None or address in resources:
            continue
        if not takes_over(offer.resource, wanted):
            unmanaged[address] = offer.resource
            continue
        resources[address] = offer.resource
        for listed in (address, *offer.objects):
            unmanaged.pop(listed, None)
    return replace(state, resources=resources, unmanaged=unmanaged)


def adoption_notes(
    read: StoreState, adopted: StoreState, scope: Collection[str] = ()
) -> tuple[str, ...]:
    """What a plan says of each adoption (``adopted`` is ``adopt``'s result from ``read``) in
    the workspaces of ``scope`` (empty: all) that takes over objects: which, and that they
    keep their names."""
    notes = []
    for address in sorted(set(adopted.resources) - set(read.resources)):
        offer = read.adoptable[address]
        objects = [o.split("/", 1)[-1] for o in offer.objects]
        if objects and (not scope or offer.resource.workspace in scope):
            notes.append(
                f"{address} adopts what llmform did not make ({', '.join(objects)}): apply "
                "takes it over under its own names and manages it from then on"
            )
    return tuple(notes)


def adopt_planned(state: StoreState, plan: Plan) -> StoreState:
    """``adopt`` for a saved plan: what its changes declare."""
    return adopt(state, {c.address: c.after for c in plan.changes if c.after is not None})


def takes_over(found: Resource, wanted: Resource) -> bool:
    """Whether declaring ``wanted`` adopts ``found`` without taking any of it away."""
    if found.kind != wanted.kind:
        return False
    changed = {change.name for change in field_changes(found, wanted)[0]}
    if changed & REPLACE_FIELDS[found.kind]:
        return False
    if found.kind != "config":
        return True
    models = {model["name"] for model in found.attrs.get("models", [])}
    kept = {model["name"] for model in wanted.attrs.get("models", [])}
    return bool(wanted.attrs.get("enabled", True)) and models <= kept


def with_adoptable(state: StoreState) -> dict[str, Resource]:
    """Every resource an export writes: the managed, and those offered for adoption."""
    offered = {a: offer.resource for a, offer in state.adoptable.items()}
    return {**offered, **state.resources}
