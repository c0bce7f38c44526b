"""The gateway objects of a workspace as llmform reads them: which belong to which config
(``Owned``: named by llmform, or adopted), what is left unmanaged, and the llmform resources
(``core.resources``' normal form) rebuilt from them. Pure; the names and tags are ``mapping``'s,
the I/O is the target's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from ...core.resources import JSON, Resource
from .mapping import (
    ADOPTED_TAG,
    AUTHOR,
    CONFIG_TAG,
    DEFAULT_TAG,
    MODEL_TAG,
    PRIMARY_SLOT,
    changed_outside_marker,
    key_slots,
    managed_endpoint,
    option_slots,
    options_of,
    route,
    same_route,
    split_model_definition_name,
    split_secret_name,
)
from .records import Endpoint, Linkage, ModelConfig, ModelDefinition, Secret


@dataclass(frozen=True)
class Owned:
    """The gateway objects of one config: its secrets by key slot, its model definitions by
    (model, slot), its endpoints by model. Named by llmform, or adopted (``adoption``)."""

    secrets: Mapping[str, Secret] = field(default_factory=dict)
    model_definitions: Mapping[tuple[str, str], ModelDefinition] = field(default_factory=dict)
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.secrets or self.model_definitions or self.endpoints)

    def ids(self) -> set[str]:
        return (
            {s.secret_id for s in self.secrets.values()}
            | {md.model_definition_id for md in self.model_definitions.values()}
            | {e.endpoint_id for e in self.endpoints.values()}
        )

    def adopted(self) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.tags.get(ADOPTED_TAG) == "true"]


def slot_of(config: ModelConfig) -> str:
    """The key slot a model config of an endpoint routes to: the primary's, or backup N-1's
    for the FALLBACK with ``fallback_order`` N."""
    if config.linkage == Linkage.PRIMARY:
        return PRIMARY_SLOT
    return f"backup_keys[{max((config.fallback_order or 1) - 1, 0)}]"


@dataclass(frozen=True)
class WorkspaceObjects:
    """What one MLflow workspace holds, as the three listings returned it."""

    secrets: tuple[Secret, ...]
    model_definitions: tuple[ModelDefinition, ...]
    endpoints: tuple[Endpoint, ...]

    def config_names(self) -> list[str]:
        """The configs llmform made (its named secrets) or adopted (tagged endpoints)."""
        names = {n[0] for s in self.secrets if (n := split_secret_name(s.name)) is not None}
        names |= {e.tags[CONFIG_TAG] for e in self._adopted_endpoints() if CONFIG_TAG in e.tags}
        return sorted(names)

    def _adopted_endpoints(self) -> list[Endpoint]:
        return [
            e for e in self.endpoints if managed_endpoint(e) and e.tags.get(ADOPTED_TAG) == "true"
        ]

    def secret(self, name: str) -> Secret | None:
        return next((s for s in self.secrets if s.name == name), None)

    def model_definition(self, name: str) -> ModelDefinition | None:
        return next((m for m in self.model_definitions if m.name == name), None)

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)

    def owned(self, config: str) -> Owned:
        """``config``'s objects: those named after it, and the hand-made ones its adopted
        endpoints (tagged ``llmform.adopted``) route to, with their secrets; a name wins
        over a route."""
        return self._owners.get(config) or Owned()

    @cached_property
    def _owners(self) -> dict[str, Owned]:
        """Every config's objects, found in one pass over each listing (a plan reads each
        config's, and a gateway may hold hundreds)."""
        secrets: dict[str, dict[str, Secret]] = defaultdict(dict)
        definitions: dict[str, dict[tuple[str, str], ModelDefinition]] = defaultdict(dict)
        endpoints: dict[str, dict[str, Endpoint]] = defaultdict(dict)
        for secret in self.secrets:
            parts = split_secret_name(secret.name)
            if parts is not None:
                secrets[parts[0]][parts[1]] = secret
        for md in self.model_definitions:
            md_parts = split_model_definition_name(md.name)
            if md_parts is not None:
                definitions[md_parts[0]][md_parts[1:]] = md
        for endpoint in self.endpoints:
            tags = endpoint.tags
            if managed_endpoint(endpoint) and CONFIG_TAG in tags and MODEL_TAG in tags:
                endpoints[tags[CONFIG_TAG]].setdefault(tags[MODEL_TAG], endpoint)
        by_id = {md.model_definition_id: md for md in self.model_definitions}
        secret_by_id = {s.secret_id: s for s in self.secrets}
        for config, by_model in endpoints.items():
            for model, endpoint in by_model.items():
                if endpoint.tags.get(ADOPTED_TAG) != "true":
                    continue
                for link in endpoint.model_configs:
                    routed = by_id.get(link.model_definition_id)
                    if routed is None or split_model_definition_name(routed.name) is not None:
                        continue
                    slot = slot_of(link)
                    definitions[config].setdefault((model, slot), routed)
                    held = secret_by_id.get(routed.secret_id)
                    if held is not None and split_secret_name(held.name) is None:
                        secrets[config].setdefault(slot, held)
        names = set(secrets) | set(definitions) | set(endpoints)
        return {
            name: Owned(secrets.get(name, {}), definitions.get(name, {}), endpoints.get(name, {}))
            for name in names
        }

    def route_ids(self, config: str, model: str, owned: Owned | None = None) -> list[str]:
        """The model definitions of ``config``'s ``model``: the primary's first, then the
        backups' in order; none without the primary's."""
        owned = owned if owned is not None else self.owned(config)
        found = {
            slot: md.model_definition_id
            for (name, slot), md in owned.model_definitions.items()
            if name == model
        }
        if PRIMARY_SLOT not in found:
            return []
        return [found[slot] for slot in key_slots(list(found))]

    def served(self, config: str, model: str, owned: Owned | None = None) -> bool:
        """Whether ``config``'s endpoint for ``model``, tagged as such, routes to its model
        definitions."""
        owned = owned if owned is not None else self.owned(config)
        ids = self.route_ids(config, model, owned)
        endpoint = owned.endpoints.get(model)
        return (
            bool(ids)
            and endpoint is not None
            and (endpoint.tags.get(CONFIG_TAG), endpoint.tags.get(MODEL_TAG)) == (config, model)
            and same_route(endpoint.model_configs, route(ids[0], ids[1:]))
        )

    def config_endpoints(self, config: str) -> list[Endpoint]:
        return [
            e for e in self.endpoints if managed_endpoint(e) and e.tags.get(CONFIG_TAG) == config
        ]

    def default_endpoints(self) -> list[Endpoint]:
        return [e for e in self.endpoints if managed_endpoint(e) and DEFAULT_TAG in e.tags]

    @cached_property
    def owned_ids(self) -> set[str]:
        """Every object some config holds (by name or adoption), and llmform's endpoints."""
        ids = {e.endpoint_id for e in self.endpoints if managed_endpoint(e)}
        for config in self.config_names():
            ids |= self.owned(config).ids()
        return ids

    def unmanaged(self, workspace: str) -> dict[str, Resource]:
        found: dict[str, Resource] = {}
        ours = self.owned_ids

        def put(kind: str, name: str, attrs: dict[str, JSON]) -> None:
            address = unmanaged_address(workspace, kind, name)
            found[address] = Resource(address, "config", workspace, attrs)

        for s in self.secrets:
            if split_secret_name(s.name) is None and s.secret_id not in ours:
                put("secret", s.name, {"provider": s.provider, **dict(s.auth_config)})
        for md in self.model_definitions:
            named = split_model_definition_name(md.name) is not None
            if not named and md.model_definition_id not in ours:
                put("model-definition", md.name, {"provider": md.provider, "model": md.model_name})
        for e in self.endpoints:
            if not managed_endpoint(e):
                put("endpoint", e.name, {"models": len(e.model_configs)})
        return found


def unmanaged_address(workspace: str, kind: str, name: str) -> str:
    """Where a hand-made object is listed: ``config.W/KIND:NAME`` (a ``:`` no config name
    holds, so no plan can aim a change at one)."""
    return f"config.{workspace}/{kind}:{name}"


def config_resource(
    workspace: str,
    config: str,
    objects: WorkspaceObjects,
    last: Resource | None,
    pushed_api_base: str | None,
) -> Resource:
    """Config ``workspace/config`` rebuilt from the gateway: api_base, models, enabled and the
    keys' fingerprints and options from MLflow; what MLflow has no place for (factory,
    description, the secrets' references, protect, encrypted) from ``last`` (the state's record of
    what was applied; without one, empty, so a plan shows them)."""
    address = f"config.{workspace}/{config}"
    last_attrs: Mapping[str, JSON] = last.attrs if last is not None else {}
    owned = objects.owned(config)
    primary = owned.secrets.get(PRIMARY_SLOT)
    gateway_base = primary.auth_config.get("api_base") if primary is not None else None
    api_base = last_attrs.get("api_base") if gateway_base == pushed_api_base else gateway_base
    known_models = {m["name"]: m for m in last_attrs.get("models", [])}
    # a model counts when its model definition serves it with the config's key, and, while
    # the config is enabled, when its endpoint routes to it: one changed or deleted in MLflow
    # reads as missing, and apply puts it back. Enabled: as applied (a config whose only
    # endpoint was deleted is not disabled); without a record, whether it has endpoints.
    names = sorted(
        model
        for (model, slot), md in owned.model_definitions.items()
        if slot == PRIMARY_SLOT
        and md.model_name == model
        and primary is not None
        and md.secret_id == primary.secret_id
    )
    enabled = last_attrs.get("enabled", bool(owned.endpoints) or not names)
    if enabled:
        names = [name for name in names if objects.served(config, name, owned)]
    models = [known_models.get(name, {"name": name}) for name in names]
    refs: Mapping[str, str] = last_attrs.get("secrets", {})
    attrs: dict[str, JSON] = {
        "factory": last_attrs.get("factory", primary.provider if primary else ""),
        "api_base": api_base,
        "enabled": enabled,
        "description": last_attrs.get("description", ""),
        "models": models,
        "options": options_of(primary.auth_config) if primary else {},
        "secrets": dict(refs),
    }
    for flag in ("encrypted", "protect"):
        if last_attrs.get(flag):
            attrs[flag] = True
    recorded = last.secrets if last is not None else {}
    return Resource(address, "config", workspace, attrs, fingerprints(refs, owned, recorded))


def fingerprints(
    refs: Mapping[str, str], owned: Owned, recorded: Mapping[str, str]
) -> dict[str, str]:
    """The fingerprint of each slot's value: the one ``recorded`` while llmform wrote the
    secret last, else a marker of its mask (changed outside llmform)."""
    found: dict[str, str] = {}
    for slot in refs:
        option = slot in option_slots([slot])
        secret = owned.secrets.get(PRIMARY_SLOT if option else slot)
        field = slot if option else PRIMARY_SLOT
        if secret is None or field not in secret.masked_values:
            continue  # not there: the plan shows the value as to be set
        if secret.last_updated_by == AUTHOR and slot in recorded:
            found[slot] = recorded[slot]
        else:
            found[slot] = changed_outside_marker(secret.masked_values[field])
    return found


def defaults_of(objects: WorkspaceObjects) -> dict[str, str]:
    """A workspace's defaults as its ``default-TYPE`` endpoints route them (``C/M``)."""
    serving: dict[str, str] = {}
    for config in objects.config_names():
        for (model, slot), md in objects.owned(config).model_definitions.items():
            if slot == PRIMARY_SLOT:
                serving[md.model_definition_id] = f"{config}/{model}"
    defaults: dict[str, str] = {}
    for endpoint in objects.default_endpoints():
        primaries = [
            c.model_definition_id for c in endpoint.model_configs if c.linkage == "PRIMARY"
        ]
        target = serving.get(primaries[0]) if primaries else None
        if target is not None:
            defaults[endpoint.tags[DEFAULT_TAG]] = target
    return dict(sorted(defaults.items()))
