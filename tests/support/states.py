"""Hypothesis strategies for random llmform desired states, written as real YAML files.

A generated state is valid by construction (every reference resolves, defaults point at enabled
models of the right type), so a property test that fails on one has found a bug in plan or apply,
not in the generator. States mix catalog factories (OpenAI, DeepSeek, Ollama), declared custom
factories (one of which may replace the catalog's OpenAI), env secret references shared between
configs, labels, descriptions in any printable text, custom models and workspace defaults.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from llmform.catalog import builtin_factories
from llmform.desired.model import MODEL_TYPES

CATALOG_NAMES = ("OpenAI", "DeepSeek", "Ollama")
DECLARED_NAMES = ("Acme AI", "Zeta (beta)", "302.AI", "OpenAI")
DECLARED_TYPES = ("openai-compatible", "openai", "deepseek", "ollama")
KEYLESS_TYPES = frozenset({"openai-compatible", "ollama"})
WORKSPACE_NAMES = ("prod", "dev", "staging", "team-a", "x.y_1")
CONFIG_NAMES = ("main", "backup", "local", "c-1")
MODEL_NAMES = ("m-small", "m-large", "embed.v1", "rerank_x", "vision-2")
CUSTOM_MODEL_NAMES = ("my-finetune", "tuned.v2", "gpt-4o")  # gpt-4o: clashes with a catalog name
ENV_NAMES = tuple(f"LLMFORM_PT_KEY_{i}" for i in range(4))
TAGS = ("LLM", "TEXT EMBEDDING", "TTS", "RERANK", "IMAGE2TEXT")
API_BASES = ("https://proxy.example.com/v1", "http://127.0.0.1:8000/v1", "https://x.example/")

# Free text as people type it, any script; no control characters (YAML cannot carry them
# unescaped) and no surrogates (not encodable).
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=16)


@dataclass(frozen=True)
class GeneratedState:
    """One llmform YAML document and the environment its ``{env: NAME}`` references read."""

    document: Mapping[str, Any]
    env: Mapping[str, str]

    def write(self, directory: Path) -> list[str]:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "llmform.yaml"
        path.write_text(
            yaml.safe_dump(dict(self.document), allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        return [str(path)]


@dataclass(frozen=True)
class _Factory:
    name: str
    type: str
    models: tuple[tuple[str, tuple[str, ...]], ...]  # (name, types)


def _catalog(name: str) -> _Factory:
    factory = builtin_factories()[name]
    return _Factory(name, factory.type, tuple((m.name, m.types) for m in factory.models))


@st.composite
def _model_doc(draw: st.DrawFn, names: st.SearchStrategy[str]) -> dict[str, Any]:
    types = draw(st.lists(st.sampled_from(MODEL_TYPES), min_size=1, max_size=3, unique=True))
    doc: dict[str, Any] = {"name": draw(names), "type": types[0] if len(types) == 1 else types}
    max_tokens = draw(st.none() | st.integers(0, 2_000_000))
    if max_tokens is not None:
        doc["max_tokens"] = max_tokens
    tools = draw(st.none() | st.booleans())
    if tools is not None:
        doc["tools"] = tools
    return doc


@st.composite
def _declared_factory(draw: st.DrawFn, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": name, "type": draw(st.sampled_from(DECLARED_TYPES))}
    doc["api_base"] = draw(st.sampled_from(API_BASES))
    tags = draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=3))
    if tags:
        doc["tags"] = tags
    models = draw(
        st.lists(
            _model_doc(st.sampled_from(MODEL_NAMES)), max_size=3, unique_by=lambda m: m["name"]
        )
    )
    if models:
        doc["models"] = models
    return doc


def _types_of(doc: Mapping[str, Any]) -> tuple[str, ...]:
    kind = doc["type"]
    return (kind,) if isinstance(kind, str) else tuple(kind)


def _maybe_protect(draw: st.DrawFn, doc: dict[str, Any], protect: bool) -> None:
    """``protect: true`` or ``false`` written out, or left to its default."""
    flag = draw(st.none() | st.booleans()) if protect else None
    if flag is not None:
        doc["protect"] = flag


@st.composite
def _config(
    draw: st.DrawFn,
    workspace: str,
    name: str,
    factories: Mapping[str, _Factory],
    protect: bool = False,
) -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    """A config document and its enabled models (name -> types), for the defaults."""
    factory = factories[draw(st.sampled_from(sorted(factories)))]
    doc: dict[str, Any] = {"name": name, "workspace": workspace, "factory": factory.name}
    enabled: dict[str, tuple[str, ...]] = {}
    if factory.models:
        picked = draw(st.lists(st.sampled_from(factory.models), unique=True, max_size=3))
        enabled.update(picked)
    custom = draw(
        st.lists(
            _model_doc(st.sampled_from(CUSTOM_MODEL_NAMES)),
            max_size=2,
            unique_by=lambda m: m["name"],
        ).filter(lambda ms: not any(m["name"] in enabled for m in ms))
    )
    models: list[Any] = list(enabled)
    for model in custom:
        models.append(model)
        enabled[model["name"]] = _types_of(model)
    if models or draw(st.booleans()):
        doc["models"] = draw(st.permutations(models))
    env = st.sampled_from(ENV_NAMES).map(lambda n: {"env": n})
    if factory.type not in KEYLESS_TYPES or draw(st.booleans()):
        doc["api_key"] = draw(env)
        backups = draw(st.lists(env, max_size=2))
        if backups:
            doc["backup_keys"] = backups
    if draw(st.booleans()):
        doc["api_base"] = draw(st.sampled_from(API_BASES))
    enabled_flag = draw(st.none() | st.booleans())
    if enabled_flag is not None:
        doc["enabled"] = enabled_flag
    description = draw(st.none() | TEXT)
    if description is not None:
        doc["description"] = description
    _maybe_protect(draw, doc, protect)
    return doc, enabled


@st.composite
def desired_states(draw: st.DrawFn, protect: bool = False) -> GeneratedState:
    """``protect``: workspaces and configs may carry ``protect: true/false`` (a state applied
    over one with protected resources may then be refused, so only a state applied last should
    use it)."""
    declared_names = draw(st.lists(st.sampled_from(DECLARED_NAMES), unique=True, max_size=2))
    declared = [draw(_declared_factory(name)) for name in declared_names]
    factories = {name: _catalog(name) for name in CATALOG_NAMES}
    for doc in declared:  # a declared factory replaces the catalog entry of the same name
        models = tuple((m["name"], _types_of(m)) for m in doc.get("models", []))
        factories[doc["name"]] = _Factory(doc["name"], doc["type"], models)

    workspaces: list[dict[str, Any]] = []
    configs: list[dict[str, Any]] = []
    for ws in draw(st.lists(st.sampled_from(WORKSPACE_NAMES), unique=True, min_size=1, max_size=3)):
        ws_doc: dict[str, Any] = {"name": ws}
        description = draw(st.none() | TEXT)
        if description is not None:
            ws_doc["description"] = description
        labels = draw(st.dictionaries(st.text(string.ascii_lowercase + ".-/", min_size=1), TEXT))
        if labels:
            ws_doc["labels"] = labels
        _maybe_protect(draw, ws_doc, protect)
        enabled_by_config: dict[str, dict[str, tuple[str, ...]]] = {}
        for name in draw(
            st.lists(st.sampled_from(CONFIG_NAMES), unique=True, min_size=1, max_size=3)
        ):
            doc, enabled = draw(_config(ws, name, factories, protect))
            configs.append(doc)
            enabled_by_config[name] = enabled
        choices = [
            (kind, f"{config}/{model}")
            for config, enabled in sorted(enabled_by_config.items())
            for model, types in sorted(enabled.items())
            for kind in types
        ]
        if choices:
            defaults = dict(draw(st.lists(st.sampled_from(choices), unique_by=lambda c: c[0])))
            if defaults:
                ws_doc["defaults"] = defaults
        workspaces.append(ws_doc)

    document: dict[str, Any] = {"apiVersion": "llmform/v1"}
    if declared:
        document["factories"] = declared
    if workspaces:
        document["workspaces"] = draw(st.permutations(workspaces))
    if configs:
        document["configs"] = draw(st.permutations(configs))
    values = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=12)
    env = {name: "sk-" + draw(values) for name in ENV_NAMES}
    return GeneratedState(document, env)
