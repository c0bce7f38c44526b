"""What a key check is asked to check: one target per config, its keys in rotation order.

Built from the desired state and the resolved secrets by ``targets_for``; plain frozen records,
so a caller (or a test) can also build them by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .model import Config, DesiredState, SecretRef
from .resources import secret_slots
from .secrets.base import SecretValue


@dataclass(frozen=True)
class KeySlot:
    """One key of a config: where it sits (``api_key``, ``backup_keys[0]``) and its value."""

    slot: str
    position: int
    value: SecretValue | None
    fingerprint: str  # "" for a config without a key


@dataclass(frozen=True)
class CheckTarget:
    """What is checked for one config. ``secrets`` are the provider-specific secret options
    (Bedrock's ``api_secret``); ``secret_fingerprints`` make them part of a check's identity."""

    address: str
    provider_type: str
    api_base: str | None
    keys: tuple[KeySlot, ...]
    models: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretValue] = field(default_factory=dict)
    secret_fingerprints: tuple[str, ...] = ()
    # a reference that did not resolve: reported per key as an error, never sent
    unresolved: tuple[str, ...] = ()


def targets_for(
    state: DesiredState,
    values: Mapping[SecretRef, SecretValue],
    fingerprints: Mapping[SecretRef, str],
    configs: Iterable[Config] | None = None,
) -> tuple[CheckTarget, ...]:
    """A target per config (default: every enabled config), from resolved secret values and
    their keyed fingerprints (as the plan computes them)."""
    chosen = [c for c in state.configs.values() if c.enabled] if configs is None else configs
    targets = []
    for config in chosen:
        slots = secret_slots(config)
        keys = tuple(
            KeySlot(slot, position, values.get(ref), fingerprints.get(ref, ""))
            for position, (slot, ref) in enumerate(
                (s, r) for s, r in slots.items() if s == "api_key" or s.startswith("backup_keys")
            )
        )
        secret_refs = dict(config.secret_options)
        targets.append(
            CheckTarget(
                address=config.address,
                provider_type=state.factories[config.factory].type,
                api_base=config.api_base,
                keys=keys,
                models=tuple(m.name for m in config.models),
                options=dict(config.options),
                secrets={n: values[r] for n, r in secret_refs.items() if r in values},
                secret_fingerprints=tuple(
                    f"{n}={fingerprints.get(r, '')}" for n, r in sorted(secret_refs.items())
                ),
                unresolved=tuple(s for s, r in slots.items() if r not in values),
            )
        )
    return tuple(targets)
