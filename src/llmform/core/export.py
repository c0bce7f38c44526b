"""The store's state as llmform YAML: how an existing registry is adopted.

Secrets are written as the references the store knows, never values. Plan on the exported
YAML shows no changes.

A stored factory equal to the built-in catalog's entry of its name is not written out: the
configs name it and the catalog provides it, so the adopted repository keeps following catalog
updates with each llmform release. One that differs is written in full, with a comment saying
so (removing it follows the catalog from then on); so is one equal to the catalog that no config
uses, since only a config pulls a catalog factory in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..catalog import builtin_factories
from ..desired.loader import API_VERSION
from ..desired.model import EnvRef, Factory
from ..secrets.refs import ref_from_string
from . import yamlout
from .resources import Resource, factory_resource


class ExportedState(Protocol):
    """What export reads of a store's state (a target's ``StoreState`` is one): the core does
    not import the targets."""

    @property
    def serial(self) -> int: ...

    @property
    def resources(self) -> Mapping[str, Resource]: ...


def _ref_yaml(text: str) -> dict[str, Any]:
    ref = ref_from_string(text)
    if isinstance(ref, EnvRef):
        return {"env": ref.name}
    out: dict[str, Any] = {"vault": f"{ref.path}#{ref.key}"}
    if ref.version is not None:
        out["version"] = ref.version
    if ref.mount is not None:
        out["mount"] = ref.mount
    return out


def _factory(resource: Resource) -> dict[str, Any]:
    a = resource.attrs
    out: dict[str, Any] = {"name": resource.name, "type": a["type"]}
    if a["api_base"] is not None:
        out["api_base"] = a["api_base"]
    if a["tags"]:
        out["tags"] = list(a["tags"])
    if a["models"]:
        out["models"] = [_model(m) for m in a["models"]]
    return out


def _model(model: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in model.items() if k != "custom"}
    types = out["type"]
    out["type"] = types[0] if len(types) == 1 else list(types)
    return out


def _workspace(resource: Resource) -> dict[str, Any]:
    a = resource.attrs
    out: dict[str, Any] = {"name": resource.name}
    if a["description"]:
        out["description"] = a["description"]
    if a["labels"]:
        out["labels"] = dict(a["labels"])
    if a["defaults"]:
        out["defaults"] = dict(a["defaults"])
    if a.get("protect"):
        out["protect"] = True
    return out


def _policy(resource: Resource) -> dict[str, Any]:
    a = resource.attrs
    out: dict[str, Any] = {"name": resource.name}
    if a["description"]:
        out["description"] = a["description"]
    applies: dict[str, Any] = {"kind": a["applies_to"]}
    if a["workspaces"]:
        applies["workspaces"] = list(a["workspaces"])
    if a["labels"]:
        applies["labels"] = dict(a["labels"])
    return out | {
        "applies_to": applies,
        "rule": a["rule"],
        "message": a["message"],
        "level": a["level"],
    }


def _config(resource: Resource, factories: dict[str, Resource]) -> dict[str, Any]:
    a = resource.attrs
    workspace, name = resource.name.split("/", 1)
    out: dict[str, Any] = {"name": name, "workspace": workspace, "factory": a["factory"]}
    if a["description"]:
        out["description"] = a["description"]
    factory = factories.get(f"factory.{a['factory']}")
    if a["api_base"] is not None and (
        factory is None or factory.attrs["api_base"] != a["api_base"]
    ):
        out["api_base"] = a["api_base"]
    secrets = dict(a["secrets"])
    if "api_key" in secrets:
        out["api_key"] = _ref_yaml(secrets.pop("api_key"))
    backups = sorted(
        (int(slot[len("backup_keys[") : -1]), ref)
        for slot, ref in secrets.items()
        if slot.startswith("backup_keys[")
    )
    if backups:
        out["backup_keys"] = [_ref_yaml(ref) for _, ref in backups]
    for slot, ref in secrets.items():
        if not slot.startswith("backup_keys["):
            out[slot] = _ref_yaml(ref)
    out.update(a["options"])
    out["models"] = [_model(m) if m.get("custom") else m["name"] for m in a["models"]]
    if not a["enabled"]:
        out["enabled"] = False
    if a.get("protect"):
        out["protect"] = True
    return out


def _catalog_note(resource: Resource, catalog: Mapping[str, Factory], used: set[str]) -> str | None:
    """None: leave the factory to the catalog. Otherwise the comment above its entry ("" for
    none)."""
    entry = catalog.get(resource.name)
    if entry is None:
        return ""
    if factory_resource(entry).attrs != resource.attrs:
        return (
            f"differs from llmform's built-in catalog entry {resource.name!r} (an older "
            "release's, or edited);\nremove this entry to follow the catalog"
        )
    if resource.name not in used:
        return (
            f"the built-in catalog's {resource.name!r}, unchanged: declared because no config "
            "uses it\n(a config naming it would pull it in from the catalog)"
        )
    return None


def _dump(value: Any) -> str:
    return yamlout.dump(value, width=100)


def export_yaml(
    state: ExportedState, catalog: Mapping[str, Factory] | None = None, note: str = ""
) -> str:
    """The managed resources of ``state`` as one llmform YAML document; ``catalog`` (default:
    the built-in one) decides which factories are left to the catalog; ``note``: comment lines
    under the first."""
    declared, rest = _sections(state, catalog)
    parts = [
        f"# Exported by llmform from the store (serial {state.serial}).\n",
        *(f"# {line}\n" for line in note.splitlines()),
        _dump({"apiVersion": API_VERSION}),
    ]
    if declared:
        # one entry at a time, so that a comment can stand above it
        parts.append("factories:\n")
        for resource, note in declared:
            parts += [f"# {line}\n" for line in note.splitlines()]
            parts.append(_dump([_factory(resource)]))
    if rest:
        parts.append(_dump(rest))
    return "".join(parts)


def export_document(
    state: ExportedState, catalog: Mapping[str, Factory] | None = None
) -> dict[str, Any]:
    """What ``export_yaml`` writes, as the llmform document it parses to (no comments)."""
    declared, rest = _sections(state, catalog)
    document: dict[str, Any] = {"apiVersion": API_VERSION}
    if declared:
        document["factories"] = [_factory(resource) for resource, _ in declared]
    return document | rest


def _sections(
    state: ExportedState, catalog: Mapping[str, Factory] | None
) -> tuple[list[tuple[Resource, str]], dict[str, Any]]:
    """The factories to declare (each with the comment above it) and the other sections."""
    if catalog is None:
        catalog = builtin_factories()
    by_kind: dict[str, dict[str, Resource]] = {
        "factory": {},
        "workspace": {},
        "config": {},
        "policy": {},
    }
    for address, resource in sorted(state.resources.items()):
        by_kind[resource.kind][address] = resource
    used = {str(r.attrs["factory"]) for r in by_kind["config"].values()}
    declared = [
        (resource, note)
        for resource in by_kind["factory"].values()
        if (note := _catalog_note(resource, catalog, used)) is not None
    ]
    rest: dict[str, Any] = {}
    if by_kind["workspace"]:
        rest["workspaces"] = [_workspace(r) for r in by_kind["workspace"].values()]
    if by_kind["config"]:
        rest["configs"] = [_config(r, by_kind["factory"]) for r in by_kind["config"].values()]
    if by_kind["policy"]:
        rest["policies"] = [_policy(r) for r in by_kind["policy"].values()]
    return declared, rest
