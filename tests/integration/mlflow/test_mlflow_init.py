"""``llmform init --store mlflow+http://...``: llmform's state of the gateway is created in the
state store (``--state``, by default ``sqlite:///.llmform/state.db``); MLflow is only read, first,
so that a server that cannot be reached gets no state, and nothing is created or changed in it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.mlflow_server import MlflowServer, free_port
from support.stores import cli, dump

from llmform.targets.mlflow.client import MlflowClient


def gateway_objects(url: str) -> list[object]:
    with MlflowClient(url) as client:
        spaces = client.list_workspaces()
        return [(w, client.list_secrets(w.name), client.list_endpoints(w.name)) for w in spaces]


def test_init_creates_llmforms_state_of_the_gateway_and_nothing_in_mlflow(
    mlflow_server: MlflowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("LLMFORM_STORE", "LLMFORM_STATE"):
        monkeypatch.delenv(name, raising=False)
    store = f"mlflow+{mlflow_server.url}"
    before = gateway_objects(mlflow_server.url)

    code, out, err = cli(capsys, "init", "--store", store)
    assert (code, err) == (0, ""), out + err
    assert out == (
        f"Created llmform's state of {store} in sqlite:///.llmform/state.db (empty, serial 0); "
        f"{store} was only read: init creates and changes nothing there.\n"
    )
    state = dump(tmp_path / ".llmform" / "state.db")
    assert any(store in line for line in state)

    code, out, err = cli(capsys, "init", "--store", store)
    assert (code, out, err) == (
        0,
        f"llmform's state of {store} in sqlite:///.llmform/state.db exists already (serial 0); "
        "nothing was changed.\n",
        "",
    )
    assert dump(tmp_path / ".llmform" / "state.db") == state

    code, out, err = cli(capsys, "init", "--store", store, "--state", "sqlite:///team.db")
    assert code == 0 and out.startswith(f"Created llmform's state of {store} in sqlite:///team.db")
    assert gateway_objects(mlflow_server.url) == before


def test_init_against_an_unreachable_server_creates_no_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("LLMFORM_STORE", "LLMFORM_STATE"):
        monkeypatch.delenv(name, raising=False)
    store = f"mlflow+http://127.0.0.1:{free_port()}"  # nothing listens there

    code, out, err = cli(capsys, "init", "--store", store)

    assert (code, out) == (1, ""), err
    assert err.startswith(
        f"error: MLflow at {store.removeprefix('mlflow+')}: GET /api/3.0/mlflow/workspaces: "
        "cannot connect (is the server running, the port right?)"
    ), err
    assert list(tmp_path.iterdir()) == []
