"""Drift against the session's real ``mlflow server``, through the CLI: after an apply, changes
made through MLflow's own REST API (an endpoint rerouted, a model definition's model changed,
a key rewritten, a config's objects deleted, a workspace's description changed) show in
``plan`` as ``changed outside llmform`` (or ``deleted outside llmform``), apart from the plan's
changes, and in ``plan --refresh-only`` alone, with ``--detailed-exitcode`` 0 before and 2
after; a hand-made object is listed as unmanaged, never as drift; a saved plan keeps the drift
(``show`` prints it), and applying it converges: the plan after it shows no drift. Neither the
key in the YAML nor the one written by hand appears in any output, the saved plan or the state
file.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from support.mlflow_server import MlflowServer
from support.stores import cli

from llmform.secrets.base import SecretValue
from llmform.targets.mlflow.client import MlflowClient
from llmform.targets.mlflow.records import ModelConfig

YAML = """\
apiVersion: llmform/v1
factories:
  - name: Local
    type: openai-compatible
    api_base: http://127.0.0.1:9/v1
    models:
      - {{name: m1, type: chat, max_tokens: 1000}}
      - {{name: m2, type: chat, max_tokens: 1000}}
workspaces:
  - name: {workspace}
configs:
  - name: main
    workspace: {workspace}
    factory: Local
    api_key: {{env: MLFLOW_DRIFT_KEY}}
    models: [m1, m2]
  - name: aux
    workspace: {workspace}
    factory: Local
    api_key: {{env: MLFLOW_DRIFT_KEY}}
    models: [m1]
"""

NO_DRIFT = "No drift. The target holds what llmform last applied.\n"

REROUTED = """\
Note: objects have changed outside llmform

llmform found these changes made outside llmform (in the target's own UI or API) since it \
last applied:

  # config.{w}/main changed outside llmform
  ~ config.{w}/main {{
      ~ models = [
          - "m1"
            # (1 unchanged model hidden)
        ]
        # (6 unchanged attributes hidden)
    }}

This is a refresh-only plan: it proposes no changes. llmform plan shows the changes that make \
the target match the configuration again.

Drift: 1 resource changed outside llmform.
"""


def test_drift_made_through_mlflow_is_reported_and_repaired(
    mlflow_server: MlflowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    canary = f"sk-canary-{secrets.token_hex(16)}"
    by_hand = f"sk-byhand-{secrets.token_hex(16)}"
    w = f"drift-{secrets.token_hex(4)}"
    monkeypatch.chdir(tmp_path)
    for name in ("LLMFORM_STORE", "LLMFORM_STATE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DRIFT_KEY", canary)
    (tmp_path / "llmform.yaml").write_text(YAML.format(workspace=w), encoding="utf-8")
    store = ["--store", "mlflow+" + mlflow_server.url, "--no-validate-keys"]
    refresh = ["plan", "--refresh-only", "--store", "mlflow+" + mlflow_server.url, "-w", w]
    seen: list[str] = []

    def run(*args: str) -> tuple[int, str, str]:
        code, out, err = cli(capsys, *args)
        seen.append(out + err)
        return code, out, err

    def refreshed(*args: str) -> tuple[int, str, str]:
        """plan --refresh-only, which needs no secret: the key's variable is unset."""
        with monkeypatch.context() as no_key:
            no_key.delenv("MLFLOW_DRIFT_KEY")
            return run(*refresh, *args)

    code, out, err = run("apply", *store, "--auto-approve", "llmform.yaml")
    assert code == 0 and "4 added" in out, out + err
    code, out, err = refreshed("--detailed-exitcode")
    assert (code, out) == (0, NO_DRIFT), out + err

    client = MlflowClient(mlflow_server.url)
    try:
        mds = {d.name: d for d in client.list_model_definitions(w)}
        endpoints = {e.name: e for e in client.list_endpoints(w)}
        # an endpoint rerouted in MLflow: main's m1 now goes to m2's model definition
        m2 = mds["llmform/main/m2"].model_definition_id
        client.update_endpoint(
            w, endpoints["main.m1"].endpoint_id, model_configs=(ModelConfig(m2),)
        )

        code, out, err = refreshed("--detailed-exitcode")
        assert (code, out) == (2, REROUTED.format(w=w)), out + err
        # the plan shows it apart from its own changes, which put m1 back
        code, out, err = run("plan", *store, "-w", w, "--detailed-exitcode", "llmform.yaml")
        assert code == 2, out + err
        drift, _, changes = out.partition("Workspace " + w + ":")
        assert f"# config.{w}/main changed outside llmform" in drift, out
        assert "changed outside llmform" not in changes, out
        assert f"# config.{w}/main will be updated in place" in changes, out
        assert '+ "m1"' in changes and "1 to change" in changes, out

        # a model definition's model changed, a key rewritten, a config's objects deleted
        client.update_model_definition(w, m2, model_name="m3", updated_by="someone")
        (main_secret,) = [s for s in client.list_secrets(w) if s.name == "llmform/main"]
        client.update_secret(
            w, main_secret.secret_id, {"api_key": SecretValue(by_hand)}, updated_by="someone"
        )
        client.delete_endpoint(w, endpoints["aux.m1"].endpoint_id)
        client.delete_model_definition(w, mds["llmform/aux/m1"].model_definition_id)
        (aux_secret,) = [s for s in client.list_secrets(w) if s.name == "llmform/aux"]
        client.delete_secret(w, aux_secret.secret_id)
        client.update_workspace(w, "described by hand")
        # a hand-made object is no drift: it is listed as unmanaged
        client.create_secret(w, "hand-made", "openai", {"api_key": SecretValue(by_hand)})
    finally:
        client.close()

    code, out, err = refreshed("--format", "json", "--detailed-exitcode")
    assert code == 2, out + err
    data = json.loads(out)
    assert data["refresh_only"] is True and data["changes"] == [], data
    assert [(d["address"], d["actions"]) for d in data["drift"]] == [
        (f"config.{w}/aux", ["delete"]),
        (f"config.{w}/main", ["update"]),
        (f"workspace.{w}", ["update"]),
    ]
    aux, main, workspace = data["drift"]
    assert (workspace["before"]["description"], workspace["after"]["description"]) == (
        "",
        "described by hand",
    )
    assert aux["after"] is None and aux["before"]["models"] == [{"name": "m1"}]
    assert main["before"]["models"] == [{"name": "m1"}, {"name": "m2"}]
    assert main["after"]["models"] == []
    assert main["sensitive"] == ["secrets.api_key.value"]  # that it changed, nothing more
    assert any(f"config.{w}/secret:hand-made" in warning for warning in data["warnings"])
    code, out, err = refreshed("--format", "markdown")
    assert code == 0 and "| deleted | `config." in out and "**Drift: 3 resources" in out, out

    code, out, err = run("plan", *store, "-w", w, "--detailed-exitcode", "llmform.yaml")
    assert code == 2, out + err
    assert f"# config.{w}/aux deleted outside llmform" in out, out
    assert "secrets.api_key.value = (sensitive value changed)" in out, out
    assert f"config.{w}/secret:hand-made" in out, out  # unmanaged, left alone

    # saved, shown and applied: the saved plan keeps the drift, show prints it
    code, out, err = run("plan", *store, "-w", w, "-o", "drift.plan", "llmform.yaml")
    assert code == 0, out + err
    code, out, err = run("show", "--store", "mlflow+" + mlflow_server.url, "drift.plan")
    assert code == 0 and f"# config.{w}/aux deleted outside llmform" in out, out + err
    code, out, err = run("apply", *store, "drift.plan")
    assert code == 0 and "1 added, 2 changed" in out, out + err
    code, out, err = refreshed("--detailed-exitcode")
    assert code == 0 and out.endswith(NO_DRIFT) and "outside llmform" not in out, out + err
    code, out, err = run("plan", *store, "-w", w, "--detailed-exitcode", "llmform.yaml")
    assert code == 0 and "No changes" in out and "outside llmform" not in out, out + err

    for output in seen:
        assert canary not in output and by_hand not in output, output
    for written in (tmp_path / ".llmform" / "state.db", tmp_path / "drift.plan"):
        content = written.read_bytes()
        assert canary.encode() not in content and by_hand.encode() not in content, written
