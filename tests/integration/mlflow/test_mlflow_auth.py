"""The gateway behind authentication, through the CLI: MLflow's own basic-auth app (a second
real ``mlflow server``, ``--app-name basic-auth`` with workspaces), and a token-checking proxy in
front of the session's server for ``MLFLOW_TRACKING_TOKEN`` (the basic-auth app takes no bearer
tokens: such tokens are checked by whatever stands in front of MLflow).

With the right credentials plan and apply work; with a wrong password or none, each command
fails with exit 1 and one clear message naming the variables to check: no traceback, no
password, nothing written to MLflow or to llmform's state. A user without grants is shown empty
lists by MLflow (it filters them), and their apply stops at its first write, MLflow's 403 named.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from support.bearer_proxy import BearerProxy
from support.mlflow_server import MlflowServer
from support.provider_servers import ProviderServer
from support.stores import cli, dump
from test_mlflow_cli import YAML  # the CLI test's gateway: a config, two models

from llmform.secrets.base import SecretValue
from llmform.targets.mlflow.client import MlflowClient
from llmform.targets.mlflow.wire import Credentials

CREDENTIALS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
REFUSED = "(check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD)"


def admin(server: MlflowServer) -> Credentials:
    return Credentials(username=server.username, password=SecretValue(server.password))


def test_basic_auth_plan_apply_and_refusals(
    mlflow_auth_server: MlflowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = mlflow_auth_server
    canary = f"sk-canary-{secrets.token_hex(16)}"
    workspace = f"auth-{secrets.token_hex(4)}"
    monkeypatch.chdir(tmp_path)
    for name in ("LLMFORM_STORE", "LLMFORM_STATE", *CREDENTIALS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_CLI_KEY", canary)
    store = ["--store", "mlflow+" + server.url]
    state = tmp_path / ".llmform" / "state.db"
    seen: list[str] = []

    def run(*args: str) -> tuple[int, str, str]:
        code, out, err = cli(capsys, *args)
        seen.append(out + err)
        return code, out, err

    def as_user(username: str | None, password: str | None) -> None:
        for name, value in (("USERNAME", username), ("PASSWORD", password)):
            if value is None:
                monkeypatch.delenv(f"MLFLOW_TRACKING_{name}", raising=False)
            else:
                monkeypatch.setenv(f"MLFLOW_TRACKING_{name}", value)

    def gateway() -> MlflowClient:  # as the admin, whatever the environment says
        return MlflowClient(server.url, admin(server))

    with ProviderServer("openai", {canary: "valid"}, models=["m1", "m2"]) as provider:
        trust = ["--trust-endpoint", provider.api_base]

        def write(models: str) -> None:
            text = YAML.format(api_base=provider.api_base, workspace=workspace, models=models)
            (tmp_path / "llmform.yaml").write_text(text, encoding="utf-8")

        write("m1")
        as_user(server.username, server.password)
        code, out, err = run("plan", *store, *trust, "--detailed-exitcode", "llmform.yaml")
        assert code == 2 and "3 to add" in out, out + err
        code, out, err = run("apply", *store, *trust, "--auto-approve", "llmform.yaml")
        assert code == 0 and "Apply complete! Resources: 3 added" in out, out + err
        with gateway() as client:
            assert [e.name for e in client.list_endpoints(workspace)] == ["main.m1"]
        applied = dump(state)

        write("m1, m2")  # a change that a refused apply must not make
        wrong = f"wrong-{secrets.token_hex(8)}"
        for username, password in ((server.username, wrong), (None, None)):
            as_user(username, password)
            for command in ("plan", "apply"):
                extra = ["--auto-approve"] if command == "apply" else []
                code, out, err = run(command, *store, *trust, *extra, "llmform.yaml")
                assert code == 1, out + err
                assert "HTTP 401" in err and REFUSED in err, err
                assert f"MLflow at {server.url}: GET /api/3.0/mlflow/workspaces" in err, err
                assert wrong not in out + err and server.password not in out + err
        assert dump(state) == applied
        with gateway() as client:
            assert [e.name for e in client.list_endpoints(workspace)] == ["main.m1"]

        # credentials in the URL, with none in the environment, authenticate too
        as_user(None, None)
        in_url = server.url.replace("://", f"://{server.username}:{server.password}@")
        code, out, err = run(
            "apply", "--store", f"mlflow+{in_url}", *trust, "--auto-approve", "llmform.yaml"
        )
        assert code == 0 and "1 changed" in out, out + err

        # a user without grants: MLflow's lists show them nothing (so the plan proposes to
        # create what they cannot see), and the first write is refused, named as such
        user, password = f"nobody-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
        made = httpx.post(
            f"{server.url}/api/2.0/mlflow/users/create",
            json={"username": user, "password": password},
            auth=(server.username, server.password),
        )
        assert made.status_code == 200, made.text
        as_user(user, password)
        code, out, err = run(
            "apply", *store, "--no-validate-keys", "--auto-approve", "llmform.yaml"
        )
        assert code == 1 and "apply stopped at workspace." in err, out + err
        assert "POST /api/3.0/mlflow/workspaces: HTTP 403: Permission denied " + REFUSED in err
        assert password not in out + err
        with gateway() as client:
            assert [e.name for e in client.list_endpoints(workspace)] == ["main.m1", "main.m2"]

    for output in seen:
        assert canary not in output and server.password not in output, output


def test_a_tracking_token_is_sent_as_bearer_and_a_wrong_one_refused(
    mlflow_server: MlflowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = f"tok-{secrets.token_urlsafe(16)}"
    workspace = f"bearer-{secrets.token_hex(4)}"
    monkeypatch.chdir(tmp_path)
    for name in ("LLMFORM_STORE", "LLMFORM_STATE", *CREDENTIALS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_CLI_KEY", f"sk-{secrets.token_hex(16)}")
    text = YAML.format(api_base="http://127.0.0.1:9/v1", workspace=workspace, models="m1")
    (tmp_path / "llmform.yaml").write_text(text, encoding="utf-8")
    state = tmp_path / ".llmform" / "state.db"
    seen: list[str] = []

    with BearerProxy(mlflow_server.url, token) as proxy:
        store = ["--store", f"mlflow+{proxy.url}", "--no-validate-keys"]

        def run(*args: str) -> tuple[int, str, str]:
            code, out, err = cli(capsys, *args, *store, "llmform.yaml")
            seen.append(out + err)
            return code, out, err

        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
        code, out, err = run("apply", "--auto-approve")
        assert code == 0 and "Apply complete! Resources: 3 added" in out, out + err
        assert proxy.seen and set(proxy.seen) == {f"Bearer {token}"}
        applied = dump(state)

        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", f"{token}-revoked")
        for command in (["plan"], ["apply", "--auto-approve"]):
            code, out, err = run(*command)
            assert code == 1, out + err
            assert f"HTTP 401 UNAUTHENTICATED: invalid bearer token {REFUSED}" in err, err
        assert dump(state) == applied

    with MlflowClient(mlflow_server.url) as client:
        assert [e.name for e in client.list_endpoints(workspace)] == ["main.m1"]
    assert not [output for output in seen if token in output]
