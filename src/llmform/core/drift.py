"""Drift: what changed in a target outside llmform since llmform last applied to it. Pure.

A target that keeps no state of its own (``targets.base.SteppedTarget``: MLflow's gateway) is
changed by others too (its UI, its API). llmform's state records what llmform applied
(``last_applied``); for each resource recorded there, what the target holds now is compared
with that record, field by field, as ``diff`` compares the configuration with the target:
Terraform's "Objects have changed outside of Terraform". A resource recorded but gone from the
target was deleted outside llmform. Objects the target holds that llmform never recorded are
not drift: the hand-made ones are listed as unmanaged, and llmform's own not yet recorded (a
change cut off mid-step) show in the plan as what is left to apply.

The registry keeps llmform's state in its own tables, in the same transaction as its
resources, so what it holds is what llmform last applied: it has no drift to report (a plan's
``drift`` is None for it, and renderers leave the section out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .diff import DELETE, UPDATE, Change, FieldChange, Scope, field_changes
from .resources import Resource


def drift_of(
    last_applied: Mapping[str, Resource],
    current: Mapping[str, Resource],
    scope: Sequence[str] = (),
) -> tuple[Change, ...]:
    """The resources of ``last_applied`` (in ``scope``: its workspaces, empty for all) that
    ``current`` (the target's managed resources now) holds otherwise: an ``update`` from the
    record to what is there, or a ``delete`` of one no longer there; by address."""
    within = Scope(frozenset(scope))
    found: list[Change] = []
    for address, recorded in sorted(last_applied.items()):
        if recorded.kind != "factory" and not within.covers(recorded):
            continue
        now = current.get(address)
        if now is None:
            found.append(Change(address, recorded.kind, recorded.workspace, DELETE, recorded, None))
            continue
        fields, unchanged = _fields(recorded, now)
        if fields:
            found.append(
                Change(address, now.kind, now.workspace, UPDATE, recorded, now, fields, unchanged)
            )
    return tuple(found)


def _fields(recorded: Resource, now: Resource) -> tuple[tuple[FieldChange, ...], int]:
    """``diff.field_changes``, and a secret value gone from the target while its reference is
    still recorded (a backup key's secret deleted by hand): a plan says it through the
    reference, which drift cannot, since the target keeps the reference as llmform recorded
    it."""
    fields, unchanged = field_changes(recorded, now)
    named = {f.name for f in fields}
    gone = [
        FieldChange(f"secrets.{slot}.value", fingerprint, None, sensitive=True)
        for slot, fingerprint in sorted(recorded.secrets.items())
        if slot not in now.secrets and f"secrets.{slot}.value" not in named
    ]
    if not gone:
        return fields, unchanged
    every = sorted((*fields, *gone), key=lambda f: f.name)
    return tuple(every), unchanged  # field_changes counted these neither way


def self_stated_note(url: str) -> str:
    """What a refresh-only plan says of a target that keeps llmform's state itself."""
    return (
        f"No drift to report: {url} keeps llmform's state itself, in the same transaction as "
        "its resources, so what it holds is what llmform last applied; llmform plan compares "
        "it with the configuration"
    )
