"""``llmform plan/apply/destroy --store mlflow+http://...`` end to end against the session's real
``mlflow server``: the CLI opens the gateway and its state (the default SQLite state store),
checks the key against a local provider server, hands the resolved key to the gateway (and to
nothing else), lands the secret, model definitions and tagged endpoints, plans nothing after,
applies a model removed from the YAML through a saved plan, verifies its audit trail and
destroys what it made; the canary key appears in no output, state file, audit event, log nor
MLflow's database.
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest
from support.mlflow_server import MlflowServer
from support.provider_servers import ProviderServer
from support.stores import cli

from llmform.targets.mlflow.client import MlflowClient

YAML = """\
apiVersion: llmform/v1
factories:
  - name: Local
    type: openai-compatible
    api_base: {api_base}
    models:
      - {{name: m1, type: chat, max_tokens: 1000}}
      - {{name: m2, type: chat, max_tokens: 1000}}
workspaces:
  - name: {workspace}
    description: the CLI test's
configs:
  - name: main
    workspace: {workspace}
    factory: Local
    api_key: {{env: MLFLOW_CLI_KEY}}
    models: [{models}]
"""


def test_plan_apply_destroy_through_the_cli(
    mlflow_server: MlflowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = f"sk-canary-{secrets.token_hex(16)}"
    workspace = f"cli-{secrets.token_hex(4)}"
    monkeypatch.chdir(tmp_path)
    for name in ("LLMFORM_STORE", "LLMFORM_STATE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_CLI_KEY", canary)
    # credentials in the URL are never shown
    store = ["--store", "mlflow+" + mlflow_server.url.replace("://", "://ci:hunter2@")]
    seen: list[str] = []

    def run(*args: str) -> tuple[int, str, str]:
        code, out, err = cli(capsys, *args)
        seen.append(out + err)
        return code, out, err

    with ProviderServer("openai", {canary: "valid"}, models=["m1", "m2"]) as provider:
        trust = ["--trust-endpoint", provider.api_base]

        def write(models: str) -> None:
            text = YAML.format(api_base=provider.api_base, workspace=workspace, models=models)
            (tmp_path / "llmform.yaml").write_text(text, encoding="utf-8")

        write("m1, m2")
        code, out, err = run("plan", *store, *trust, "--detailed-exitcode", "llmform.yaml")
        assert code == 2, out + err
        assert "3 to add" in out, out
        assert not (tmp_path / ".llmform").exists()  # plan creates no state
        code, out, err = run("apply", *store, *trust, "--auto-approve", "llmform.yaml")
        assert code == 0, out + err
        assert "Apply complete! Resources: 3 added" in out, out
        assert provider.keys_seen() and set(provider.keys_seen()) == {canary}

        with MlflowClient(mlflow_server.url) as client:
            (secret,) = client.list_secrets(workspace)
            assert secret.name == "llmform/main" and secret.auth_config["api_base"] == (
                provider.api_base
            )
            assert canary not in json.dumps(dict(secret.masked_values))
            definitions = {d.name: d for d in client.list_model_definitions(workspace)}
            assert set(definitions) == {"llmform/main/m1", "llmform/main/m2"}
            assert {d.secret_id for d in definitions.values()} == {secret.secret_id}
            endpoints = {e.name: e for e in client.list_endpoints(workspace)}
            assert set(endpoints) == {"main.m1", "main.m2"}
            assert all(e.tags.get("llmform.managed") == "true" for e in endpoints.values())

        code, out, err = run("plan", *store, *trust, "--detailed-exitcode", "llmform.yaml")
        assert code == 0 and "No changes" in out, out + err

        write("m1")  # through a saved plan: apply resolves the key again and hands it over
        code, out, err = run(
            "plan", *store, *trust, "--detailed-exitcode", "-o", "plan.json", "llmform.yaml"
        )
        assert code == 2 and "1 to change" in out, out + err
        code, out, err = run("apply", *store, "plan.json")
        assert code == 0 and "1 changed" in out, out + err
        with MlflowClient(mlflow_server.url) as client:
            assert {e.name for e in client.list_endpoints(workspace)} == {"main.m1"}
            names = {d.name for d in client.list_model_definitions(workspace)}
            assert names == {"llmform/main/m1"}
        code, out, err = run("plan", *store, *trust, "--detailed-exitcode", "llmform.yaml")
        assert code == 0 and "No changes" in out, out + err

    code, out, err = run("audit", "--verify", *store)
    assert code == 0, out + err
    code, out, err = run("audit", "--json", *store)
    assert code == 0 and '"apply-start"' in out, out + err

    code, out, err = run("destroy", *store, "--auto-approve")
    assert code == 0, out + err
    with MlflowClient(mlflow_server.url) as client:
        assert workspace not in {w.name for w in client.list_workspaces()}

    assert "hunter2" not in "".join(seen)
    assert "mlflow+http://127.0.0.1:" in "".join(seen)  # the URL shown, without credentials
    for output in seen:
        assert canary not in output, output
    for record in caplog.records:
        for secret in (canary, "hunter2"):  # httpx logs each request's URL
            assert secret not in record.getMessage() and secret not in repr(record.args)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert tmp_path / ".llmform" / "state.db" in written
    for path in [*written, mlflow_server.database]:
        assert canary.encode() not in path.read_bytes(), path
