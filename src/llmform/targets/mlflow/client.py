"""A small typed client for the parts of MLflow's REST API that llmform manages: workspaces, and
the AI Gateway's secrets, model definitions and endpoints (with their fallbacks and tags).

I/O at the edge (``wire``): each method is one call (a listing one call per page; MLflow 3.17
does not page these lists, so one request per object type and workspace), answered by frozen
records (``records``) or an ``MlflowError`` (``errors``) naming the server, the call and
MLflow's error code and message. A gateway call's workspace goes in MLflow's
``X-MLFLOW-WORKSPACE`` header; an unknown workspace is an ``MlflowNotFoundError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

import httpx

from ...secrets.base import SecretValue
from . import records
from .records import Endpoint, FallbackConfig, ModelConfig, ModelDefinition, Secret, Workspace
from .wire import DEFAULT_TIMEOUT, Credentials, Wire

API = "/api/3.0/mlflow"
GATEWAY = API + "/gateway"


class MlflowClient:
    """One MLflow server. ``requests``: how many HTTP requests it has sent (for benchmarks, and
    for tests that a listing reads each object type once per workspace)."""

    def __init__(
        self,
        url: str,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``credentials`` None: none (``Credentials.from_environment()`` reads MLflow's)."""
        self._wire = Wire(url, credentials or Credentials(), timeout, transport)

    @property
    def url(self) -> str:
        """The server's URL as it may be shown (no credentials, query or fragment)."""
        return self._wire.url

    @property
    def requests(self) -> int:
        return self._wire.requests

    def __repr__(self) -> str:
        return f"MlflowClient({self.url!r}, {self._wire.credentials!r})"

    def close(self) -> None:
        self._wire.close()

    def __enter__(self) -> MlflowClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # workspaces

    def list_workspaces(self) -> tuple[Workspace, ...]:
        return self._wire.list(API + "/workspaces", None, "workspaces", records.workspace)

    def get_workspace(self, name: str) -> Workspace:
        return self._wire.one(
            "workspace", records.workspace, "GET", f"{API}/workspaces/{_segment(name)}", None
        )

    def create_workspace(self, name: str, description: str = "") -> Workspace:
        body = {"name": name, "description": description}
        return self._wire.one(
            "workspace", records.workspace, "POST", API + "/workspaces", None, body
        )

    def update_workspace(self, name: str, description: str) -> Workspace:
        path = f"{API}/workspaces/{_segment(name)}"
        return self._wire.one(
            "workspace", records.workspace, "PATCH", path, None, {"description": description}
        )

    def delete_workspace(self, name: str) -> None:
        self._wire.call("DELETE", f"{API}/workspaces/{_segment(name)}", None)

    # secrets

    def list_secrets(self, workspace: str) -> tuple[Secret, ...]:
        return self._wire.list(GATEWAY + "/secrets/list", workspace, "secrets", records.secret)

    def get_secret(self, workspace: str, secret_id: str) -> Secret:
        path = GATEWAY + "/secrets/get"
        return self._wire.one(
            "secret", records.secret, "GET", path, workspace, params={"secret_id": secret_id}
        )

    def create_secret(
        self,
        workspace: str,
        name: str,
        provider: str,
        values: Mapping[str, SecretValue],
        auth_config: Mapping[str, str] | None = None,
        created_by: str = "",
    ) -> Secret:
        """``values``: the secret's fields (``{"api_key": ...}``); ``auth_config``: the rest of
        the provider's settings (``api_base``), which MLflow shows as they are."""
        body: dict[str, object] = {"secret_name": name, "provider": provider}
        if auth_config:
            body["auth_config"] = dict(auth_config)
        if created_by:
            body["created_by"] = created_by
        path = GATEWAY + "/secrets/create"
        return self._wire.one(
            "secret", records.secret, "POST", path, workspace, body, secret_values=values
        )

    def update_secret(
        self,
        workspace: str,
        secret_id: str,
        values: Mapping[str, SecretValue] | None = None,
        auth_config: Mapping[str, str] | None = None,
        updated_by: str = "",
    ) -> Secret:
        """Replace the values, the auth config, or both; what is None is left as it is."""
        body: dict[str, object] = {"secret_id": secret_id}
        if auth_config is not None:
            body["auth_config"] = dict(auth_config)
        if updated_by:
            body["updated_by"] = updated_by
        path = GATEWAY + "/secrets/update"
        return self._wire.one(
            "secret", records.secret, "POST", path, workspace, body, secret_values=values
        )

    def delete_secret(self, workspace: str, secret_id: str) -> None:
        self._wire.call("DELETE", GATEWAY + "/secrets/delete", workspace, {"secret_id": secret_id})

    # model definitions

    def list_model_definitions(self, workspace: str) -> tuple[ModelDefinition, ...]:
        path = GATEWAY + "/model-definitions/list"
        return self._wire.list(path, workspace, "model_definitions", records.model_definition)

    def get_model_definition(self, workspace: str, model_definition_id: str) -> ModelDefinition:
        path = GATEWAY + "/model-definitions/get"
        params = {"model_definition_id": model_definition_id}
        return self._wire.one(
            "model_definition", records.model_definition, "GET", path, workspace, params=params
        )

    def create_model_definition(
        self,
        workspace: str,
        name: str,
        secret_id: str,
        provider: str,
        model_name: str,
        created_by: str = "",
    ) -> ModelDefinition:
        body: dict[str, object] = {
            "name": name,
            "secret_id": secret_id,
            "provider": provider,
            "model_name": model_name,
        }
        if created_by:
            body["created_by"] = created_by
        path = GATEWAY + "/model-definitions/create"
        return self._wire.one(
            "model_definition", records.model_definition, "POST", path, workspace, body
        )

    def update_model_definition(
        self,
        workspace: str,
        model_definition_id: str,
        *,
        name: str | None = None,
        secret_id: str | None = None,
        provider: str | None = None,
        model_name: str | None = None,
        updated_by: str = "",
    ) -> ModelDefinition:
        """Change the fields given; what is None is left as it is."""
        body = _given(
            model_definition_id=model_definition_id,
            name=name,
            secret_id=secret_id,
            provider=provider,
            model_name=model_name,
            updated_by=updated_by or None,
        )
        path = GATEWAY + "/model-definitions/update"
        return self._wire.one(
            "model_definition", records.model_definition, "POST", path, workspace, body
        )

    def delete_model_definition(self, workspace: str, model_definition_id: str) -> None:
        body = {"model_definition_id": model_definition_id}
        self._wire.call("DELETE", GATEWAY + "/model-definitions/delete", workspace, body)

    # endpoints

    def list_endpoints(self, workspace: str) -> tuple[Endpoint, ...]:
        path = GATEWAY + "/endpoints/list"
        return self._wire.list(path, workspace, "endpoints", records.endpoint)

    def get_endpoint(self, workspace: str, endpoint_id: str) -> Endpoint:
        return self._get_endpoint(workspace, {"endpoint_id": endpoint_id})

    def get_endpoint_by_name(self, workspace: str, name: str) -> Endpoint:
        return self._get_endpoint(workspace, {"name": name})

    def _get_endpoint(self, workspace: str, params: dict[str, str]) -> Endpoint:
        path = GATEWAY + "/endpoints/get"
        return self._wire.one("endpoint", records.endpoint, "GET", path, workspace, params=params)

    def create_endpoint(
        self,
        workspace: str,
        name: str,
        model_configs: Sequence[ModelConfig],
        *,
        fallback: FallbackConfig | None = None,
        usage_tracking: bool | None = None,
        created_by: str = "",
    ) -> Endpoint:
        """``usage_tracking`` None: MLflow's default (on, which makes an experiment in the
        workspace for the endpoint's traces)."""
        body = _given(
            name=name,
            model_configs=[config.to_json() for config in model_configs],
            fallback_config=fallback.to_json() if fallback else None,
            usage_tracking=usage_tracking,
            created_by=created_by or None,
        )
        path = GATEWAY + "/endpoints/create"
        return self._wire.one("endpoint", records.endpoint, "POST", path, workspace, body)

    def update_endpoint(
        self,
        workspace: str,
        endpoint_id: str,
        *,
        name: str | None = None,
        model_configs: Sequence[ModelConfig] | None = None,
        fallback: FallbackConfig | None = None,
        usage_tracking: bool | None = None,
        updated_by: str = "",
    ) -> Endpoint:
        """Change what is given; ``model_configs`` replaces the endpoint's whole list."""
        configs = None if model_configs is None else [c.to_json() for c in model_configs]
        body = _given(
            endpoint_id=endpoint_id,
            name=name,
            model_configs=configs,
            fallback_config=fallback.to_json() if fallback else None,
            usage_tracking=usage_tracking,
            updated_by=updated_by or None,
        )
        path = GATEWAY + "/endpoints/update"
        return self._wire.one("endpoint", records.endpoint, "POST", path, workspace, body)

    def delete_endpoint(self, workspace: str, endpoint_id: str) -> None:
        body = {"endpoint_id": endpoint_id}
        self._wire.call("DELETE", GATEWAY + "/endpoints/delete", workspace, body)

    def set_endpoint_tag(self, workspace: str, endpoint_id: str, key: str, value: str) -> None:
        body = {"endpoint_id": endpoint_id, "key": key, "value": value}
        self._wire.call("POST", GATEWAY + "/endpoints/set-tag", workspace, body)

    def delete_endpoint_tag(self, workspace: str, endpoint_id: str, key: str) -> None:
        body = {"endpoint_id": endpoint_id, "key": key}
        self._wire.call("DELETE", GATEWAY + "/endpoints/delete-tag", workspace, body)


def _segment(name: str) -> str:
    """A workspace name as one URL path segment: ``/``, ``?`` or ``..`` cannot reach another."""
    return quote(name, safe="").replace(".", "%2E")


def _given(**fields: object) -> dict[str, object]:
    return {key: value for key, value in fields.items() if value is not None}
