"""Secret references whose values a plan did not read, and what a plan makes of them.

A plan reads a value only when it needs it (``secrets/reads.py``): every secret of an enabled
config; a disabled config's when the store cannot vouch for it or encryption at rest must seal
it; nothing with ``--no-secrets``.

One rule covers every value left unread: it is compared by reference only, and listed as *not
compared*. Where the store holds the same reference in the same slot, its fingerprint is
carried over into the desired resource, so the diff shows no false ``(sensitive value
changed)`` and a rewritten config keeps its good fingerprint rather than NULL. Where it does not
(a new config or reference), there is no good fingerprint to keep: the slot is written without
one, and the first plan that reads the value records it (``diff`` shows that as a change). A
later plan that reads a value compares it with the stored fingerprint as usual. Pure: resources
in, resources out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .diff import field_changes
from .resources import Resource


@dataclass(frozen=True)
class Carried:
    """The desired resources with the store's fingerprints carried over, and per config the
    slots whose value was not read, so not compared."""

    resources: dict[str, Resource]
    not_compared: dict[str, tuple[str, ...]]  # every unread slot, carried over or not


def _unread(resource: Resource) -> list[str]:
    refs = resource.attrs.get("secrets") or {}
    return [slot for slot in refs if slot not in resource.secrets]


def _same_reference(resource: Resource, stored: Resource, slots: Sequence[str]) -> list[str]:
    refs, stored_refs = resource.attrs["secrets"], stored.attrs.get("secrets") or {}
    return [slot for slot in slots if stored_refs.get(slot) == refs[slot]]


def carry_one(
    resource: Resource, stored: Resource | None, *, keep_encryption: bool = False
) -> tuple[Resource, tuple[str, ...]]:
    """``resource`` with the fingerprint of each unread slot that ``stored`` holds under the
    same reference, and every unread slot (the not-compared ones).

    ``keep_encryption``: the run could not know whether values are to be sealed (no secret
    access, so perhaps no encryption key either), so a stored ``encrypted = true`` is kept
    rather than shown as being turned off."""
    if resource.kind != "config":
        return resource, ()
    unread = tuple(_unread(resource))
    if stored is None or stored.kind != "config":
        return resource, unread
    same = _same_reference(resource, stored, unread)
    secrets = dict(resource.secrets)
    secrets.update({slot: stored.secrets[slot] for slot in same if slot in stored.secrets})
    attrs = resource.attrs
    if keep_encryption and stored.attrs.get("encrypted") and resource.attrs.get("secrets"):
        attrs = {**resource.attrs, "encrypted": True}
    if secrets == resource.secrets and attrs is resource.attrs:
        return resource, unread
    return replace(resource, attrs=attrs, secrets=secrets), unread


def carry_over(
    desired: Mapping[str, Resource],
    current: Mapping[str, Resource],
    *,
    keep_encryption: bool = False,
) -> Carried:
    """``carry_one`` for every desired resource against the store's ``current`` ones."""
    resources: dict[str, Resource] = {}
    not_compared: dict[str, tuple[str, ...]] = {}
    for address, resource in desired.items():
        carried, slots = carry_one(resource, current.get(address), keep_encryption=keep_encryption)
        resources[address] = carried
        if slots:
            not_compared[address] = slots
    return Carried(resources, not_compared)


def slots_to_read(
    resource: Resource, stored: Resource | None, *, encrypted: bool
) -> tuple[list[str], bool]:
    """The slots of a disabled config (``resource``, built without fingerprints) whose values
    the plan reads, ``stored`` being the store's resource at its address (None: the config is
    created), and whether apply seals them (so they must be read).

    Read: the slots the store cannot vouch for (no fingerprint for the same reference in the
    same slot), so that the fingerprint stored is right; with encryption at rest every slot
    once the config is written at all, since apply seals each value of a config it writes."""
    slots = list(resource.attrs.get("secrets") or {})
    if stored is None:
        return slots, encrypted and bool(slots)
    carried, _ = carry_one(resource, stored)
    if encrypted and slots and field_changes(stored, carried)[0]:
        return slots, True
    return [slot for slot in slots if slot not in carried.secrets], False
