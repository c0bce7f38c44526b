"""Reading MLflow's gateway into llmform's resources: one listing per object type and
workspace, rebuilt (``objects``) with what MLflow has no place for taken from the state's record
of what llmform applied (``last_applied``), and hand-made objects in llmform's shape of a config
offered as adoptable (``adoption``), with the workspaces holding them and the catalog factories
they use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...catalog import builtin_factories
from ...core.resources import Resource, factory_resource
from ..base import Adoptable, TargetResources
from . import adoption
from . import objects as o
from .client import MlflowClient
from .mapping import with_known_factory


@dataclass(frozen=True)
class GatewayRead:
    resources: TargetResources
    factories: Mapping[str, Resource]  # by name: recorded, and catalog ones adopted configs use
    defaults: Mapping[str, Mapping[str, str]]  # recorded workspaces' defaults, by workspace


def workspace_objects(client: MlflowClient, workspace: str) -> o.WorkspaceObjects:
    return o.WorkspaceObjects(
        client.list_secrets(workspace),
        client.list_model_definitions(workspace),
        client.list_endpoints(workspace),
    )


def read_gateway(
    client: MlflowClient, last: Mapping[str, Resource], known: Mapping[str, Resource]
) -> GatewayRead:
    """The gateway as llmform reads it; ``known``: the factories the target knows already
    (recorded, or applied in this run)."""
    managed: dict[str, Resource] = {}
    unmanaged: dict[str, Resource] = {}
    adoptable: dict[str, Adoptable] = {}
    factories: dict[str, Resource] = dict(known)
    defaults: dict[str, Mapping[str, str]] = {}
    notes: list[str] = []

    def offer_factory(name: str) -> None:
        """A catalog factory an adopted config uses, which the state need not record: offered
        as adoptable (a plan that declares it, as export does, shows no change for it)."""
        address = f"factory.{name}"
        builtin = builtin_factories().get(name)
        if address not in managed and builtin is not None:
            adoptable[address] = Adoptable(factory_resource(builtin))
            factories.setdefault(name, adoptable[address].resource)

    for resource in last.values():
        if resource.kind == "factory":  # no gateway object: the state's record is all
            managed[resource.address] = resource
            factories[resource.name] = resource
    for workspace in client.list_workspaces():
        name = workspace.name
        objects = workspace_objects(client, name)
        unmanaged.update(objects.unmanaged(name))
        found, workspace_notes = adoption.candidates(name, objects)
        notes += workspace_notes
        for candidate in found:
            adoptable[candidate.address] = Adoptable(candidate.resource(), candidate.objects)
            offer_factory(candidate.factory.name)
        address = f"workspace.{name}"
        recorded = last.get(address)
        keys = [f"config.{name}/{config}" for config in objects.config_names()]
        attrs = {
            **(recorded.attrs if recorded else {"labels": {}}),
            "description": workspace.description,
            "defaults": o.defaults_of(objects),
        }
        if recorded is not None:
            defaults[name] = recorded.attrs.get("defaults", {})
        held = Resource(address, "workspace", name, attrs)
        # MLflow workspaces have no tags: ours are those we applied, and those holding a
        # config we adopted
        if recorded is not None or any(key in last for key in keys):
            managed[address] = held
        else:
            unmanaged[address] = Resource(
                address, "workspace", name, {"description": workspace.description}
            )
            if found:
                adoptable[address] = Adoptable(held)
        # llmform's objects in a workspace this state does not hold belong to another
        # repository's (another state's): listed, never touched
        for key in keys:
            ours = managed if recorded is not None or key in last else unmanaged
            if key in last:
                offer_factory(str(last[key].attrs.get("factory")))
            base = _pushed_api_base(last.get(key), factories)
            config = key.split("/", 1)[1]
            read = o.config_resource(name, config, objects, last.get(key), base)
            if recorded is not None and key not in last:  # a step that stopped halfway
                read = with_known_factory(read, factories)
            ours[key] = read
    resources = TargetResources(managed, unmanaged, adoptable, tuple(notes))
    return GatewayRead(resources, factories, defaults)


def _pushed_api_base(config: Resource | None, factories: Mapping[str, Resource]) -> str | None:
    """The api_base llmform pushed for ``config``: its own, else its factory's."""
    if config is None:
        return None
    factory = factories.get(str(config.attrs.get("factory")))
    return config.attrs.get("api_base") or (factory.attrs.get("api_base") if factory else None)
