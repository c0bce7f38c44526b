"""MLflow's AI Gateway as a target: ``--store mlflow+http://HOST:PORT[/path]`` (or
``mlflow+https://``), a ``SteppedTarget`` over the REST client (``client``).

What maps to what is ``mapping``'s docstring. This module does the I/O:

- ``read_resources(last_applied)`` lists each MLflow workspace's secrets, model definitions and
  endpoints (one request per object type per workspace) and rebuilds llmform's resources from
  them, with what MLflow has no place for taken from ``last_applied`` (the state's record).
- ``apply_change`` brings the gateway to a change's ``after`` (or removes its ``before``), in
  MLflow's order: secrets, then model definitions, then endpoints when creating; endpoints, then
  model definitions, then secrets when removing (MLflow refuses to delete a model definition an
  endpoint uses, and orphans one whose secret goes first). It converges from what the gateway
  holds now rather than from the change's ``before``, so a step that failed halfway is finished
  by the next apply. A key's value is pushed when its secret is created or its fingerprint
  changed; the values come from ``use_secrets`` (the engine hands in the resolved secrets,
  which the state never holds), revealed only into the request body (``wire``). A config
  works on the objects it owns (``objects.Owned``): llmform's names, or a hand-made gateway's
  it adopts, whose endpoints it tags and whose names it keeps (``mapping``'s docstring).

Credentials are MLflow's tracking client's (``MLFLOW_TRACKING_TOKEN``,
``MLFLOW_TRACKING_USERNAME``/``PASSWORD``), never shown: ``display_url`` has none.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import httpx

from ...core.diff import CREATE, DELETE, REPLACE, UPDATE, Change
from ...core.resources import Resource
from ...desired.model import SecretRef
from ...errors import StoreError
from ...secrets.base import SecretValue
from ..base import OpenMode, TargetResources
from . import adoption, reading
from . import mapping as m
from . import objects as o
from .client import MlflowClient
from .records import Endpoint, FallbackConfig, ModelConfig, ModelDefinition, Secret
from .wire import DEFAULT_TIMEOUT, Credentials

SCHEMES = ("mlflow+http", "mlflow+https")


def server_url(url: str) -> str:
    """The MLflow server's own URL (``http://...``) of a ``mlflow+http://...`` store URL."""
    scheme, sep, rest = url.partition("://")
    if scheme not in SCHEMES or not sep or not rest or rest.startswith("/"):
        raise StoreError(
            "an MLflow gateway store is mlflow+http://HOST:PORT[/path] or mlflow+https://..."
        )
    return f"{scheme.removeprefix('mlflow+')}://{rest}"


class MlflowTarget:
    """One MLflow server's AI Gateway (all its workspaces)."""

    exists = True  # a gateway is there or unreachable; llmform never creates the server
    created = False
    warnings: Sequence[str] = ()
    # MLflow's UI and API write the gateway too, so its api_bases are not trusted for key checks
    applied_by_trusted_runs = False
    desired_problems = staticmethod(m.reserved_workspaces)  # MLflow's ``default``

    def __init__(
        self,
        url: str,
        mode: OpenMode = OpenMode.APPLY,
        *,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.mode = mode
        creds = credentials if credentials is not None else Credentials.from_environment()
        self.client = MlflowClient(server_url(url), creds, timeout, transport)
        self.display_url = f"mlflow+{self.client.url}"
        self._values: dict[str, SecretValue] = {}
        self._factories: dict[str, Resource] = {}
        self._defaults: dict[str, Mapping[str, str]] = {}
        self._configs: dict[str, Resource] = {}  # the managed configs as last read

    def __repr__(self) -> str:
        return f"MlflowTarget({self.display_url!r})"

    def close(self) -> None:
        self.client.close()

    def use_secrets(self, values: Mapping[SecretRef, SecretValue]) -> None:
        """The resolved secrets an apply pushes (the engine's ``ResolvedSecrets.values``)."""
        self._values = {str(ref): value for ref, value in values.items()}

    # reading

    def read_resources(self, last_applied: Mapping[str, Resource] | None = None) -> TargetResources:
        """The gateway's resources (``reading``); ``last_applied`` (the state's
        ``last_applied()``) supplies what MLflow has no place for and the fingerprints of the
        values llmform pushed."""
        read = reading.read_gateway(self.client, dict(last_applied or {}), self._factories)
        self._factories.update(read.factories)
        self._defaults.update(read.defaults)
        managed = read.resources.managed
        self._configs = {a: r for a, r in managed.items() if r.kind == "config"}
        return read.resources

    def _objects(self, workspace: str) -> o.WorkspaceObjects:
        return reading.workspace_objects(self.client, workspace)

    # applying

    def apply_change(self, change: Change, sealed: Mapping[str, str] | None = None) -> None:
        """Make ``change`` in the gateway (``sealed`` is not used: MLflow keeps the values,
        encrypted under its own key)."""
        if not self.mode.writes:
            raise StoreError(f"{self.display_url} was opened read-only")
        if change.kind == "factory":  # no gateway object; the state records it
            if change.after is None:
                self._factories.pop(change.address.split(".", 1)[1], None)
            else:
                self._factories[change.after.name] = change.after
                if m.provider_changed(change.before, change.after):  # its configs follow,
                    for config in self._configs.values():  # as they are: no value pushed
                        if config.attrs.get("factory") == change.after.name:
                            self._converge_config(config, config)
            return
        if change.kind == "workspace":
            self._apply_workspace(change)
            return
        if change.action in (DELETE, REPLACE) and change.before is not None:
            self._remove_config(change.before)
        if change.action in (CREATE, UPDATE, REPLACE) and change.after is not None:
            self._converge_config(change.after, change.before if change.action == UPDATE else None)

    def _apply_workspace(self, change: Change) -> None:
        name = change.address.split(".", 1)[1]
        if change.after is None:
            objects = self._objects(name)
            held = objects.unmanaged(name)
            if held:
                raise StoreError(
                    f"MLflow workspace {name} holds objects llmform does not manage "
                    f"({', '.join(sorted(a.split('/', 1)[1] for a in held))}); llmform does "
                    "not delete it: move or delete them in MLflow first"
                )
            for endpoint in objects.default_endpoints():
                self.client.delete_endpoint(name, endpoint.endpoint_id)
            self.client.delete_workspace(name)
            self._defaults.pop(name, None)
            return
        description = str(change.after.attrs.get("description", ""))
        if change.action == CREATE:
            self.client.create_workspace(name, description)
        elif change.before is None or change.before.attrs.get("description") != description:
            self.client.update_workspace(name, description)
        self._defaults[name] = change.after.attrs.get("defaults", {})
        self._converge_defaults(name)

    def _converge_config(self, after: Resource, before: Resource | None) -> None:
        workspace, config = str(after.workspace), after.name.split("/", 1)[1]
        objects = self._objects(workspace)
        refs: Mapping[str, str] = after.attrs.get("secrets", {})
        keys, options = m.key_slots(list(refs)), m.option_slots(list(refs))
        factory = self._factories.get(str(after.attrs["factory"]))
        if factory is None:
            raise StoreError(
                f"{after.address}: its factory {after.attrs['factory']} is not known to the "
                "MLflow target (neither applied in this run nor in llmform's state)"
            )
        provider = m.provider_of(str(factory.attrs.get("type", "")))
        base = after.attrs.get("api_base") or factory.attrs.get("api_base")
        auth = m.auth_config(str(base) if base else None, after.attrs.get("options", {}))
        recorded = before.secrets if before is not None else {}
        owned, adopting = self._owned(workspace, config, objects)
        if not after.attrs.get("enabled", True) and (adopting or owned.adopted()):
            raise StoreError(
                f"{after.address}: its endpoints were adopted from hand-made MLflow objects "
                "(applications call them by name), and a disabled config has none; remove "
                "the config instead, or keep it enabled"
            )
        if not keys:
            raise StoreError(
                f"{after.address}: MLflow's gateway serves a model with a key; this config "
                "has no api_key"
            )
        pending = []  # (slot, its fields by name, the secret there, whether to push values)
        for slot in keys:
            fields = {m.PRIMARY_SLOT: slot, **{o: o for o in options}}
            existing = owned.secrets.get(slot)
            push = existing is None or any(
                after.secrets.get(s) != recorded.get(s) for s in fields.values()
            )
            pending.append((slot, fields, existing, push))
        # every value needed is at hand before the first write
        values = {slot: self._secret_values(after, refs, f) for slot, f, _, push in pending if push}
        secret_ids: dict[str, str] = {}
        for slot, _, existing, push in pending:
            secret: Secret
            if existing is None:
                secret = self.client.create_secret(
                    workspace, m.secret_name(config, slot), provider, values[slot], auth, m.AUTHOR
                )
            elif push or dict(existing.auth_config) != auth:
                secret = self.client.update_secret(
                    workspace, existing.secret_id, values.get(slot), auth, m.AUTHOR
                )
            else:
                secret = existing
            secret_ids[slot] = secret.secret_id
        models = [str(model["name"]) for model in after.attrs.get("models", [])]
        routes: dict[str, list[str]] = {}
        for model in models:
            for slot in keys:
                md_id = self._model_definition(
                    workspace,
                    owned.model_definitions.get((model, slot)),
                    m.model_definition_name(config, model, slot),
                    secret_ids[slot],
                    provider,
                    model,
                )
                routes.setdefault(model, []).append(md_id)
        enabled = bool(after.attrs.get("enabled", True))
        taken_over: list[str] = []  # adopted endpoints, to be marked llmform's at the end
        for model, ids in routes.items() if enabled else ():
            tags = {m.MANAGED_TAG: "true", m.CONFIG_TAG: config, m.MODEL_TAG: model}
            endpoint = owned.endpoints.get(model)
            takes_over = adopting and endpoint is not None
            if endpoint is None:
                endpoint = objects.endpoint(m.endpoint_name(config, model))
            elif takes_over or endpoint.tags.get(m.ADOPTED_TAG) == "true":
                tags[m.ADOPTED_TAG] = "true"
            if takes_over and endpoint is not None:
                del tags[m.MANAGED_TAG]
                taken_over.append(endpoint.endpoint_id)
            name = endpoint.name if endpoint is not None else m.endpoint_name(config, model)
            route = m.route(ids[0], ids[1:])
            self._endpoint(workspace, endpoint, name, route, tags, takes_over)
        self._remove_extras(workspace, config, set(models) if enabled else set(), models, keys)
        self._converge_defaults(workspace)
        # an adoption marks the endpoints llmform's last: cut off before, they are still the
        # hand-made objects the plan offered, and a new plan offers them again
        for endpoint_id in taken_over:
            self.client.set_endpoint_tag(workspace, endpoint_id, m.MANAGED_TAG, "true")

    def _owned(
        self, workspace: str, config: str, objects: o.WorkspaceObjects
    ) -> tuple[o.Owned, bool]:
        """``config``'s objects, and whether it is adopting them now: a config that holds none
        yet takes over the hand-made candidate of its name (``adoption``), as the plan read
        it."""
        owned = objects.owned(config)
        if owned:
            return owned, False
        found, _ = adoption.candidates(workspace, objects)
        candidate = next((c for c in found if c.config == config), None)
        return (candidate.owned, True) if candidate is not None else (owned, False)

    def _secret_values(
        self, after: Resource, refs: Mapping[str, str], fields: Mapping[str, str]
    ) -> dict[str, SecretValue]:
        missing = [slot for slot in fields.values() if refs[slot] not in self._values]
        if missing:
            raise StoreError(
                f"{after.address}: the value of {', '.join(missing)} was not handed to the "
                "MLflow target, which must push it; nothing of this config was written"
            )
        return {name: self._values[refs[slot]] for name, slot in fields.items()}

    def _model_definition(
        self,
        workspace: str,
        existing: ModelDefinition | None,
        name: str,
        secret_id: str,
        provider: str,
        model: str,
    ) -> str:
        if existing is None:
            made = self.client.create_model_definition(
                workspace, name, secret_id, provider, model, m.AUTHOR
            )
            return made.model_definition_id
        if (existing.secret_id, existing.provider, existing.model_name) != (
            secret_id,
            provider,
            model,
        ):
            self.client.update_model_definition(
                workspace,
                existing.model_definition_id,
                secret_id=secret_id,
                provider=provider,
                model_name=model,
                updated_by=m.AUTHOR,
            )
        return existing.model_definition_id

    def _endpoint(
        self,
        workspace: str,
        existing: Endpoint | None,
        name: str,
        route: tuple[ModelConfig, ...],
        tags: Mapping[str, str],
        takes_over: bool = False,
    ) -> None:
        """Endpoint ``name`` routing as ``route``, with ``tags``. An existing one that is not
        llmform's is refused, unless this apply ``takes_over`` it (an adoption: it is tagged,
        keeping its name)."""
        fallback = FallbackConfig() if len(route) > 1 else None
        if existing is None:
            made = self.client.create_endpoint(
                workspace, name, route, fallback=fallback, usage_tracking=False, created_by=m.AUTHOR
            )
            self._tag(workspace, made.endpoint_id, {}, tags)
            return
        conflicting = any(existing.tags.get(k, v) != v for k, v in tags.items())
        if not takes_over and (not m.managed_endpoint(existing) or conflicting):
            raise StoreError(
                f"MLflow endpoint {name} in workspace {workspace} exists and is not llmform's "
                "for this route; llmform leaves it alone: rename or delete it in MLflow"
            )
        self._tag(workspace, existing.endpoint_id, existing.tags, tags)  # if cut off halfway
        if not m.same_route(existing.model_configs, route):
            self.client.update_endpoint(
                workspace,
                existing.endpoint_id,
                model_configs=route,
                fallback=fallback,
                updated_by=m.AUTHOR,
            )

    def _tag(
        self, workspace: str, endpoint_id: str, has: Mapping[str, str], tags: Mapping[str, str]
    ) -> None:
        """Set the tags ``has`` lacks, llmform's mark first: an apply cut off between two tags
        leaves an endpoint recognisably llmform's, whose other tags the next apply sets."""
        for key in sorted(tags, key=lambda k: k != m.MANAGED_TAG):
            if has.get(key) != tags[key]:
                self.client.set_endpoint_tag(workspace, endpoint_id, key, tags[key])

    def _remove_extras(
        self,
        workspace: str,
        config: str,
        endpoint_models: Collection[str],
        models: Collection[str],
        slots: Collection[str],
    ) -> None:
        """Delete this config's objects that are not wanted (endpoints but for
        ``endpoint_models``, model definitions but for ``models`` x ``slots``, secrets but for
        ``slots``), endpoints first (with any llmform endpoint routing to a model definition
        that goes), then model definitions, then secrets that no model definition uses."""
        objects = self._objects(workspace)
        owned = objects.owned(config)
        going = {
            md.model_definition_id
            for (model, slot), md in owned.model_definitions.items()
            if model not in models or slot not in slots
        }
        for endpoint in objects.endpoints:
            uses_going = any(c.model_definition_id in going for c in endpoint.model_configs)
            model = endpoint.tags.get(m.MODEL_TAG, "")
            kept = model in endpoint_models and owned.endpoints.get(model) == endpoint
            ours = endpoint in objects.config_endpoints(config) and not kept
            if m.managed_endpoint(endpoint) and (ours or uses_going):
                self.client.delete_endpoint(workspace, endpoint.endpoint_id)
        for md_id in sorted(going):
            self.client.delete_model_definition(workspace, md_id)
        used = {
            md.secret_id for md in objects.model_definitions if md.model_definition_id not in going
        }
        for slot, secret in owned.secrets.items():
            if slot not in slots and secret.secret_id not in used:
                self.client.delete_secret(workspace, secret.secret_id)

    def _remove_config(self, before: Resource) -> None:
        self._configs.pop(before.address, None)
        workspace, config = str(before.workspace), before.name.split("/", 1)[1]
        self._remove_extras(workspace, config, (), (), ())

    def _converge_defaults(self, workspace: str) -> None:
        """The workspace's ``default-TYPE`` endpoints as its defaults say; one whose config is
        not there yet is made when the config is."""
        objects = self._objects(workspace)
        wanted: set[str] = set()
        for model_type, target in self._defaults.get(workspace, {}).items():
            config, _, model = target.partition("/")
            ids = objects.route_ids(config, model)
            if not ids:
                continue
            name = m.default_endpoint_name(model_type)
            wanted.add(name)
            tags = {m.MANAGED_TAG: "true", m.DEFAULT_TAG: model_type}
            route = m.route(ids[0], ids[1:])
            self._endpoint(workspace, objects.endpoint(name), name, route, tags)
        for endpoint in objects.default_endpoints():
            if endpoint.name not in wanted:
                self.client.delete_endpoint(workspace, endpoint.endpoint_id)
