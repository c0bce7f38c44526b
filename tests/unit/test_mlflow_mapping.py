"""The MLflow gateway mapping's names and fields (targets/mlflow/mapping.py), and what the
target sends without a server (an httpx mock transport): every name
llmform gives an object reads back as the config, model and key slot it was made for, endpoint
names keep to what MLflow accepts, options go to auth_config and back, and a secret written
outside llmform reads as a marker that shows no part of its mask."""

from __future__ import annotations

import re

import httpx
import pytest

from llmform.targets.base import TargetResources
from llmform.targets.mlflow import mapping as m
from llmform.targets.mlflow.target import MlflowTarget


@pytest.mark.parametrize("config", ["chat", "a.b", "prod-1_x"])
@pytest.mark.parametrize("model", ["gpt-4o", "qwen/qwen3:8b", "a#b", "x.y"])
@pytest.mark.parametrize("slot", ["api_key", "backup_keys[0]", "backup_keys[12]"])
def test_names_read_back_as_what_they_were_made_for(config: str, model: str, slot: str) -> None:
    assert m.split_secret_name(m.secret_name(config, slot)) == (config, slot)
    assert m.split_model_definition_name(m.model_definition_name(config, model, slot)) == (
        config,
        model,
        slot,
    )
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", m.endpoint_name(config, model))


def test_names_llmform_did_not_give_are_not_its() -> None:
    for name in ("openai", "llmform", "llmform/a/b", "llmform/a#api_secret", "LLMFORM/a"):
        assert m.split_secret_name(name) is None
    for name in ("gpt", "llmform/", "llmform/a", "llmform//m"):
        assert m.split_model_definition_name(name) is None


def test_key_slots_put_the_primary_first_then_backups_in_number_order() -> None:
    slots = ["backup_keys[10]", "api_secret", "backup_keys[2]", "api_key"]
    assert m.key_slots(slots) == ["api_key", "backup_keys[2]", "backup_keys[10]"]
    assert m.option_slots(slots) == ["api_secret"]


def test_options_go_to_auth_config_as_the_provider_names_them_and_back() -> None:
    options = {"region": "eu-west-1", "api_version": "2024-10-21"}
    auth = m.auth_config("https://x.example/v1", options)
    assert auth == {
        "api_base": "https://x.example/v1",
        "api_version": "2024-10-21",
        "aws_region_name": "eu-west-1",
    }
    assert m.options_of(auth) == dict(sorted(options.items()))
    assert m.auth_config(None, {}) == {}


def test_a_factory_type_chooses_the_provider() -> None:
    assert m.provider_of("openai-compatible") == "openai"
    assert m.provider_of("azure-openai") == "azure"
    assert m.provider_of("anthropic") == "anthropic"


def test_the_marker_of_a_secret_changed_outside_shows_nothing_of_it() -> None:
    marker = m.changed_outside_marker("sk-...cdef")
    assert "cdef" not in marker and not marker.startswith("hmac-sha256:")
    assert marker != m.changed_outside_marker("sk-...cdeg")


def test_the_target_sends_mlflows_tracking_credentials_and_shows_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = "tok-" + "9" * 20
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    target = MlflowTarget(
        "mlflow+https://gw.example:5000/mlflow", transport=httpx.MockTransport(answer)
    )
    assert target.read_resources() == TargetResources({}, {})  # no workspace: nothing
    target.close()
    assert [str(r.url) for r in seen] == [
        "https://gw.example:5000/mlflow/api/3.0/mlflow/workspaces"
    ]
    assert seen[0].headers["Authorization"] == f"Bearer {token}"
    assert token not in repr(target) + target.display_url
    assert target.display_url == "mlflow+https://gw.example:5000/mlflow"
