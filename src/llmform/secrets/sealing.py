"""Sealing a plan's secret values for a store that keeps them encrypted at rest.

A plan marks each config with secrets ``encrypted`` when a cipher is configured
(``resources.desired_resources(..., encrypted=True)``). Before apply, ``seal_changes`` seals the
resolved value of every slot of every such config the plan writes; the store keeps the sealed
text beside the reference (``Store.apply(..., sealed=...)``), and ``llmform.registry`` opens it
for the application.

Each value is sealed for its place, ``seal_context(address, slot)``: authenticated encryption
binds the two, so a sealed value copied onto another config or slot does not open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..core.diff import CREATE, REPLACE, UPDATE, Change
from ..desired.model import SecretRef
from .base import SecretValue
from .crypto import Cipher, CipherError
from .refs import ref_from_string

_WRITES = (CREATE, UPDATE, REPLACE)  # the actions that (re)write a config's secret rows


def seal_context(address: str, slot: str) -> str:
    """What a value is sealed for: ``config.prod/openai#api_key``."""
    return f"{address}#{slot}"


def seal_changes(
    changes: Iterable[Change], values: Mapping[SecretRef, SecretValue], cipher: Cipher
) -> dict[str, dict[str, str]]:
    """config address -> slot -> sealed value, for every config that ``changes`` create, update
    or replace and that is planned ``encrypted``; ``values`` are the resolved secrets, keyed as
    the resolver returns them.

    A reference without a value (a run that did not resolve it) is an error naming every such
    reference, before anything is sealed; it never names a value.
    """
    wanted: list[tuple[str, str, SecretRef]] = []
    missing: list[str] = []
    for change in changes:
        after = change.after
        if change.action not in _WRITES or after is None or change.kind != "config":
            continue
        if not after.attrs.get("encrypted"):
            continue
        for slot, text in after.attrs["secrets"].items():
            ref = ref_from_string(text)
            if ref in values:
                wanted.append((change.address, slot, ref))
            else:
                missing.append(f"{change.address} {slot}: {text}")
    if missing:
        raise CipherError(
            "cannot store secrets encrypted without their values; not resolved:",
            *(f"  {line}" for line in missing),
        )
    sealed: dict[str, dict[str, str]] = {}
    for address, slot, ref in wanted:
        box = cipher.encrypt(values[ref], seal_context(address, slot))
        sealed.setdefault(address, {})[slot] = box
    return sealed
