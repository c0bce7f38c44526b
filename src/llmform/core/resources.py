"""The normal form both sides of a diff are brought to: one ``Resource`` per address.

Desired state and store contents are compared only in this form, so normalisation lives in one
place: sets sorted, defaults filled, catalog factories materialised, secrets as (reference,
fingerprint) pairs. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..desired.model import (
    Config,
    DesiredState,
    Factory,
    KnownDigest,
    Level,
    Model,
    Policy,
    SecretRef,
    Workspace,
    frozen_map,
)

JSON = Any  # a JSON value: None, bool, int, float, str, list, dict


@dataclass(frozen=True)
class Resource:
    """One managed object. ``attrs`` are compared field by field; ``secrets`` map a slot
    (``api_key``, ``backup_keys[1]``, ``api_secret``) to the keyed fingerprint of its value."""

    address: str
    kind: str  # factory | workspace | config | policy
    workspace: str | None  # the workspace a config or workspace belongs to; None for factories
    attrs: Mapping[str, JSON]
    secrets: Mapping[str, str] = field(default_factory=dict)
    # a factory taken unchanged from the built-in catalog (no declared factory of its name):
    # how the plan shows it, never compared, so the store need not know it
    catalog: bool = field(default=False, compare=False)

    @property
    def name(self) -> str:
        return self.address.split(".", 1)[1]


def resource_digest(resource: Resource) -> str:
    """A digest of everything ``diff`` compares of ``resource`` (not ``catalog``, which is
    never compared): equal digests mean no change, so an unchanged resource is recognised
    without reading and rebuilding it. Only a shortcut: different digests (1 against 1.0, say)
    send both sides to ``diff``, which decides."""
    canonical = json.dumps(
        [resource.address, resource.kind, resource.workspace, resource.attrs, resource.secrets],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: JSON) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_string = json.encoder.encode_basestring  # a str as ``_canonical`` writes it
_REF_TEXT: dict[SecretRef, str] = {}  # str() of each reference met, JSON-encoded


def _ref_text(ref: SecretRef) -> str:
    text = _REF_TEXT.get(ref)
    if text is None:
        if len(_REF_TEXT) >= 100_000:
            _REF_TEXT.clear()
        text = _REF_TEXT[ref] = _string(str(ref))
    return text


def config_digest(
    config: Config, fingerprints: Mapping[SecretRef, str], *, encrypted: bool = False
) -> tuple[str, KnownDigest | None]:
    """``resource_digest(config_resource(config, fingerprints, encrypted=encrypted))``, written
    out without making the resource (a cold plan digests every config), and what
    ``known_digest`` makes of it (None: a secret was not read). ``test_config_digest`` holds
    the two ways equal."""
    by_slot = secret_slots(config)
    slots = sorted(by_slot.items())  # as sort_keys orders them
    models = sorted(config.models, key=lambda m: m.name)
    attrs = [
        "{",
        '"api_base":',
        "null" if config.api_base is None else _string(config.api_base),
        ',"description":',
        _string(config.description),
        ',"enabled":',
        "true" if config.enabled is True else _canonical(config.enabled),
        ',"encrypted":true' if encrypted and slots else "",
        ',"factory":',
        _string(config.factory),
        ',"models":[',
        ",".join(
            _canonical(model_attrs(m, with_custom=True))
            if m.custom
            else f'{{"name":{_string(m.name)}}}'
            for m in models
        ),
        '],"options":',
        _canonical(dict(config.options)) if config.options else "{}",
        ',"protect":true' if config.protect else "",
        ',"secrets":{',
        ",".join(f"{_string(slot)}:{_ref_text(ref)}" for slot, ref in slots),
        "}}",
    ]
    found = [(slot, fingerprints.get(ref)) for slot, ref in slots]
    secrets = ",".join(f"{_string(slot)}:{_string(f)}" for slot, f in found if f is not None)
    canonical = (
        f'[{_string(config.address)},"config",{_string(config.workspace)},'
        f"{''.join(attrs)},{{{secrets}}}]"
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    if any(f is None for _, f in found):
        return digest, None
    # the fingerprints in the order of ``secret_slots`` (``DesiredResources.known_digest``)
    in_slot_order = tuple(fingerprints[ref] for ref in by_slot.values())
    return digest, KnownDigest(encrypted and bool(slots), in_slot_order, digest)


# Boolean attributes a resource carries only when true, as the stores read them back: absent
# means false, so that turning one off diffs as ``true -> false`` (see diff.field_changes).
FLAGS: frozenset[str] = frozenset({"protect"})


def _with_protect(attrs: dict[str, JSON], protect: bool) -> dict[str, JSON]:
    if protect:
        attrs["protect"] = True
    return attrs


# Fields whose change means the object must be replaced (delete then create), not updated.
REPLACE_FIELDS: Mapping[str, frozenset[str]] = {
    "factory": frozenset({"type"}),
    "workspace": frozenset(),
    "config": frozenset({"factory"}),
    "policy": frozenset(),
}


def model_dict(
    name: str, types: Sequence[str], max_tokens: int | None, tools: bool, custom: bool = False
) -> dict[str, JSON]:
    """A model in normal form; stores rebuild models through this too, so both sides match."""
    out: dict[str, JSON] = {"name": name, "type": list(types)}
    if max_tokens is not None:
        out["max_tokens"] = max_tokens
    if tools:
        out["tools"] = True
    if custom:
        out["custom"] = True
    return out


def model_attrs(model: Model, *, with_custom: bool = False) -> dict[str, JSON]:
    return model_dict(
        model.name, model.types, model.max_tokens, model.tools, with_custom and model.custom
    )


def factory_resource(factory: Factory) -> Resource:
    return Resource(
        address=factory.address,
        kind="factory",
        workspace=None,
        attrs={
            "type": factory.type,
            "api_base": factory.api_base,
            "tags": sorted(factory.tags),
            "models": sorted((model_attrs(m) for m in factory.models), key=lambda m: m["name"]),
        },
        catalog=factory.builtin,
    )


def workspace_resource(workspace: Workspace) -> Resource:
    return Resource(
        address=workspace.address,
        kind="workspace",
        workspace=workspace.name,
        attrs=_with_protect(
            {
                "description": workspace.description,
                "labels": dict(sorted(workspace.labels.items())),
                "defaults": dict(sorted(workspace.defaults.items())),
            },
            workspace.protect,
        ),
    )


def secret_slots(config: Config) -> dict[str, SecretRef]:
    """Every secret of a config by slot name, in a stable order."""
    slots: dict[str, SecretRef] = {}
    if config.api_key is not None:
        slots["api_key"] = config.api_key
    for index, ref in enumerate(config.backup_keys):
        slots[f"backup_keys[{index}]"] = ref
    for name, ref in sorted(config.secret_options.items()):
        slots[name] = ref
    return slots


def config_resource(
    config: Config, fingerprints: Mapping[SecretRef, str], *, encrypted: bool = False
) -> Resource:
    """``fingerprints`` holds the keyed fingerprint of each resolved reference; a reference
    without one (e.g. ``--no-resolve`` runs) is compared by reference only.

    ``encrypted``: the store is to keep the values sealed (``secrets/sealing.py``). It shows as the
    attribute ``encrypted = true`` on a config with secrets, so that turning encryption on or
    off is an update of each such config, which rewrites its secret rows; the attribute is
    absent otherwise, as stores read it back."""
    slots = secret_slots(config)
    # a catalog model is named only: its details belong to the factory, so a catalog change
    # shows once on the factory rather than again on every config that enables the model
    models = [
        model_attrs(m, with_custom=True) if m.custom else {"name": m.name} for m in config.models
    ]
    attrs: dict[str, JSON] = {
        "factory": config.factory,
        "api_base": config.api_base,
        "enabled": config.enabled,
        "description": config.description,
        "models": sorted(models, key=lambda m: m["name"]),
        "options": dict(sorted(config.options.items())),
        "secrets": {slot: str(ref) for slot, ref in slots.items()},
    }
    if encrypted and slots:
        attrs["encrypted"] = True
    return Resource(
        address=config.address,
        kind="config",
        workspace=config.workspace,
        attrs=_with_protect(attrs, config.protect),
        secrets={slot: fingerprints[ref] for slot, ref in slots.items() if ref in fingerprints},
    )


def policy_resource(policy: Policy) -> Resource:
    """A policy as the store keeps it: applied like any other resource, so that the policies in
    force judge the next change (``core/policy_results.py``)."""
    return Resource(
        address=policy.address,
        kind="policy",
        workspace=None,
        attrs={
            "description": policy.description,
            "applies_to": policy.kind,
            "workspaces": list(policy.workspaces),
            "labels": dict(sorted(policy.labels.items())),
            "rule": policy.rule,
            "message": policy.message,
            "level": policy.level.value,
        },
    )


def policy_of(resource: Resource) -> Policy:
    """The policy a stored ``policy`` resource holds (its attributes checked by the store's
    reader, or by a saved plan's)."""
    a = resource.attrs
    return Policy(
        name=resource.name,
        kind=a["applies_to"],
        rule=a["rule"],
        message=a["message"],
        level=Level(a["level"]),
        description=a["description"],
        workspaces=tuple(a["workspaces"]),
        labels=frozen_map(a["labels"]),
    )


def desired_resources(
    state: DesiredState,
    fingerprints: Mapping[SecretRef, str],
    *,
    encrypted: bool = False,
    scope: Collection[str] = (),
) -> dict[str, Resource]:
    """Every resource of ``state``; ``encrypted`` as in ``config_resource``. With ``scope``
    (``-w``), only the workspaces and configs of those workspaces, beside every factory and
    policy (a scoped plan takes in the factories its configs use, and judges by every
    policy): a plan of one workspace does not build the other workspaces' resources."""
    return dict(DesiredResources(state, fingerprints, encrypted=encrypted, scope=scope))


class DesiredResources(Mapping[str, Resource]):
    """``desired_resources``, each config's resource made when asked for, and the digest an
    earlier run made of it when it still stands (``known_digest``): a plan that recognises a
    config unchanged by that digest never builds its resource."""

    def __init__(
        self,
        state: DesiredState,
        fingerprints: Mapping[SecretRef, str],
        *,
        encrypted: bool = False,
        scope: Collection[str] = (),
        earlier: Mapping[str, KnownDigest] | None = None,
    ) -> None:
        """``earlier``: digests of configs made earlier in this run (by address), checked as
        those the state came with."""
        self._state, self._fingerprints, self._encrypted = state, fingerprints, encrypted
        self._earlier = earlier or {}
        self._head: dict[str, Resource] = {}  # factories and workspaces
        for factory in state.factories.values():
            self._head[factory.address] = factory_resource(factory)
        for workspace in state.workspaces.values():
            if not scope or workspace.name in scope:
                self._head[workspace.address] = workspace_resource(workspace)
        self._configs = {
            config.address: config
            for config in state.configs.values()
            if not scope or config.workspace in scope
        }
        self._tail = {p.address: policy_resource(p) for p in state.policies.values()}

    def __getitem__(self, address: str) -> Resource:
        found = self._head.get(address) or self._tail.get(address)
        if found is not None:
            return found
        # made anew each time asked for (a plan asks once): held, 100,000 of them would be
        # most of a run's memory
        return config_resource(
            self._configs[address], self._fingerprints, encrypted=self._encrypted
        )

    def __iter__(self) -> Iterator[str]:
        yield from self._head
        yield from self._configs
        yield from self._tail

    def __len__(self) -> int:
        return len(self._head) + len(self._configs) + len(self._tail)

    def __contains__(self, address: object) -> bool:
        return address in self._head or address in self._configs or address in self._tail

    def made_as(self, other: DesiredResources) -> bool:
        """Whether these are the resources ``other`` holds: made of the same state, the same
        fingerprints (the same objects: one run's) and encryption, in the same scope."""
        return (
            self._state is other._state
            and self._fingerprints is other._fingerprints
            and self._encrypted == other._encrypted
            and self._head.keys() == other._head.keys()
            and self._configs.keys() == other._configs.keys()
        )

    def config(self, address: str) -> Config | None:
        """The config at ``address`` (None: no config of these)."""
        return self._configs.get(address)

    def config_digest(self, config: Config) -> tuple[str, KnownDigest | None]:
        """``config_digest`` of ``config`` with these fingerprints and encryption."""
        return config_digest(config, self._fingerprints, encrypted=self._encrypted)

    def known_digest(self, address: str) -> str | None:
        """The digest of the config at ``address`` as an earlier run made it
        (``DesiredState.known_digests``), when made of what this run's resource holds: the
        same encryption and the same fingerprint of each secret, every one read."""
        known = self._earlier.get(address) or self._state.known_digests.get(address)
        config = self._configs.get(address)
        if known is None or config is None:
            return None
        refs = config.keys  # in the order of ``secret_slots``
        if config.secret_options:
            refs += tuple(ref for _, ref in sorted(config.secret_options.items()))
        fingerprints = tuple(self._fingerprints.get(ref, "") for ref in refs)
        if "" in fingerprints or known.encrypted != (self._encrypted and bool(refs)):
            return None
        return known.digest if known.fingerprints == fingerprints else None


def known_digest(resource: Resource, digest: str) -> KnownDigest | None:
    """What ``DesiredResources.known_digest`` checks of a config's ``digest`` in a later run
    (None: not a config, or one with a secret not read, which is never matched by digest)."""
    if resource.kind != "config":
        return None
    slots = resource.attrs.get("secrets") or {}
    fingerprints = tuple(resource.secrets.get(slot, "") for slot in slots)
    if "" in fingerprints:
        return None
    return KnownDigest(resource.attrs.get("encrypted") is True, fingerprints, digest)
