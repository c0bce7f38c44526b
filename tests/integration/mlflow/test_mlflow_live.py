"""What applications see through a gateway llmform applied, with the real CLI against the
session's real ``mlflow server`` and local OpenAI-style provider servers: a chat request reaches
the provider with the applied key, and with the backup key once the primary is revoked there
(the FALLBACK route); a model added, a key rotated (the gateway then sends the new one), the
api_base moved and the factory's type changed, each planned as it is and followed by a plan with
nothing to do. The canary keys appear in no output, state, audit event or log, and in MLflow's
files only encrypted.
"""

from __future__ import annotations

import pytest
from support.mlflow_live import (
    BACKUP_ENV,
    KEY_ENV,
    Repo,
    canary,
    chat,
    chat_reaches,
    state_yaml,
    without_unmanaged,
)
from support.provider_servers import ProviderServer

from llmform.targets.mlflow.client import MlflowClient


def test_a_chat_reaches_the_provider_with_the_primary_then_the_backup_key(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    primary, backup = canary("primary"), canary("backup")
    monkeypatch.setenv(KEY_ENV, primary)
    monkeypatch.setenv(BACKUP_ENV, backup)
    keys = {primary: "valid", backup: "valid"}
    with ProviderServer("openai", keys, models=["m1"]) as provider:
        repo.write(state_yaml(repo.workspace, provider.api_base, backup=True))
        repo.apply(provider.api_base)
        repo.assert_no_changes(provider.api_base)

        response = chat(repo.server, repo.workspace, "main.m1")
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "hello from m1"
        (first,) = provider.chats()
        assert first.path == "/v1/chat/completions" and first.body["model"] == "m1"  # type: ignore[index]
        assert first.headers["authorization"] == f"Bearer {primary}"

        # revoked at the provider: OpenAI's 401 at once, and the gateway turns to the backup
        # key within the same request, without waiting for its secrets cache
        provider.revoke(primary)
        response = chat(repo.server, repo.workspace, "main.m1")
        assert response.status_code == 200, response.text
        assert [seen.key for seen in provider.chats()[1:]] == [primary, backup]

        # both revoked: the application gets the provider's 401, through the gateway
        provider.revoke(backup)
        response = chat(repo.server, repo.workspace, "main.m1")
        assert response.status_code == 401, response.text
        assert primary not in response.text and backup not in response.text

    repo.seen.check_clean((primary, backup), repo.root, repo.server, caplog)


# the plan of a key rotated in the environment: only that the value changed, never any part of
# it (the unmanaged list is left out: the session's server holds other tests' workspaces too)
ROTATED = """\
Scope: workspace {workspace}; everything else is left alone.

Workspace {workspace}:

  # config.{workspace}/main will be updated in place
  ~ config.{workspace}/main {{
      ~ secrets.api_key.value = (sensitive value changed)
        # (6 unchanged attributes hidden)
    }}

Key checks: 1 key of 1 config, all passed.
  config.{workspace}/main  api_key: valid

Plan: 0 to add, 1 to change, 0 to destroy.
"""


def test_updates_through_the_cli_reach_the_gateway(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = canary("first"), canary("second")
    monkeypatch.setenv(KEY_ENV, first)
    keys = {first: "valid", second: "valid"}
    ws = repo.workspace
    with (
        ProviderServer("openai", keys, models=["m1", "m2"]) as here,
        ProviderServer("openai", keys, models=["m1", "m2"]) as there,
    ):
        trusted = (here.api_base, there.api_base)
        repo.write(state_yaml(ws, here.api_base))
        repo.apply(*trusted)
        repo.assert_no_changes(*trusted)
        assert chat_reaches(repo.server, ws, "main.m1", here, first) == [first]

        # a model added: its model definition and endpoint, served at once
        repo.write(state_yaml(ws, here.api_base, ("m1", "m2")))
        code, out = repo.plan(*trusted)
        assert code == 2 and '+ "m2"' in out and "0 to add, 1 to change, 0 to destroy" in out
        repo.apply(*trusted)
        repo.assert_no_changes(*trusted)
        assert chat(repo.server, ws, "main.m2").status_code == 200
        assert here.chats()[-1].body["model"] == "m2"  # type: ignore[index]

        # a key rotated: the new value is pushed, and the gateway sends it once its
        # secrets cache expires
        monkeypatch.setenv(KEY_ENV, second)
        code, out = repo.plan(*trusted, scope=ws)
        assert code == 2 and without_unmanaged(out) == ROTATED.format(workspace=ws), out
        assert "  workspace.default\n" in out  # MLflow's own, never llmform's
        out = repo.apply(*trusted)
        assert "Resources: 0 added, 1 changed, 0 destroyed." in out
        repo.assert_no_changes(*trusted)
        chat_reaches(repo.server, ws, "main.m1", here, second)

        # the config's api_base moved to another provider server
        repo.write(state_yaml(ws, here.api_base, ("m1", "m2"), config_api_base=there.api_base))
        code, out = repo.plan(*trusted)
        assert code == 2 and f'~ api_base = "{here.api_base}" -> "{there.api_base}"' in out, out
        repo.apply(*trusted)
        repo.assert_no_changes(*trusted)
        assert chat_reaches(repo.server, ws, "main.m1", there, second) == [second]

        # the factory's api_base changed, the config following it again
        repo.write(state_yaml(ws, there.api_base, ("m1", "m2")))
        code, out = repo.plan(*trusted)
        assert code == 2, out
        repo.apply(*trusted)
        repo.assert_no_changes(*trusted)
        with MlflowClient(repo.server.url) as client:
            (secret,) = client.list_secrets(ws)
            assert secret.auth_config["api_base"] == there.api_base

        # the factory's type changed: the gateway's provider of every config using it follows
        repo.write(state_yaml(ws, there.api_base, ("m1", "m2"), factory_type="deepseek"))
        code, out = repo.plan(*trusted)
        assert code == 2 and "factory.Local" in out, out
        repo.apply(*trusted)
        repo.assert_no_changes(*trusted)
        with MlflowClient(repo.server.url) as client:
            definitions = client.list_model_definitions(ws)
            assert {d.provider for d in definitions} == {"deepseek"}
        assert chat_reaches(repo.server, ws, "main.m1", there, second)

    repo.seen.check_clean((first, second), repo.root, repo.server, caplog)
