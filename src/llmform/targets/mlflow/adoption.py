"""Adoption: hand-made gateway objects read as the llmform configs they amount to. Pure.

A **candidate** is a hand-made secret S with everything that hangs on it, in llmform's shape of
a config (``mapping``): the model definitions on S, each the PRIMARY of exactly one endpoint
and of nothing else, with distinct ``model_name``s; each such endpoint's FALLBACKs (orders 1..n)
serve the same model on backup secrets B1..Bn, the same chain for every endpoint, each Bi
holding nothing else, with S's provider and ``auth_config``. Its config is named after S
(characters a config name cannot hold become ``-``), at ``config.W/NAME``; its models are the
``model_name``s, its endpoints keep their names; none is made in MLflow's ``default`` workspace,
which llmform does not manage. Anything else hand-made stays unmanaged, and
``notes`` say why, naming the object; fields llmform does not represent (usage tracking,
weights, a routing strategy, an endpoint's own tags) are kept as they are, and noted too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ...catalog import builtin_factories
from ...console import printable
from ...core.resources import JSON, Resource, model_dict
from ...desired.model import Factory
from .mapping import (
    MLFLOW_DEFAULT_WORKSPACE,
    OPTION_FIELDS,
    PRIMARY_SLOT,
    PROVIDERS,
    changed_outside_marker,
    managed_endpoint,
    options_of,
)
from .mapping import split_model_definition_name as llmform_md
from .mapping import split_secret_name as llmform_secret
from .objects import Owned, WorkspaceObjects, unmanaged_address
from .records import Endpoint, Linkage, ModelDefinition, Secret

_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9._-]")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Candidate:
    """A hand-made structure that a config ``workspace/config`` of factory ``factory`` adopts."""

    workspace: str
    config: str
    factory: Factory
    owned: Owned

    @property
    def address(self) -> str:
        return f"config.{self.workspace}/{self.config}"

    @property
    def objects(self) -> tuple[str, ...]:
        """Its objects' addresses in the unmanaged listing."""
        o = self.owned
        return tuple(
            [unmanaged_address(self.workspace, "secret", s.name) for s in o.secrets.values()]
            + [
                unmanaged_address(self.workspace, "model-definition", md.name)
                for md in o.model_definitions.values()
            ]
            + [unmanaged_address(self.workspace, "endpoint", e.name) for e in o.endpoints.values()]
        )

    def reference(self, slot: str) -> str:
        """The placeholder reference export writes for a key: an environment variable named
        after the config, which the user then points at Vault."""
        stem = re.sub(r"[^A-Z0-9]", "_", self.config.upper())
        if slot == PRIMARY_SLOT:
            return f"env:MLFLOW_{stem}_API_KEY"
        return f"env:MLFLOW_{stem}_BACKUP_KEY_{int(slot[len('backup_keys[') : -1]) + 1}"

    def resource(self) -> Resource:
        """The config as export writes it: factory from the catalog, api_base when it is not
        the factory's, models by name (custom chat models when the catalog lacks them), the
        keys as placeholders whose values read as written outside llmform."""
        primary = self.owned.secrets[PRIMARY_SLOT]
        base = primary.auth_config.get("api_base")
        known = {m.name for m in self.factory.models}
        names = sorted({model for model, _ in self.owned.model_definitions})
        models: list[JSON] = [
            {"name": n} if n in known else model_dict(n, ("chat",), None, False, True)
            for n in names
        ]
        slots = sorted(self.owned.secrets, key=lambda s: (s != PRIMARY_SLOT, len(s), s))
        attrs: dict[str, JSON] = {
            "factory": self.factory.name,
            "api_base": base if base != self.factory.api_base else None,
            "enabled": True,
            "description": "",
            "models": models,
            "options": options_of(primary.auth_config),
            "secrets": {slot: self.reference(slot) for slot in slots},
        }
        values = {
            slot: changed_outside_marker(self.owned.secrets[slot].masked_values["api_key"])
            for slot in slots
        }
        return Resource(self.address, "config", self.workspace, attrs, values)


def catalog_factory(provider: str) -> Factory | None:
    """The built-in factory a hand-made secret of MLflow's ``provider`` is adopted with: the
    one whose type is the provider's own name, else the first type that maps to it."""
    types = sorted((t for t, p in PROVIDERS.items() if p == provider), key=lambda t: t != provider)
    factories = builtin_factories()
    for factory_type in types:
        for factory in sorted(factories.values(), key=lambda f: f.name):
            if factory.type == factory_type:
                return factory
    return None


def config_name(secret: str) -> str:
    return _NOT_IN_NAMES.sub("-", secret).lstrip("._-")[:64]


def candidates(workspace: str, objects: WorkspaceObjects) -> tuple[list[Candidate], list[str]]:
    """The candidates among ``workspace``'s hand-made objects, and notes naming each hand-made
    object that is not part of one (why) or has fields llmform does not represent."""
    taken = objects.owned_ids
    secrets = {
        s.secret_id: s
        for s in objects.secrets
        if llmform_secret(s.name) is None and s.secret_id not in taken
    }
    mds = {
        md.model_definition_id: md
        for md in objects.model_definitions
        if llmform_md(md.name) is None and md.model_definition_id not in taken
    }
    endpoints = [e for e in objects.endpoints if not managed_endpoint(e)]
    uses: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints:
        for link in endpoint.model_configs:
            uses.setdefault(link.model_definition_id, []).append(endpoint)
    groups: dict[str, list[Endpoint]] = {}
    why: dict[str, str] = {}
    for endpoint in endpoints:
        primaries = [c for c in endpoint.model_configs if c.linkage == Linkage.PRIMARY]
        first = mds.get(primaries[0].model_definition_id) if len(primaries) == 1 else None
        if first is None:
            why[endpoint.endpoint_id] = "it routes to other than one hand-made primary"
        else:
            groups.setdefault(first.secret_id, []).append(endpoint)
    found: list[Candidate] = []
    names = set(objects.config_names())
    for secret_id, group in sorted(groups.items(), key=lambda g: secrets[g[0]].name):
        made = _candidate(workspace, secrets, mds, uses, secrets[secret_id], group)
        if workspace == MLFLOW_DEFAULT_WORKSPACE:  # MLflow's own: llmform manages none of it
            made = "llmform does not manage MLflow's default workspace: move it to one of its own"
        if isinstance(made, str):  # the same reason for everything the group routes to
            for endpoint in group:
                why[endpoint.endpoint_id] = made
                for link in endpoint.model_configs:
                    why.setdefault(link.model_definition_id, made)
                    routed = mds.get(link.model_definition_id)
                    if routed is not None:
                        why.setdefault(routed.secret_id, made)
        elif made.config in names:
            why[secret_id] = f"its config name {made.config} is taken"
        else:
            names.add(made.config)
            found.append(made)
    return found, _notes(workspace, objects, secrets, mds, endpoints, found, why)


def _candidate(
    workspace: str,
    secrets: Mapping[str, Secret],
    mds: Mapping[str, ModelDefinition],
    uses: Mapping[str, list[Endpoint]],
    primary: Secret,
    group: list[Endpoint],
) -> Candidate | str:
    """The candidate of ``primary`` and the endpoints routing to it, or why there is none."""
    chain: tuple[str, ...] | None = None
    definitions: dict[tuple[str, str], ModelDefinition] = {}
    by_model: dict[str, Endpoint] = {}
    for endpoint in group:
        ordered = sorted(
            endpoint.model_configs,
            key=lambda c: (c.linkage != Linkage.PRIMARY, c.fallback_order or 0),
        )
        route = [mds.get(c.model_definition_id) for c in ordered]
        orders = [c.fallback_order for c in ordered[1:]]
        if None in route or orders != list(range(1, len(ordered))):
            return f"endpoint {endpoint.name} routes to objects that are not hand-made keys"
        served = [md for md in route if md is not None]
        model = served[0].model_name
        if any((md.model_name, md.provider) != (model, served[0].provider) for md in served):
            return f"endpoint {endpoint.name} falls back to another model, not another key"
        if model in by_model:
            return f"endpoints {by_model[model].name} and {endpoint.name} serve one model"
        keys = tuple(md.secret_id for md in served)
        if chain is not None and keys != chain:
            return f"endpoint {endpoint.name} falls back to other keys than the others"
        chain, by_model[model] = keys, endpoint
        for index, md in enumerate(served):
            slot = PRIMARY_SLOT if index == 0 else f"backup_keys[{index - 1}]"
            if [e.endpoint_id for e in uses.get(md.model_definition_id, [])] != [
                endpoint.endpoint_id
            ]:
                return f"model definition {md.name} is used by more than one endpoint"
            definitions[(model, slot)] = md
    assert chain is not None
    held: dict[str, Secret] = {}
    for index, secret_id in enumerate(chain):
        secret = secrets.get(secret_id)
        slot = PRIMARY_SLOT if index == 0 else f"backup_keys[{index - 1}]"
        if secret is None or secret.secret_id in {s.secret_id for s in held.values()}:
            return "its keys are not hand-made secrets of their own"
        if (secret.provider, dict(secret.auth_config)) != (
            primary.provider,
            dict(primary.auth_config),
        ):
            return f"backup secret {secret.name} has another provider or auth_config"
        if set(secret.masked_values) != {"api_key"}:
            return f"secret {secret.name} holds other values than an api_key"
        held[slot] = secret
    on_keys = {md.model_definition_id for md in mds.values() if md.secret_id in chain}
    if on_keys != {md.model_definition_id for md in definitions.values()}:
        return "a model definition on its secrets is served by no endpoint of it"
    extra = set(primary.auth_config) - {"api_base", *OPTION_FIELDS.values()}
    if extra:
        return f"auth_config {', '.join(sorted(extra))} has no llmform counterpart"
    factory = catalog_factory(primary.provider)
    name = config_name(primary.name)
    if factory is None:
        return f"provider {primary.provider} has no llmform factory"
    if not _NAME.fullmatch(name):
        return "no config name can be made of its name"
    return Candidate(workspace, name, factory, Owned(held, definitions, by_model))


def _notes(
    workspace: str,
    objects: WorkspaceObjects,
    secrets: Mapping[str, Secret],
    mds: Mapping[str, ModelDefinition],
    endpoints: list[Endpoint],
    found: list[Candidate],
    why: Mapping[str, str],
) -> list[str]:
    adopted = set().union(*(c.owned.ids() for c in found)) if found else set()
    notes: list[str] = []
    where = f"in MLflow workspace {workspace}"
    default = "no endpoint routes to it as llmform's shape of a config"
    for kind, items in (
        ("secret", [(s.secret_id, s.name) for s in secrets.values()]),
        ("model definition", [(m.model_definition_id, m.name) for m in mds.values()]),
        ("endpoint", [(e.endpoint_id, e.name) for e in endpoints]),
    ):
        for object_id, name in sorted(items, key=lambda i: i[1]):
            if object_id not in adopted:
                reason = why.get(object_id, default)
                notes.append(
                    f"{kind} {name} {where} is not exported ({reason}); it stays unmanaged"
                )
    for endpoint in endpoints:
        if endpoint.endpoint_id in adopted:
            kept = _unrepresented(endpoint)
            if kept:
                notes.append(
                    f"endpoint {endpoint.name} {where}: {'; '.join(kept)}: llmform does not "
                    "represent this and leaves it as it is"
                )
    return [printable(note) for note in notes]


def _unrepresented(endpoint: Endpoint) -> list[str]:
    kept = []
    if endpoint.usage_tracking:
        kept.append("usage tracking on")
    if endpoint.routing_strategy:
        kept.append(f"routing strategy {endpoint.routing_strategy}")
    if any(c.weight != 1.0 for c in endpoint.model_configs):
        kept.append("weights other than 1")
    if endpoint.fallback is not None and endpoint.fallback.max_attempts is not None:
        kept.append(f"at most {endpoint.fallback.max_attempts} fallback attempts")
    if endpoint.tags:
        kept.append(f"tags {', '.join(sorted(endpoint.tags))}")
    return kept
