"""The object model a policy rule sees: plain maps, lists, strings, numbers, booleans and nulls
made from the desired state's records (README: "What a rule sees"). Every field is always
present (null when not set), so a rule need not guard with ``has()`` but for a secret
reference's kind.

A rule sees three variables: ``object`` (the factory, workspace or config judged), ``workspace``
(the object's workspace; null for a factory) and ``factory`` (the config's factory, the factory
itself; null for a workspace). Secret references are shown as written in the YAML,
``{vault: "path#key", version, mount}`` or ``{env: NAME}``: a rule can tell where a key comes
from, never what it is (no value is ever resolved here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .model import Config, EnvRef, Factory, Model, SecretRef, VaultRef, Workspace

View = dict[str, Any]


def ref_view(ref: SecretRef) -> View:
    if isinstance(ref, EnvRef):
        return {"env": ref.name}
    assert isinstance(ref, VaultRef)
    view: View = {"vault": f"{ref.path}#{ref.key}"}
    if ref.version is not None:
        view["version"] = ref.version
    if ref.mount is not None:
        view["mount"] = ref.mount
    return view


def model_view(model: Model) -> View:
    return {
        "name": model.name,
        "type": model.type,
        "types": list(model.types),
        "max_tokens": model.max_tokens,
        "tools": model.tools,
        "custom": model.custom,
    }


def factory_view(factory: Factory) -> View:
    return {
        "kind": "factory",
        "address": factory.address,
        "name": factory.name,
        "type": factory.type,
        "api_base": factory.api_base,
        "tags": list(factory.tags),
        "models": [model_view(model) for model in factory.models],
        "builtin": factory.builtin,
    }


def workspace_view(workspace: Workspace) -> View:
    return {
        "kind": "workspace",
        "address": workspace.address,
        "name": workspace.name,
        "description": workspace.description,
        "labels": dict(workspace.labels),
        "defaults": dict(workspace.defaults),
        "protect": workspace.protect,
    }


def _api_base(config: Config, factory: Factory | None) -> str | None:
    if config.api_base is None and factory is not None:
        return factory.api_base
    return config.api_base


def _refs(refs: tuple[SecretRef, ...]) -> list[View]:
    return [ref_view(ref) for ref in refs]


# A config's fields: (what the rule sees, a hashable stand-in for it). Two configs with equal
# stand-ins for every field a rule reads get the same verdict from it (CEL is pure), which is
# what lets the judge evaluate a rule once per distinct input instead of once per config.
Field = tuple[Callable[[Config, "Factory | None"], Any], Callable[[Config, "Factory | None"], Any]]
CONFIG_FIELDS: dict[str, Field] = {
    "kind": (lambda c, f: "config", lambda c, f: None),
    "address": (lambda c, f: c.address, lambda c, f: c.key),
    "name": (lambda c, f: c.name, lambda c, f: c.name),
    "workspace": (lambda c, f: c.workspace, lambda c, f: c.workspace),
    "factory": (lambda c, f: c.factory, lambda c, f: c.factory),
    "api_base": (_api_base, _api_base),
    "description": (lambda c, f: c.description, lambda c, f: c.description),
    "enabled": (lambda c, f: c.enabled, lambda c, f: c.enabled),
    "models": (lambda c, f: [model_view(m) for m in c.models], lambda c, f: c.models),
    "api_key": (
        lambda c, f: None if c.api_key is None else ref_view(c.api_key),
        lambda c, f: c.api_key,
    ),
    "backup_keys": (lambda c, f: _refs(c.backup_keys), lambda c, f: c.backup_keys),
    "keys": (lambda c, f: _refs(c.keys), lambda c, f: c.keys),
    "options": (lambda c, f: dict(c.options), lambda c, f: tuple(sorted(c.options.items()))),
    "secret_options": (
        lambda c, f: {name: ref_view(ref) for name, ref in c.secret_options.items()},
        lambda c, f: tuple(sorted(c.secret_options.items(), key=lambda item: item[0])),
    ),
    "protect": (lambda c, f: c.protect, lambda c, f: c.protect),
}


def config_view(
    config: Config, factory: Factory | None, fields: Iterable[str] = CONFIG_FIELDS
) -> View:
    """The config as a rule sees it, or only ``fields`` of it (those its rules read).
    ``api_base`` is the endpoint the config uses (its own, else its factory's); ``keys`` are
    the primary key's reference then the backups'."""
    return {name: CONFIG_FIELDS[name][0](config, factory) for name in fields}


# A well-typed object of each kind, every field set: compiling a rule evaluates it on this once,
# so that a name the model lacks or an operation on the wrong types is reported where the rule
# is written, before any real object meets it.
_SAMPLE_MODEL = Model("sample-model", ("chat",), max_tokens=8192, tools=True)
_SAMPLE_FACTORY = Factory(
    "Sample", "openai", "https://api.example.com/v1", ("LLM",), (_SAMPLE_MODEL,)
)
_SAMPLE_WORKSPACE = Workspace(
    "sample", "a sample", {"team": "sample"}, {"chat": "sample-config/sample-model"}
)
_SAMPLE_CONFIG = Config(
    "sample",
    "sample-config",
    "Sample",
    "https://api.example.com/v1",
    VaultRef("secret/sample", "api_key", version=1, mount="secret"),
    (EnvRef("SAMPLE_BACKUP_KEY"),),
    (_SAMPLE_MODEL,),
    options={"region": "sample"},
)


def sample_variables(kind: str) -> dict[str, View | None]:
    """The variables a rule of ``kind`` sees, for a sample object of that kind."""
    factory = factory_view(_SAMPLE_FACTORY)
    workspace = workspace_view(_SAMPLE_WORKSPACE)
    if kind == "factory":
        return {"object": factory, "workspace": None, "factory": factory}
    if kind == "workspace":
        return {"object": workspace, "workspace": workspace, "factory": None}
    return {
        "object": config_view(_SAMPLE_CONFIG, _SAMPLE_FACTORY),
        "workspace": workspace,
        "factory": factory,
    }
