"""The MLflow client against a real ``mlflow server`` (the session's, conftest.py): each call's
round trip, the shapes MLflow really answers with (masked values, omitted empty fields), its
errors as clear ``MlflowError``s, and credentials and secret values kept out of every text.

Each test works in a workspace of its own, so the tests share one server without interfering.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Iterator

import httpx
import pytest
from support.mlflow_server import MlflowServer, free_port

from llmform.secrets.base import SecretValue
from llmform.targets.mlflow.client import MlflowClient
from llmform.targets.mlflow.errors import (
    MlflowAlreadyExistsError,
    MlflowApiError,
    MlflowError,
    MlflowNotFoundError,
    MlflowUnreachableError,
)
from llmform.targets.mlflow.records import FallbackConfig, Linkage, ModelConfig
from llmform.targets.mlflow.wire import Credentials

API_BASE = "http://127.0.0.1:9/v1"  # never called: these tests only configure the gateway
OTHER_BASE = "http://127.0.0.1:8/v1"


def key(label: str = "key") -> SecretValue:
    return SecretValue(f"sk-{label}-{secrets.token_hex(12)}")


def masked(value: SecretValue) -> str:
    """MLflow's mask of a value of eight characters or more: three first, four last."""
    text = value.reveal()
    return f"{text[:3]}...{text[-4:]}"


@pytest.fixture
def client(mlflow_server: MlflowServer) -> Iterator[MlflowClient]:
    with MlflowClient(mlflow_server.url, timeout=10) as made:
        yield made


@pytest.fixture
def workspace(client: MlflowClient) -> str:
    name = f"ws-{secrets.token_hex(4)}"
    client.create_workspace(name, "a test's own")
    return name


def test_workspace_round_trip(client: MlflowClient) -> None:
    name = f"ws-{secrets.token_hex(4)}"
    created = client.create_workspace(name, "first")
    assert (created.name, created.description) == (name, "first")
    assert client.get_workspace(name) == created
    assert created in client.list_workspaces()
    assert client.update_workspace(name, "second").description == "second"
    assert client.get_workspace(name).description == "second"
    with pytest.raises(MlflowAlreadyExistsError):
        client.create_workspace(name)
    client.delete_workspace(name)
    with pytest.raises(MlflowNotFoundError) as gone:
        client.get_workspace(name)
    assert gone.value.status == 404


def test_secret_round_trip_shows_values_only_masked(client: MlflowClient, workspace: str) -> None:
    first, second = key("first"), key("second")
    created = client.create_secret(
        workspace,
        "openai-main",
        "openai",
        {"api_key": first},
        {"api_base": API_BASE},
        created_by="llmform",
    )
    assert created.secret_id.startswith("s-")
    assert (created.name, created.provider, created.created_by) == (
        "openai-main",
        "openai",
        "llmform",
    )
    assert dict(created.masked_values) == {"api_key": masked(first)}
    assert dict(created.auth_config) == {"api_base": API_BASE}
    assert client.get_secret(workspace, created.secret_id) == created
    assert client.list_secrets(workspace) == (created,)

    rotated = client.update_secret(workspace, created.secret_id, {"api_key": second})
    assert dict(rotated.masked_values) == {"api_key": masked(second)}
    assert dict(rotated.auth_config) == {"api_base": API_BASE}  # kept: not given
    moved = client.update_secret(workspace, created.secret_id, auth_config={"api_base": OTHER_BASE})
    assert dict(moved.masked_values) == {"api_key": masked(second)}  # kept: not given
    assert dict(moved.auth_config) == {"api_base": OTHER_BASE}
    assert client.get_secret(workspace, created.secret_id) == moved

    short = client.create_secret(workspace, "short", "openai", {"api_key": SecretValue("sk-1")})
    assert dict(short.masked_values) == {"api_key": "***"}  # under 8 characters: nothing shown

    client.delete_secret(workspace, created.secret_id)
    with pytest.raises(MlflowNotFoundError):
        client.get_secret(workspace, created.secret_id)
    assert client.list_secrets(workspace) == (short,)


def test_model_definition_round_trip(client: MlflowClient, workspace: str) -> None:
    secret = client.create_secret(workspace, "s", "openai", {"api_key": key()})
    other = client.create_secret(workspace, "t", "openai", {"api_key": key()})
    created = client.create_model_definition(
        workspace, "gpt", secret.secret_id, "openai", "gpt-4o", created_by="llmform"
    )
    assert created.model_definition_id.startswith("d-")
    assert (created.secret_id, created.secret_name, created.model_name) == (
        secret.secret_id,
        "s",
        "gpt-4o",
    )
    assert client.get_model_definition(workspace, created.model_definition_id) == created
    assert client.list_model_definitions(workspace) == (created,)

    renamed = client.update_model_definition(
        workspace, created.model_definition_id, model_name="gpt-4o-mini"
    )
    assert (renamed.name, renamed.model_name, renamed.secret_id) == (
        "gpt",
        "gpt-4o-mini",
        secret.secret_id,
    )
    moved = client.update_model_definition(
        workspace, created.model_definition_id, secret_id=other.secret_id
    )
    assert (moved.secret_id, moved.secret_name) == (other.secret_id, "t")

    client.delete_model_definition(workspace, created.model_definition_id)
    with pytest.raises(MlflowNotFoundError):
        client.get_model_definition(workspace, created.model_definition_id)
    assert client.list_model_definitions(workspace) == ()


def _two_models(client: MlflowClient, workspace: str) -> tuple[str, str]:
    ids = []
    for name in ("primary", "backup"):
        secret = client.create_secret(workspace, name, "openai", {"api_key": key(name)})
        model = client.create_model_definition(
            workspace, name, secret.secret_id, "openai", "gpt-4o"
        )
        ids.append(model.model_definition_id)
    return ids[0], ids[1]


def test_endpoint_round_trip_with_fallback_and_tags(client: MlflowClient, workspace: str) -> None:
    primary, backup = _two_models(client, workspace)
    configs = (
        ModelConfig(primary),
        ModelConfig(backup, Linkage.FALLBACK, fallback_order=1),
    )
    created = client.create_endpoint(
        workspace,
        "chat",
        configs,
        fallback=FallbackConfig(max_attempts=2),
        usage_tracking=False,
        created_by="llmform",
    )
    assert created.endpoint_id.startswith("e-")
    assert created.model_configs == configs
    assert created.fallback == FallbackConfig("SEQUENTIAL", 2)
    assert (created.usage_tracking, dict(created.tags)) == (False, {})

    client.set_endpoint_tag(workspace, created.endpoint_id, "llmform.managed", "true")
    tagged = client.get_endpoint(workspace, created.endpoint_id)
    assert dict(tagged.tags) == {"llmform.managed": "true"}
    assert client.get_endpoint_by_name(workspace, "chat") == tagged
    # a listing carries what a plan compares: the model configs and the tags
    assert client.list_endpoints(workspace) == (tagged,)

    swapped = client.update_endpoint(
        workspace, created.endpoint_id, model_configs=[ModelConfig(backup)]
    )
    assert swapped.model_configs == (ModelConfig(backup),)
    assert dict(swapped.tags) == {"llmform.managed": "true"}  # kept
    client.delete_endpoint_tag(workspace, created.endpoint_id, "llmform.managed")
    assert dict(client.get_endpoint(workspace, created.endpoint_id).tags) == {}

    client.delete_endpoint(workspace, created.endpoint_id)
    with pytest.raises(MlflowNotFoundError):
        client.get_endpoint_by_name(workspace, "chat")
    assert client.list_endpoints(workspace) == ()


def test_delete_order_quirks_and_empty_workspace(client: MlflowClient, workspace: str) -> None:
    """What the target's ordering relies on: a model definition an endpoint uses cannot go
    first; a secret can, and orphans its model definition. Emptied, the workspace deletes."""
    primary, backup = _two_models(client, workspace)
    endpoint = client.create_endpoint(
        workspace, "chat", [ModelConfig(primary)], usage_tracking=False
    )
    with pytest.raises(MlflowApiError) as refused:
        client.delete_model_definition(workspace, primary)
    assert (refused.value.status, refused.value.code) == (500, "INVALID_STATE")

    (secret,) = [s for s in client.list_secrets(workspace) if s.name == "backup"]
    client.delete_secret(workspace, secret.secret_id)
    orphan = client.get_model_definition(workspace, backup)
    assert (orphan.secret_id, orphan.secret_name) == ("", "")

    client.delete_endpoint(workspace, endpoint.endpoint_id)
    for model in client.list_model_definitions(workspace):
        client.delete_model_definition(workspace, model.model_definition_id)
    for left in client.list_secrets(workspace):
        client.delete_secret(workspace, left.secret_id)
    client.delete_workspace(workspace)
    assert workspace not in [w.name for w in client.list_workspaces()]


def test_a_listing_is_one_request_per_type_and_workspace(
    client: MlflowClient, workspace: str
) -> None:
    for n in range(3):
        secret = client.create_secret(workspace, f"s{n}", "openai", {"api_key": key()})
        model = client.create_model_definition(
            workspace, f"m{n}", secret.secret_id, "openai", "gpt-4o"
        )
        client.create_endpoint(
            workspace, f"e{n}", [ModelConfig(model.model_definition_id)], usage_tracking=False
        )
    before = client.requests
    found = (
        client.list_secrets(workspace),
        client.list_model_definitions(workspace),
        client.list_endpoints(workspace),
    )
    assert [len(kind) for kind in found] == [3, 3, 3]
    assert client.requests - before == 3


def test_errors_name_server_call_and_mlflow_answer(client: MlflowClient, workspace: str) -> None:
    with pytest.raises(MlflowNotFoundError) as unknown:
        client.list_secrets("no-such-workspace")
    text = str(unknown.value)
    assert text.startswith(f"MLflow at {client.url}: GET /api/3.0/mlflow/gateway/secrets/list")
    assert "(workspace no-such-workspace)" in text
    assert "HTTP 404 RESOURCE_DOES_NOT_EXIST: Workspace 'no-such-workspace' not found" in text

    # MLflow quotes the name it did not find: a line break or an escape sequence in it is
    # written out, never acted on (a forged line, a terminal's colour)
    hostile = "chat\nerror: forged\x1b[31m"
    with pytest.raises(MlflowNotFoundError) as quoted:
        client.get_endpoint_by_name(workspace, hostile)
    text = str(quoted.value)
    assert "\n" not in text and "\x1b" not in text
    assert "\\x1b" in text and quoted.value.code == "RESOURCE_DOES_NOT_EXIST"


def test_credentials_in_the_url_are_never_shown(mlflow_server: MlflowServer) -> None:
    password = "pw-" + secrets.token_hex(8)
    url = mlflow_server.url.replace("http://", f"http://someone:{password}@") + "/?token=x#y"
    with MlflowClient(url) as client, pytest.raises(MlflowNotFoundError) as error:
        client.get_workspace("absent")
    assert client.url == mlflow_server.url
    assert password not in str(error.value) and password not in repr(client)


def test_a_server_that_is_not_there() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with MlflowClient(url, timeout=2) as client, pytest.raises(MlflowUnreachableError) as error:
        client.list_workspaces()
    assert "cannot connect" in str(error.value)


def test_a_canary_key_is_in_no_exception_repr_or_log(
    client: MlflowClient,
    workspace: str,
    mlflow_server: MlflowServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    canary = SecretValue("sk-canary-" + secrets.token_hex(16))
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log each request at DEBUG/INFO
    created = client.create_secret(workspace, "canary", "openai", {"api_key": canary})
    with pytest.raises(MlflowError) as duplicate:
        client.create_secret(workspace, "canary", "openai", {"api_key": canary})
    with pytest.raises(MlflowError) as malformed:  # a request MLflow rejects as invalid
        client.update_secret(workspace, "s-absent", {"api_key": canary})
    texts = [
        repr(created),
        repr(client),
        caplog.text,
        mlflow_server.log_text(),
    ]
    for error in (duplicate.value, malformed.value):
        texts += [str(error), repr(error), *map(str, error.args)]
        texts += traceback.format_exception(error)
    leaked = [text for text in texts if canary.reveal() in text or canary.reveal()[-12:] in text]
    assert not leaked
    assert isinstance(duplicate.value, MlflowAlreadyExistsError)


class _Recording(httpx.BaseTransport):
    """The real transport, keeping each request's headers."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.headers: list[httpx.Headers] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"MLFLOW_TRACKING_TOKEN": "tok-SECRET"}, "Bearer tok-SECRET"),
        (
            {"MLFLOW_TRACKING_USERNAME": "ada", "MLFLOW_TRACKING_PASSWORD": "pw-SECRET"},
            "Basic YWRhOnB3LVNFQ1JFVA==",  # base64("ada:pw-SECRET")
        ),
        (  # both: Basic, as MLflow's own client does
            {
                "MLFLOW_TRACKING_TOKEN": "tok-SECRET",
                "MLFLOW_TRACKING_USERNAME": "ada",
                "MLFLOW_TRACKING_PASSWORD": "pw-SECRET",
            },
            "Basic YWRhOnB3LVNFQ1JFVA==",
        ),
        ({}, None),
    ],
)
def test_credentials_from_the_environment_are_sent(
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    expected: str | None,
) -> None:
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    recording = _Recording()
    credentials = Credentials.from_environment()
    with MlflowClient(mlflow_server.url, credentials, transport=recording) as client:
        client.list_workspaces()  # this server has no auth: it ignores what it is sent
        with pytest.raises(MlflowNotFoundError) as error:
            client.list_secrets("absent")
    assert [h.get("authorization") for h in recording.headers] == [expected, expected]
    for text in (repr(client), repr(credentials), str(error.value), repr(error.value)):
        assert "SECRET" not in text and "YWRh" not in text
