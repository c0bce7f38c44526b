"""Applies to the session's real ``mlflow server`` through the CLI that do not go as planned: a
step that MLflow refuses halfway (an endpoint made by hand under the name llmform needs), which
stops the apply with a report of what landed, leaves the landed steps in the audit trail and a
plan of exactly what is left, and converges once the cause is gone; and MLflow's reserved
``default`` workspace, which llmform refuses at its place in the YAML.
"""

from __future__ import annotations

import json

import pytest
from support.mlflow_live import KEY_ENV, Repo, canary, chat, state_yaml, without_unmanaged
from support.provider_servers import ProviderServer

from llmform.secrets.base import SecretValue
from llmform.targets.mlflow.client import MlflowClient
from llmform.targets.mlflow.records import ModelConfig

# what is left once config c's secret and model definition landed and its endpoint did not:
# its key (never pushed with its reference recorded) and its endpoint (enabled); and config d
LEFT = """\
Scope: workspace {ws}; everything else is left alone.

Workspace {ws}:

  # config.{ws}/c will be updated in place
  ~ config.{ws}/c {{
      ~ enabled         = false -> true
      + secrets.api_key = "env:LLMFORM_LIVE_KEY"
        # (4 unchanged attributes hidden)
    }}

  # config.{ws}/d will be created
  + config.{ws}/d {{
      + api_base              = "{api_base}"
      + enabled               = true
      + factory               = "Local"
      + models                = [
          + "m1"
        ]
      + secrets.api_key       = "env:LLMFORM_LIVE_KEY"
      + secrets.api_key.value = (sensitive value)
    }}

Key checks: 4 keys of 4 configs, all passed.
  config.{ws}/a  api_key: valid (cached)
  config.{ws}/b  api_key: valid (cached)
  config.{ws}/c  api_key: valid (cached)
  config.{ws}/d  api_key: valid (cached)

Plan: 1 to add, 1 to change, 0 to destroy.
"""


def test_a_step_mlflow_refuses_stops_the_apply_and_the_next_plan_finishes_it(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = canary("faults")
    monkeypatch.setenv(KEY_ENV, key)
    ws, client = repo.workspace, MlflowClient(repo.server.url)
    with client, ProviderServer("openai", {key: "valid"}, models=["m1"]) as provider:
        trust = repo.trust((provider.api_base,))
        repo.write(state_yaml(ws, provider.api_base, configs=["a"]))
        repo.apply(provider.api_base)
        # made by hand in MLflow: an endpoint under the name config c's model m1 needs
        hand = client.create_secret(ws, "hand", "openai", {"api_key": SecretValue("sk-hand")})
        md = client.create_model_definition(ws, "hand-md", hand.secret_id, "openai", "m1")
        blocking = client.create_endpoint(ws, "c.m1", [ModelConfig(md.model_definition_id)])

        repo.write(state_yaml(ws, provider.api_base, configs=["a", "b", "c", "d"]))
        code, out, err = repo.run("apply", *repo.store, *trust, "--auto-approve")
        assert code == 1 and "Apply complete" not in out, out + err
        assert err.endswith(
            f"error: apply stopped at config.{ws}/c (create): MLflow endpoint c.m1 in workspace "
            f"{ws} exists and is not llmform's for this route; llmform leaves it alone: rename "
            f"or delete it in MLflow; 1 of 3 change(s) were applied and recorded before it "
            f"(config.{ws}/b); not applied after it: config.{ws}/d; run llmform plan to see what "
            "is left\n"
        ), err
        # landed: all of b, c's secret and model definition; nothing of d
        assert {s.name for s in client.list_secrets(ws)} == {
            "hand",
            *(f"llmform/{c}" for c in "abc"),
        }
        assert {e.name for e in client.list_endpoints(ws)} == {"a.m1", "b.m1", "c.m1"}
        # the audit trail: the step that landed, and where the run stopped
        code, out, err = repo.run("audit", "--json", *repo.store)
        events = [json.loads(line) for line in out.splitlines()]
        run = [e for e in events if e["run_id"] == events[-1]["run_id"]]
        assert [(e["action"], e["address"], e["result"]) for e in run] == [
            ("apply-start", "", "started"),
            ("create", f"config.{ws}/b", "ok"),
            ("apply-end", "", f"failed at config.{ws}/c: 1 change(s) applied"),
        ]

        code, out = repo.plan(provider.api_base, scope=ws)
        assert code == 2 and without_unmanaged(out) == LEFT.format(
            ws=ws, api_base=provider.api_base
        ), out
        assert f"  config.{ws}/endpoint:c.m1\n" in out  # the hand-made one, left alone

        client.delete_endpoint(ws, blocking.endpoint_id)  # the cause removed
        out = repo.apply(provider.api_base)
        assert "Resources: 1 added, 1 changed, 0 destroyed." in out, out
        repo.assert_no_changes(provider.api_base)
        assert {e.name for e in client.list_endpoints(ws)} == {f"{c}.m1" for c in "abcd"}
        assert chat(repo.server, ws, "c.m1").status_code == 200
        assert provider.chats()[-1].key == key
        assert {s.name for s in client.list_secrets(ws)} >= {"hand"}  # never touched

    code, out, err = repo.run("audit", "--verify", *repo.store)
    assert code == 0, out + err
    repo.seen.check_clean((key,), repo.root, repo.server, caplog)


REFUSED = (
    "./llmform.yaml:11:5: error: workspace default: MLflow reserves this name for its own "
    "default workspace, which llmform does not manage (it cannot be created or deleted, and "
    "serves every request without an X-MLFLOW-WORKSPACE header); give the workspace another "
    "name (and its configs' workspace:), e.g. default-llm"
)


def test_mlflows_default_workspace_is_refused_at_its_place_in_the_yaml(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = canary("default")
    monkeypatch.setenv(KEY_ENV, key)
    with MlflowClient(repo.server.url) as client:
        held = [client.list_secrets("default"), client.list_model_definitions("default")]
        held.append(client.list_endpoints("default"))
        with ProviderServer("openai", {key: "valid"}, models=["m1"]) as provider:
            repo.write(state_yaml("default", provider.api_base, configs=["a"]))
            trust = repo.trust((provider.api_base,))
            for command in (["plan"], ["apply", "--auto-approve"]):
                code, out, err = repo.run(*command, *repo.store, *trust)
                assert (code, out, err) == (1, "", REFUSED + "\n")
            code, out, err = repo.run("plan", *repo.store, *trust, "--format", "json")
            assert code == 1 and json.loads(out)["errors"] == [
                {"message": REFUSED.split(": error: ")[1], "file": "./llmform.yaml"}
                | {"line": 11, "column": 5}
            ]
            assert provider.requests == []  # refused before any key was checked
        after = [client.list_secrets("default"), client.list_model_definitions("default")]
        assert [*after, client.list_endpoints("default")] == held
    assert not (repo.root / ".llmform").exists()  # no state either
    repo.seen.check_clean((key,), repo.root, repo.server, caplog)
