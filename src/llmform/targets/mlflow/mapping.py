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
definitions are llmform's by their name (``llmform/``: a ``/`` no llmform config name holds) or,
adopted, by the route of an endpoint tagged ``llmform.adopted``.
Everything else is unmanaged, listed at an address of its own (``config.W/endpoint:NAME``,
``config.W/secret:NAME``, ``config.W/model-definition:NAME``: a ``:`` no config name holds, so
no plan can aim a change at one) and never touched.

Adoption (``adoption``, ``objects.Owned``): a gateway made by hand has names of its own (secret
``openai-prod``, model definition ``gpt4o``, endpoint ``chat``), and applications call its
endpoints by name, so adopting it renames and recreates nothing. Each hand-made secret with the
model definitions on it and the endpoints routing to them, in a config's shape (``adoption``'s
docstring), is a candidate config named after the secret, offered as adoptable at
``config.W/NAME`` (with its workspace and its catalog factory) and written by ``llmform export``
with placeholder references for its keys; anything else hand-made is named in a warning and stays
unmanaged. A configuration declaring a candidate, and changing it in place without taking any of
it away, adopts it (``engine.adoption``): the plan diffs against the candidate, so the only
changes are the keys MLflow never returns, and apply pushes them and tags the endpoints
(``llmform.adopted`` with llmform's other tags, the mark last: an apply cut off before it leaves
the candidate as it was). From then on a config owns what its names say and what its adopted
endpoints route to: the PRIMARY's model definition and secret are its key's, the FALLBACK of
order N backup N-1's; a model added later gets llmform's names. The state's record of the
config (``last_applied``) says that this state holds it. An adopted config cannot be disabled
(its endpoints would go, and with them the route to its objects); removing it deletes them.

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
from dataclasses import replace

from ...core.resources import Resource
from ...desired.model import DesiredState
from ...errors import Diagnostic, error
from .records import Endpoint, Linkage, ModelConfig

MLFLOW_DEFAULT_WORKSPACE = "default"
AUTHOR = "llmform"  # created_by / updated_by of everything llmform writes
PREFIX = "llmform/"
MANAGED_TAG = "llmform.managed"
CONFIG_TAG = "llmform.config"
MODEL_TAG = "llmform.model"
DEFAULT_TAG = "llmform.default"
ADOPTED_TAG = "llmform.adopted"  # an endpoint llmform adopted (made by hand, kept its name)
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
