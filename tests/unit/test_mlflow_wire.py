"""What the real MLflow 3.17 server never does, so tests/integration/mlflow cannot show it: a
paged listing (3.17.2's list handlers take no page_token and answer everything), an answer that
is not the API's shape, an HTTP error without MLflow's JSON."""

from __future__ import annotations

import httpx
import pytest

from llmform.targets.mlflow.client import MlflowClient
from llmform.targets.mlflow.errors import MlflowAnswerError, MlflowApiError, MlflowAuthError

WORKSPACE = {"name": "ws", "description": ""}


def _client(handler: httpx.MockTransport) -> MlflowClient:
    return MlflowClient("http://mlflow.test", transport=handler)


def test_a_paged_listing_is_read_to_its_end() -> None:
    pages = {
        "": {"workspaces": [WORKSPACE], "next_page_token": "p2"},
        "p2": {"workspaces": [{"name": "other"}]},
    }
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("page_token", "")
        seen.append(token)
        return httpx.Response(200, json=pages[token])

    with _client(httpx.MockTransport(answer)) as client:
        assert [w.name for w in client.list_workspaces()] == ["ws", "other"]
        assert (seen, client.requests) == (["", "p2"], 2)


@pytest.mark.parametrize(
    ("listing", "key", "item"),
    [
        ("list_secrets", "secrets", {"secret_id": "s", "secret_name": "n"}),
        ("list_model_definitions", "model_definitions", {"model_definition_id": "m", "name": "n"}),
        ("list_endpoints", "endpoints", {"endpoint_id": "e", "name": "n"}),
    ],
)
def test_a_paged_gateway_listing_asks_each_page_in_its_workspace(
    listing: str, key: str, item: dict[str, str]
) -> None:
    """MLflow 3.17 answers these lists whole; should a later one page them, every page is read,
    each in the workspace asked for."""
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("page_token", "")
        seen.append((token, request.headers.get("X-MLFLOW-WORKSPACE")))
        page = {"": {key: [item], "next_page_token": "p2"}, "p2": {key: [item, item]}}[token]
        return httpx.Response(200, json=page)

    with _client(httpx.MockTransport(answer)) as client:
        assert len(getattr(client, listing)("ws")) == 3
        assert (seen, client.requests) == ([("", "ws"), ("p2", "ws")], 2)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"workspaces": {"name": "ws"}}, "workspaces is dict, not a list of objects"),
        ({"workspaces": [{"name": 7}]}, "name is int, not text"),
        ({"workspaces": [{}]}, "name is missing, not text"),
    ],
)
def test_an_answer_of_the_wrong_shape_is_named(body: object, said: str) -> None:
    handler = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with _client(handler) as client, pytest.raises(MlflowAnswerError) as error:
        client.list_workspaces()
    assert str(error.value) == (
        f"MLflow at http://mlflow.test: GET /api/3.0/mlflow/workspaces: unexpected answer: {said}"
    )


def test_an_error_without_mlflow_json_keeps_the_status_and_text() -> None:
    handler = httpx.MockTransport(lambda request: httpx.Response(502, text="Bad gateway\n"))
    with _client(handler) as client, pytest.raises(MlflowApiError) as error:
        client.list_secrets("ws")
    assert str(error.value).endswith("(workspace ws): HTTP 502: Bad gateway")
    assert (error.value.status, error.value.code) == (502, "")


def test_a_refused_credential_says_where_credentials_come_from() -> None:
    body = {"error_code": "PERMISSION_DENIED", "message": "no"}
    handler = httpx.MockTransport(lambda request: httpx.Response(403, json=body))
    with _client(handler) as client, pytest.raises(MlflowAuthError) as error:
        client.list_endpoints("ws")
    assert "HTTP 403 PERMISSION_DENIED: no (check MLFLOW_TRACKING_TOKEN" in str(error.value)
