"""How llmform's resources map onto MLflow's AI Gateway objects, and back. Pure: names, the
provider of a factory type, and the rebuilding of llmform resources (``core.resources``' normal
form) from what the gateway lists; the target (``target``) does the I/O.

The mapping:

- an llmform **workspace** is an MLflow workspace of the same name (its ``description``),
  except ``default``: MLflow's own (``reserved_workspaces``).
  MLflow workspaces have no tags: llmform recognises its own by the state's record of what it
  applied (``last_applied``); any other is listed as unmanaged. ``labels`` and ``protect`` have
  no MLflow counterpart and live in llmform's state only.
- a **factory** is no gateway object: it lives in llmform's state only. A config's factory
  chooses MLflow's ``provider`` through the factory's ``type`` (``PROVIDERS``: the OpenAI-style
  ones are ``openai`` with an ``api_base``); a factory whose type moves to another provider
  has the configs using it converged again when it is applied.
- a **config** ``W/C`` is, in MLflow workspace ``W``:
  - a secret ``llmform/C`` holding the ``api_key`` (and the config's secret options, under
    their own names: Bedrock's access-key mode is not mapped yet) with ``auth_config`` holding
    the ``api_base`` (the config's, else its factory's) and the options as the provider names
    them (``OPTION_FIELDS``), and one such secret ``llmform/C#backup_keys[N]`` per backup key;
  - per enabled model ``M``, one model definition per key: ``llmform/C/M`` on the primary
    secret, ``llmform/C/M#backup_keys[N]`` on each backup;
  - while the config is enabled, per model one endpoint ``C.M`` (characters MLflow refuses in
    an endpoint name become ``-``) that applications call: the primary model definition as
    ``PRIMARY``, each backup's as ``FALLBACK`` with ``fallback_order`` N+1 (``SEQUENTIAL``), so
    that the gateway turns to a backup key when the primary fails.
- a workspace's **defaults** (``chat: C/M``) are endpoints ``default-chat`` with the same model
  configs as ``C.M``'s.

Recognising what llmform manages: MLflow 3.17 tags endpoints only (``set-tag``); secrets and
model definitions have no tags. So endpoints carry ``llmform.managed=true`` and
``llmform.config``/``llmform.model`` (or ``llmform.default``), and secrets and model
definitions are llmform's by their name (``llmform/``: a ``/`` no llmform config name holds).
Everything else is unmanaged, listed at an address of its own (``config.W/endpoint:NAME``,
``config.W/secret:NAME``, ``config.W/model-definition:NAME``: a ``:`` no config name holds, so
no plan can aim a change at one) and never touched.

Secrets: MLflow returns values only masked. llmform writes each secret with ``created_by`` and
``updated_by`` ``llmform``; while the secret's ``last_updated_by`` is still ``llmform``, the
value is the one llmform pushed and its fingerprint is the one recorded in the state
(``last_applied``). A secret written by anyone else (MLflow's UI or API) reads as a value
changed outside llmform: a marker made from its mask (hashed, so no part of a key shows in a
plan), which no fingerprint equals, so the plan shows the change and apply pushes the value.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ...core.resources import JSON, Resource
from ...desired.model import DesiredState
from ...errors import Diagnostic, error
from .records import Endpoint, Linkage, ModelConfig, ModelDefinition, Secret

MLFLOW_DEFAULT_WORKSPACE = "default"
AUTHOR = "llmform"  # created_by / updated_by of everything llmform writes
PREFIX = "llmform/"
MANAGED_TAG = "llmform.managed"
CONFIG_TAG = "llmform.config"
MODEL_TAG = "llmform.model"
DEFAULT_TAG = "llmform.default"
PRIMARY_SLOT = "api_key"
_BACKUP = re.compile(r"backup_keys\[(\d+)\]")
_NOT_IN_ENDPOINT_NAMES = re.compile(r"[^A-Za-z0-9_.-]")

# llmform factory type -> MLflow provider; the OpenAI-style APIs are MLflow's ``openai`` at
# the config's api_base
PROVIDERS: Mapping[str, str] = {
    "openai": "openai",
    "openai-compatible": "openai",
    "bailian": "openai",
    "siliconflow": "openai",
    "deepseek": "deepseek",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "azure-openai": "azure",
    "bedrock": "bedrock",
    "ollama": "ollama",
}


# a config's options -> the provider's fields in the secret's auth_config (MLflow's
# ``provider-config``: azure's api_version, bedrock's aws_region_name)
OPTION_FIELDS: Mapping[str, str] = {"api_version": "api_version", "region": "aws_region_name"}


def reserved_workspaces(state: DesiredState) -> list[Diagnostic]:
    """MLflow's ``default`` workspace is its own: it is there before anything else, takes
    every request without a workspace header and cannot be deleted, so llmform can neither
    create it nor remove it, nor keep another repository's objects out of it."""
    workspace = state.workspaces.get(MLFLOW_DEFAULT_WORKSPACE)
    if workspace is None:
        return []
    message = (
        f"workspace {MLFLOW_DEFAULT_WORKSPACE}: MLflow reserves this name for its own default "
        "workspace, which llmform does not manage (it cannot be created or deleted, and serves "
        "every request without an X-MLFLOW-WORKSPACE header); give the workspace another name"
        f" (and its configs' workspace:), e.g. {MLFLOW_DEFAULT_WORKSPACE}-llm"
    )
    return [error(workspace.location, "", message)]


def provider_of(factory_type: str) -> str:
    return PROVIDERS.get(factory_type, factory_type)


def provider_changed(before: Resource | None, after: Resource) -> bool:
    """Whether a factory's change moves the configs using it to another MLflow provider."""
    if before is None:
        return False
    return provider_of(str(before.attrs.get("type"))) != provider_of(str(after.attrs.get("type")))


def auth_config(api_base: str | None, options: Mapping[str, str]) -> dict[str, str]:
    """A secret's auth_config: the api_base llmform sends to, and the config's options."""
    fields = {OPTION_FIELDS.get(name, name): value for name, value in options.items()}
    return {**({"api_base": api_base} if api_base else {}), **dict(sorted(fields.items()))}


def options_of(auth: Mapping[str, str]) -> dict[str, str]:
    """A config's options as a secret's auth_config holds them (``auth_config``'s inverse)."""
    named = {field: name for name, field in OPTION_FIELDS.items()}
    return dict(sorted((named.get(k, k), v) for k, v in auth.items() if k != "api_base"))


def key_slots(secret_slots: Sequence[str]) -> list[str]:
    """The slots that are keys (a secret and model definitions each): primary, then backups."""
    backups = sorted((s for s in secret_slots if _BACKUP.fullmatch(s)), key=_backup_index)
    return ([PRIMARY_SLOT] if PRIMARY_SLOT in secret_slots else []) + backups


def option_slots(secret_slots: Sequence[str]) -> list[str]:
    return [s for s in secret_slots if s != PRIMARY_SLOT and not _BACKUP.fullmatch(s)]


def _backup_index(slot: str) -> int:
    match = _BACKUP.fullmatch(slot)
    return int(match.group(1)) if match else -1


def secret_name(config: str, slot: str) -> str:
    return f"{PREFIX}{config}" if slot == PRIMARY_SLOT else f"{PREFIX}{config}#{slot}"


def model_definition_name(config: str, model: str, slot: str) -> str:
    base = f"{PREFIX}{config}/{model}"
    return base if slot == PRIMARY_SLOT else f"{base}#{slot}"


def endpoint_name(config: str, model: str) -> str:
    return _NOT_IN_ENDPOINT_NAMES.sub("-", f"{config}.{model}")


def default_endpoint_name(model_type: str) -> str:
    return _NOT_IN_ENDPOINT_NAMES.sub("-", f"default-{model_type}")


def split_secret_name(name: str) -> tuple[str, str] | None:
    """(config, slot) of a secret llmform named, else None."""
    if not name.startswith(PREFIX):
        return None
    config, _, slot = name[len(PREFIX) :].partition("#")
    if "/" in config or (slot and not _BACKUP.fullmatch(slot)):
        return None
    return config, slot or PRIMARY_SLOT


def split_model_definition_name(name: str) -> tuple[str, str, str] | None:
    """(config, model, slot) of a model definition llmform named, else None."""
    if not name.startswith(PREFIX):
        return None
    config, _, rest = name[len(PREFIX) :].partition("/")
    model, _, slot = rest.rpartition("#")
    if not _BACKUP.fullmatch(slot):
        model, slot = rest, PRIMARY_SLOT
    return (config, model, slot) if config and model else None


def managed_endpoint(endpoint: Endpoint) -> bool:
    return endpoint.tags.get(MANAGED_TAG) == "true"


def route(primary: str, fallbacks: Sequence[str]) -> tuple[ModelConfig, ...]:
    """An endpoint's model configs: the primary, then each fallback in order."""
    backups = (ModelConfig(md, Linkage.FALLBACK, 1.0, n) for n, md in enumerate(fallbacks, 1))
    return (ModelConfig(primary), *backups)


def same_route(a: Sequence[ModelConfig], b: Sequence[ModelConfig]) -> bool:
    """Whether two endpoints route alike (MLflow need not list model configs in the order
    they were sent)."""

    def key(route: Sequence[ModelConfig]) -> list[tuple[str, str, int]]:
        return sorted(
            (c.model_definition_id, c.linkage.value, c.fallback_order or 0) for c in route
        )

    return key(a) == key(b)


def changed_outside_marker(mask: str) -> str:
    """The fingerprint a secret written outside llmform reads as: never a real fingerprint
    (``hmac-sha256:...``), and no part of the mask shows."""
    return "mlflow-masked:" + hashlib.sha256(mask.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class WorkspaceObjects:
    """What one MLflow workspace holds, as the three listings returned it."""

    secrets: tuple[Secret, ...]
    model_definitions: tuple[ModelDefinition, ...]
    endpoints: tuple[Endpoint, ...]

    def config_names(self) -> list[str]:
        names = {split_secret_name(s.name) for s in self.secrets}
        return sorted({n[0] for n in names if n is not None})

    def secret(self, name: str) -> Secret | None:
        return next((s for s in self.secrets if s.name == name), None)

    def model_definition(self, name: str) -> ModelDefinition | None:
        return next((m for m in self.model_definitions if m.name == name), None)

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)

    def route_ids(self, config: str, model: str) -> list[str]:
        """The model definitions of ``config``'s ``model``: the primary's first, then the
        backups' in order; none without the primary's."""
        found: dict[str, str] = {}
        for md in self.model_definitions:
            parts = split_model_definition_name(md.name)
            if parts is not None and parts[:2] == (config, model):
                found[parts[2]] = md.model_definition_id
        if PRIMARY_SLOT not in found:
            return []
        return [found[slot] for slot in key_slots(list(found))]

    def served(self, config: str, model: str) -> bool:
        """Whether ``config``'s endpoint for ``model``, tagged as such, routes to its model
        definitions."""
        ids = self.route_ids(config, model)
        endpoint = self.endpoint(endpoint_name(config, model))
        return (
            bool(ids)
            and endpoint is not None
            and managed_endpoint(endpoint)
            and (endpoint.tags.get(CONFIG_TAG), endpoint.tags.get(MODEL_TAG)) == (config, model)
            and same_route(endpoint.model_configs, route(ids[0], ids[1:]))
        )

    def config_endpoints(self, config: str) -> list[Endpoint]:
        return [
            e for e in self.endpoints if managed_endpoint(e) and e.tags.get(CONFIG_TAG) == config
        ]

    def default_endpoints(self) -> list[Endpoint]:
        return [e for e in self.endpoints if managed_endpoint(e) and DEFAULT_TAG in e.tags]

    def unmanaged(self, workspace: str) -> dict[str, Resource]:
        found: dict[str, Resource] = {}

        def put(kind: str, name: str, attrs: dict[str, JSON]) -> None:
            address = f"config.{workspace}/{kind}:{name}"
            found[address] = Resource(address, "config", workspace, attrs)

        for s in self.secrets:
            if split_secret_name(s.name) is None:
                put("secret", s.name, {"provider": s.provider, **dict(s.auth_config)})
        for m in self.model_definitions:
            if split_model_definition_name(m.name) is None:
                put("model-definition", m.name, {"provider": m.provider, "model": m.model_name})
        for e in self.endpoints:
            if not managed_endpoint(e):
                put("endpoint", e.name, {"models": len(e.model_configs)})
        return found


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
    primary = objects.secret(secret_name(config, PRIMARY_SLOT))
    gateway_base = primary.auth_config.get("api_base") if primary is not None else None
    api_base = last_attrs.get("api_base") if gateway_base == pushed_api_base else gateway_base
    known_models = {m["name"]: m for m in last_attrs.get("models", [])}
    # a model counts when its model definition serves it with the config's key, and, while
    # the config is enabled, when its endpoint routes to it: one changed or deleted in MLflow
    # reads as missing, and apply puts it back. Enabled: as applied (a config whose only
    # endpoint was deleted is not disabled); without a record, whether it has endpoints.
    names = sorted(
        {
            parts[1]
            for md in objects.model_definitions
            if (parts := split_model_definition_name(md.name)) is not None
            and parts[0] == config
            and parts[2] == PRIMARY_SLOT
            and md.model_name == parts[1]
            and primary is not None
            and md.secret_id == primary.secret_id
        }
    )
    enabled = last_attrs.get("enabled", bool(objects.config_endpoints(config)) or not names)
    if enabled:
        names = [name for name in names if objects.served(config, name)]
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
    return Resource(address, "config", workspace, attrs, _fingerprints(config, refs, objects, last))


def _fingerprints(
    config: str, refs: Mapping[str, str], objects: WorkspaceObjects, last: Resource | None
) -> dict[str, str]:
    found: dict[str, str] = {}
    recorded = last.secrets if last is not None else {}
    for slot in refs:
        holder = secret_name(config, PRIMARY_SLOT if slot in option_slots([slot]) else slot)
        field = slot if slot in option_slots([slot]) else PRIMARY_SLOT
        secret = objects.secret(holder)
        if secret is None or field not in secret.masked_values:
            continue  # not there: the plan shows the value as to be set
        if secret.last_updated_by == AUTHOR and slot in recorded:
            found[slot] = recorded[slot]
        else:
            found[slot] = changed_outside_marker(secret.masked_values[field])
    return found


def with_known_factory(config: Resource, factories: Mapping[str, Resource]) -> Resource:
    """A config llmform holds no record of in a workspace it manages (a step that stopped
    halfway) reads its MLflow provider as its factory; the one llmform factory of that
    provider (and api_base) it fits, when exactly one does, so that a plan finishes the
    config rather than replacing it."""
    provider, base = config.attrs.get("factory"), config.attrs.get("api_base")
    fits = [f for f in factories.values() if provider_of(str(f.attrs.get("type"))) == provider]
    same_base = [f for f in fits if f.attrs.get("api_base") == base]
    found = same_base if len(same_base) == 1 else fits
    if len(found) != 1:
        return config
    return replace(config, attrs={**config.attrs, "factory": found[0].name})


def defaults_of(objects: WorkspaceObjects) -> dict[str, str]:
    """A workspace's defaults as its ``default-TYPE`` endpoints route them (``C/M``)."""
    by_id = {md.model_definition_id: md.name for md in objects.model_definitions}
    defaults: dict[str, str] = {}
    for endpoint in objects.default_endpoints():
        primaries = [
            c.model_definition_id for c in endpoint.model_configs if c.linkage == "PRIMARY"
        ]
        parts = split_model_definition_name(by_id.get(primaries[0], "")) if primaries else None
        if parts is not None:
            defaults[endpoint.tags[DEFAULT_TAG]] = f"{parts[0]}/{parts[1]}"
    return dict(sorted(defaults.items()))
