"""Adopting a hand-made MLflow AI Gateway: ``llmform export --store mlflow+http://...`` writes the
secrets, model definitions and endpoints made through MLflow's own API (two workspaces, a key
with its backup as FALLBACK routes) as llmform YAML with placeholder references, and names every
hand-made object it leaves unmanaged; ``plan`` on that YAML shows only the keys (which MLflow
never returns); ``apply`` pushes them and takes the objects over under their own names (the
endpoints applications call keep their ids), the next plan shows no changes, and export then
writes the same configuration. The canary keys appear in no output.

Export reads the whole server, so this module starts a real ``mlflow server`` of its own (the
session's ``mlflow_server`` holds the other tests' workspaces): the export's text is checked
exactly.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.mlflow_server import MlflowServer, MlflowStartError, running_server
from support.provider_servers import ProviderServer
from support.stores import cli

from llmform.secrets.base import SecretValue
from llmform.targets.mlflow.client import MlflowClient
from llmform.targets.mlflow.records import FallbackConfig, Linkage, ModelConfig

EXPORTED = """\
# Exported by llmform from the store (serial 0).
# Configs llmform did not make are exported for adoption, keeping their objects' names; their
# keys are placeholders (env:MLFLOW_..._KEY): point each at where the key is kept, e.g.
# {vault: secret/llm/openai#api_key}. llmform plan then shows only the keys (which cannot be
# read back) as changes; llmform apply pushes them and manages the objects from then on.
apiVersion: llmform/v1
workspaces:
- name: support
- name: team-a
  description: Team A's models
configs:
- name: local-llm
  workspace: support
  factory: OpenAI
  api_base: {api_base}
  api_key:
    env: MLFLOW_LOCAL_LLM_API_KEY
  backup_keys:
  - env: MLFLOW_LOCAL_LLM_BACKUP_KEY_1
  models:
  - name: qwen3
    type: chat
- name: openai-prod
  workspace: team-a
  factory: OpenAI
  api_base: {api_base}
  api_key:
    env: MLFLOW_OPENAI_PROD_API_KEY
  models:
  - gpt-4o
  - gpt-4o-mini
"""

UNMANAGED = """\
Unmanaged (in the store, not created by llmform; left alone):
  config.default/endpoint:old
  config.default/model-definition:old
  config.default/secret:legacy
  config.support/endpoint:lab
  config.support/model-definition:lab-a
  config.support/model-definition:lab-b
  config.support/secret:lab
  config.team-a/secret:spare\\x1b[31m
  workspace.default

"""

PLANNED = (
    """\
Workspace support:

  # config.support/local-llm will be updated in place
  ~ config.support/local-llm {
      ~ secrets.api_key.value        = (sensitive value changed)
      ~ secrets.backup_keys[0].value = (sensitive value changed)
        # (7 unchanged attributes hidden)
    }

Workspace team-a:

  # config.team-a/openai-prod will be updated in place
  ~ config.team-a/openai-prod {
      ~ secrets.api_key.value = (sensitive value changed)
        # (6 unchanged attributes hidden)
    }

Warning: config.support/local-llm adopts what llmform did not make (secret:local llm, \
secret:local-llm-backup, model-definition:qwen, model-definition:qwen-b, endpoint:assistant): \
apply takes it over under its own names and manages it from then on
Warning: config.team-a/openai-prod adopts what llmform did not make (secret:openai-prod, \
model-definition:gpt4o, model-definition:gpt4o-mini, endpoint:chat, endpoint:fast): apply takes \
it over under its own names and manages it from then on

"""
    + UNMANAGED
    + """\
Key checks: 3 keys of 2 configs, all passed.
  config.support/local-llm   api_key: valid
  config.support/local-llm   backup_keys[0]: valid
  config.team-a/openai-prod  api_key: valid

Plan: 0 to add, 2 to change, 0 to destroy.
"""
)

AFTER = (
    UNMANAGED
    + """\
Key checks: 3 keys of 2 configs, all passed.
  config.support/local-llm   api_key: valid (cached)
  config.support/local-llm   backup_keys[0]: valid (cached)
  config.team-a/openai-prod  api_key: valid (cached)

No changes. The store matches the configuration.
"""
)

CHECKING = "Key checks: 2 configs...\n"

NOTES = """\
warning: secret legacy in MLflow workspace default is not exported (llmform does not manage \
MLflow's default workspace: move it to one of its own); it stays unmanaged
warning: model definition old in MLflow workspace default is not exported (llmform does not \
manage MLflow's default workspace: move it to one of its own); it stays unmanaged
warning: endpoint old in MLflow workspace default is not exported (llmform does not manage \
MLflow's default workspace: move it to one of its own); it stays unmanaged
warning: secret lab in MLflow workspace support is not exported (endpoint lab falls back to \
another model, not another key); it stays unmanaged
warning: model definition lab-a in MLflow workspace support is not exported (endpoint lab falls \
back to another model, not another key); it stays unmanaged
warning: model definition lab-b in MLflow workspace support is not exported (endpoint lab falls \
back to another model, not another key); it stays unmanaged
warning: endpoint lab in MLflow workspace support is not exported (endpoint lab falls back to \
another model, not another key); it stays unmanaged
warning: endpoint assistant in MLflow workspace support: usage tracking on: llmform does not \
represent this and leaves it as it is
warning: secret spare\\x1b[31m in MLflow workspace team-a is not exported (no endpoint routes \
to it as llmform's shape of a config); it stays unmanaged
warning: endpoint chat in MLflow workspace team-a: usage tracking on: llmform does not \
represent this and leaves it as it is
warning: endpoint fast in MLflow workspace team-a: usage tracking on: llmform does not \
represent this and leaves it as it is
"""


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    try:
        with running_server(tmp_path_factory.mktemp("mlflow-adopt")) as server:
            yield server
    except MlflowStartError as exc:
        pytest.fail(f"the MLflow test server did not start: {exc}", pytrace=False)


def hand_made(client: MlflowClient, api_base: str, keys: dict[str, str]) -> dict[str, str]:
    """A gateway made through MLflow's API, as a team would in its UI; the endpoints' ids."""
    auth = {"api_base": api_base}
    client.create_workspace("team-a", "Team A's models")
    prod = client.create_secret(
        "team-a", "openai-prod", "openai", {"api_key": SecretValue(keys["prod"])}, auth
    )
    gpt4o = client.create_model_definition("team-a", "gpt4o", prod.secret_id, "openai", "gpt-4o")
    mini = client.create_model_definition(
        "team-a", "gpt4o-mini", prod.secret_id, "openai", "gpt-4o-mini"
    )
    chat = client.create_endpoint("team-a", "chat", [ModelConfig(gpt4o.model_definition_id)])
    fast = client.create_endpoint("team-a", "fast", [ModelConfig(mini.model_definition_id)])
    # a secret no endpoint uses, its name carrying a terminal escape: stays unmanaged
    client.create_secret(
        "team-a", "spare\x1b[31m", "anthropic", {"api_key": SecretValue(keys["spare"])}
    )

    # in MLflow's own default workspace, which llmform does not manage: stays unmanaged
    legacy = client.create_secret(
        "default", "legacy", "openai", {"api_key": SecretValue(keys["legacy"])}, auth
    )
    old = client.create_model_definition("default", "old", legacy.secret_id, "openai", "gpt-4o")
    client.create_endpoint("default", "old", [ModelConfig(old.model_definition_id)])

    client.create_workspace("support")
    main = client.create_secret(
        "support", "local llm", "openai", {"api_key": SecretValue(keys["main"])}, auth
    )
    backup = client.create_secret(
        "support", "local-llm-backup", "openai", {"api_key": SecretValue(keys["backup"])}, auth
    )
    qwen = client.create_model_definition("support", "qwen", main.secret_id, "openai", "qwen3")
    qwen_b = client.create_model_definition(
        "support", "qwen-b", backup.secret_id, "openai", "qwen3"
    )
    route = [
        ModelConfig(qwen.model_definition_id),
        ModelConfig(qwen_b.model_definition_id, Linkage.FALLBACK, 1.0, 1),
    ]
    assistant = client.create_endpoint("support", "assistant", route, fallback=FallbackConfig())
    # a fallback to another model, not another key: not llmform's shape, stays unmanaged
    lab = client.create_secret(
        "support", "lab", "openai", {"api_key": SecretValue(keys["lab"])}, auth
    )
    a = client.create_model_definition("support", "lab-a", lab.secret_id, "openai", "a")
    b = client.create_model_definition("support", "lab-b", lab.secret_id, "openai", "b")
    lab_route = [
        ModelConfig(a.model_definition_id),
        ModelConfig(b.model_definition_id, Linkage.FALLBACK, 1.0, 1),
    ]
    client.create_endpoint("support", "lab", lab_route, fallback=FallbackConfig())
    return {
        "chat": chat.endpoint_id,
        "fast": fast.endpoint_id,
        "assistant": assistant.endpoint_id,
    }


def test_a_hand_made_gateway_is_exported_planned_and_adopted_under_its_own_names(
    own_server: MlflowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("LLMFORM_STORE", "LLMFORM_STATE"):
        monkeypatch.delenv(name, raising=False)
    labels = ("prod", "spare", "main", "backup", "lab", "legacy", "new-prod", "new-main")
    labels += ("new-backup",)
    keys = {label: f"sk-canary-{label}-{secrets.token_hex(12)}" for label in labels}
    store = ["--store", "mlflow+" + own_server.url]
    seen: list[str] = []

    def run(*args: str) -> tuple[int, str, str]:
        code, out, err = cli(capsys, *args)
        seen.append(out + err)
        return code, out, err

    valid = {keys[k]: "valid" for k in ("new-prod", "new-main", "new-backup")}
    with ProviderServer(
        "openai", valid, models=["gpt-4o", "gpt-4o-mini", "gpt-4.1", "qwen3"]
    ) as provider:
        with MlflowClient(own_server.url) as client:
            ids = hand_made(client, provider.api_base, keys)

        code, out, err = run("export", *store, "-o", "llmform.yaml")
        assert (code, out, err) == (0, "", NOTES)
        exported = (tmp_path / "llmform.yaml").read_text(encoding="utf-8")
        assert exported == EXPORTED.replace("{api_base}", provider.api_base)
        assert not (tmp_path / ".llmform").exists()  # export writes no state

        monkeypatch.setenv("MLFLOW_OPENAI_PROD_API_KEY", keys["new-prod"])
        monkeypatch.setenv("MLFLOW_LOCAL_LLM_API_KEY", keys["new-main"])
        monkeypatch.setenv("MLFLOW_LOCAL_LLM_BACKUP_KEY_1", keys["new-backup"])
        trust = ["--trust-endpoint", provider.api_base]
        # a declaration that would take a model away adopts nothing, and deletes nothing
        partial = exported.replace("  - gpt-4o\n  - gpt-4o-mini\n", "  - gpt-4o\n")
        (tmp_path / "partial.yaml").write_text(partial, encoding="utf-8")
        scoped = ("-w", "team-a", "--no-validate-keys", "--detailed-exitcode", "partial.yaml")
        code, out, err = run("plan", *store, *scoped)
        assert code == 0 and "No changes." in out, out + err
        assert (
            "Warning: config.team-a/openai-prod exists in the store but was not created by "
            "llmform; it is left alone" in out
        ), out
        assert "config.team-a/endpoint:chat" in out and "adopts" not in out, out

        code, out, err = run("init", *store)  # a saved plan needs the state's key
        assert code == 0, out + err
        plan = ("plan", *store, *trust, "--detailed-exitcode", "llmform.yaml", "-o", "plan.json")
        code, out, err = run(*plan)
        assert (code, err.split("\n")[0]) == (2, CHECKING.strip()), out + err
        assert out == PLANNED
        # the saved plan, checked against the gateway again, adopts what it was made against
        code, out, err = run("apply", *store, "plan.json")
        assert code == 0, out + err
        assert "Apply complete! Resources: 0 added, 2 changed, 0 destroyed." in out, out
        assert set(provider.keys_seen()) == {keys["new-prod"], keys["new-main"], keys["new-backup"]}

        code, out, err = run("plan", *store, *trust, "--detailed-exitcode", "llmform.yaml")
        assert (code, err) == (0, CHECKING), out + err
        assert out == AFTER
        code, out, err = run("export", *store)
        # the adopted endpoints' usage tracking is no longer a hand-made object's to note
        kept = [line for line in NOTES.splitlines(True) if "usage tracking" not in line]
        assert code == 0 and err == "".join(kept), out + err
        body = exported.split("apiVersion", 1)[1]
        assert out.startswith("# Exported by llmform from the store (serial 2).\napiVersion")
        assert out.split("apiVersion", 1)[1] == body

        with MlflowClient(own_server.url) as client:
            # the names applications call are there, as they were, now llmform's
            for workspace, name in (
                ("team-a", "chat"),
                ("team-a", "fast"),
                ("support", "assistant"),
            ):
                endpoint = client.get_endpoint_by_name(workspace, name)
                assert endpoint.endpoint_id == ids[name]
                assert endpoint.tags["llmform.managed"] == "true"
                assert endpoint.tags["llmform.adopted"] == "true"
            assert {e.name for e in client.list_endpoints("team-a")} == {"chat", "fast"}
            assert {e.name for e in client.list_endpoints("support")} == {"assistant", "lab"}
            masks = {s.name: s.masked_values["api_key"] for s in client.list_secrets("team-a")}
            assert masks["openai-prod"] == mask(keys["new-prod"])
            assert masks["spare\x1b[31m"] == mask(keys["spare"])  # untouched
            assert set(masks) == {"openai-prod", "spare\x1b[31m"}
            masks = {s.name: s.masked_values["api_key"] for s in client.list_secrets("support")}
            assert masks == {
                "local llm": mask(keys["new-main"]),
                "local-llm-backup": mask(keys["new-backup"]),
                "lab": mask(keys["lab"]),
            }
            names = {d.name for d in client.list_model_definitions("support")}
            assert names == {"qwen", "qwen-b", "lab-a", "lab-b"}

        # from then on llmform manages them: a model added gets llmform's names beside the
        # adopted ones; one removed takes its adopted endpoint and definition with it
        changed = exported.replace("  - gpt-4o\n  - gpt-4o-mini\n", "  - gpt-4.1\n  - gpt-4o\n")
        (tmp_path / "llmform.yaml").write_text(changed, encoding="utf-8")
        code, out, err = run("apply", *store, *trust, "--auto-approve", "llmform.yaml")
        assert code == 0 and "0 added, 1 changed, 0 destroyed" in out, out + err
        code, out, err = run("plan", *store, *trust, "--detailed-exitcode", "llmform.yaml")
        assert code == 0 and "No changes." in out, out + err
        with MlflowClient(own_server.url) as client:
            endpoints = {e.name: e for e in client.list_endpoints("team-a")}
            assert set(endpoints) == {"chat", "openai-prod.gpt-4.1"}
            assert endpoints["chat"].endpoint_id == ids["chat"]
            names = {d.name for d in client.list_model_definitions("team-a")}
            assert names == {"gpt4o", "llmform/openai-prod/gpt-4.1"}
            assert {s.name for s in client.list_secrets("team-a")} == {
                "openai-prod",
                "spare\x1b[31m",
            }

        # disabling an adopted config would delete the endpoints applications call: refused,
        # nothing written
        disabled = changed.replace(
            "  - gpt-4.1\n  - gpt-4o\n", "  - gpt-4.1\n  - gpt-4o\n  enabled: false\n"
        )
        (tmp_path / "disabled.yaml").write_text(disabled, encoding="utf-8")
        code, out, err = run("apply", *store, *trust, "--auto-approve", "disabled.yaml")
        assert code == 1, out + err
        assert "its endpoints were adopted from hand-made MLflow objects" in err, err
        assert "0 of 1 change(s) were applied" in err, err
        with MlflowClient(own_server.url) as client:
            assert set(endpoints) == {e.name for e in client.list_endpoints("team-a")}

    code, out, err = run("audit", "--verify", *store)
    assert code == 0, out + err
    for output in seen:
        assert "\x1b" not in output
        for key in keys.values():
            assert key not in output and mask(key) not in output, output
    for path in [p for p in tmp_path.rglob("*") if p.is_file()]:
        for key in keys.values():
            assert key.encode() not in path.read_bytes(), path


def mask(key: str) -> str:
    """MLflow's masked form of a key."""
    return f"{key[:3]}...{key[-4:]}"


MADE = """\
apiVersion: llmform/v1
factories:
  - name: Local
    type: openai-compatible
    api_base: {api_base}
    models:
      - {{name: m1, type: chat, max_tokens: 1000}}
      - {{name: m2, type: chat, max_tokens: 1000}}
workspaces:
  - name: made
    description: made by llmform
    defaults: {{chat: main/m1}}
configs:
  - name: main
    workspace: made
    factory: Local
    api_key: {{env: MADE_KEY}}
    backup_keys: [{{env: MADE_BACKUP}}]
    models: [m1, m2]
"""

ROUND_TRIP = """\
# Exported by llmform from the store (serial 3).
apiVersion: llmform/v1
factories:
- name: Local
  type: openai-compatible
  api_base: {api_base}
  models:
  - max_tokens: 1000
    name: m1
    type: chat
  - max_tokens: 1000
    name: m2
    type: chat
workspaces:
- name: made
  description: made by llmform
  defaults:
    chat: main/m1
configs:
- name: main
  workspace: made
  factory: Local
  api_key:
    env: MADE_KEY
  backup_keys:
  - env: MADE_BACKUP
  models:
  - m1
  - m2
"""


def test_a_gateway_llmform_made_exports_as_it_was_declared_and_plans_no_changes(
    own_server: MlflowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nothing to adopt (the other test's objects are another state's, or stay unmanaged)."""
    monkeypatch.chdir(tmp_path)
    for name in ("LLMFORM_STORE", "LLMFORM_STATE"):
        monkeypatch.delenv(name, raising=False)
    key, backup = (f"sk-canary-{secrets.token_hex(12)}" for _ in range(2))
    monkeypatch.setenv("MADE_KEY", key)
    monkeypatch.setenv("MADE_BACKUP", backup)
    store = ["--store", "mlflow+" + own_server.url]
    with ProviderServer("openai", {key: "valid", backup: "valid"}, models=["m1", "m2"]) as server:
        trust = ["--trust-endpoint", server.api_base]
        (tmp_path / "made.yaml").write_text(MADE.format(api_base=server.api_base))
        code, out, err = cli(capsys, "apply", *store, *trust, "--auto-approve", "made.yaml")
        assert code == 0, out + err
        code, out, err = cli(capsys, "export", *store, "-o", "exported.yaml")
        assert code == 0 and not out and "made" not in err, out + err
        exported = (tmp_path / "exported.yaml").read_text(encoding="utf-8")
        assert exported == ROUND_TRIP.format(api_base=server.api_base)
        plan = ("plan", *store, *trust, "--detailed-exitcode", "exported.yaml")
        code, out, err = cli(capsys, *plan)
        assert code == 0 and "No changes." in out, out + err
        unmanaged = out.split("\n\n")[0]  # none of it: all llmform's own
        assert "made" not in unmanaged and "adopts" not in out, out
        for text in (out, err, exported):
            assert key not in text and backup not in text
