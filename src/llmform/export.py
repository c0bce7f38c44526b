"""The store's state as llmform YAML: how an existing registry is adopted.

Secrets are written as the references the store knows, never values. Plan on the exported
YAML shows no changes.
"""

from __future__ import annotations

from typing import Any

import yaml

from .loader import API_VERSION
from .model import EnvRef
from .resources import Resource
from .secrets.refs import ref_from_string
from .stores.base import StoreState


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


def export_yaml(state: StoreState) -> str:
    """The managed resources of ``state`` as one llmform YAML document."""
    by_kind: dict[str, dict[str, Resource]] = {"factory": {}, "workspace": {}, "config": {}}
    for address, resource in sorted(state.resources.items()):
        by_kind[resource.kind][address] = resource
    document: dict[str, Any] = {"apiVersion": API_VERSION}
    if by_kind["factory"]:
        document["factories"] = [_factory(r) for r in by_kind["factory"].values()]
    if by_kind["workspace"]:
        document["workspaces"] = [_workspace(r) for r in by_kind["workspace"].values()]
    if by_kind["config"]:
        document["configs"] = [_config(r, by_kind["factory"]) for r in by_kind["config"].values()]
    header = f"# Exported by llmform from the store (serial {state.serial}).\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
