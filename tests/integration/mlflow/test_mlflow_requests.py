"""A plan against the gateway reads each object type once per workspace, not once per object:
benchmarks/gateway.py's own measurement, at a small scale, against the session's real
``mlflow server``. Counts are asserted, never times.

12 configs over 3 workspaces (4 configs each, each with a backup key and two models: 8 secrets,
16 model definitions and 8 endpoints a workspace, and a default endpoint) are applied; then a
no-change plan and a one-change plan each send exactly one workspace listing and, per MLflow
workspace (the server's others too: a plan lists them all to find the unmanaged), one listing
of secrets, of model definitions and of endpoints.
"""

from __future__ import annotations

import importlib.util
import secrets
import sys
from pathlib import Path
from types import ModuleType

import pytest
from support.mlflow_server import GATEWAY_LISTINGS, WORKSPACE_LISTING, MlflowServer

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "gateway.py"
CONFIGS, WORKSPACES = 12, 3


def benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llmform_gateway_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None, SCRIPT
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_plan_reads_each_object_type_once_per_workspace(
    mlflow_server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(CONFIGS):  # the benchmark sets its keys in the environment: undone after
        monkeypatch.setenv(f"GATEWAY_BENCH_KEY_{i}", "")
        monkeypatch.setenv(f"GATEWAY_BENCH_BACKUP_{i}", "")
    prefix = f"req-{secrets.token_hex(3)}-"

    measured = benchmark().measure(mlflow_server.url, tmp_path, CONFIGS, WORKSPACES, prefix)

    assert measured.problems == []
    in_mlflow = measured.workspaces_in_mlflow
    assert in_mlflow >= WORKSPACES + 1  # ours and MLflow's "default"
    one_read_each = {WORKSPACE_LISTING: 1} | {kind: in_mlflow for kind in GATEWAY_LISTINGS}
    for title in ("no-change plan", "one-change plan"):
        *_, by_kind = measured.phases[title]
        assert dict(by_kind) == one_read_each, title
    # what was applied, as the gateway's calls: per config 2 secrets, 4 model definitions,
    # 2 endpoints with 3 tags each; per workspace a default endpoint with 2 tags
    *_, applied = measured.phases["apply of creates"]
    gateway = "POST /api/3.0/mlflow/gateway"
    assert applied[f"{gateway}/secrets/create"] == 2 * CONFIGS
    assert applied[f"{gateway}/model-definitions/create"] == 4 * CONFIGS
    assert applied[f"{gateway}/endpoints/create"] == 2 * CONFIGS + WORKSPACES
    assert applied[f"{gateway}/endpoints/set-tag"] == 6 * CONFIGS + 2 * WORKSPACES
    assert applied["POST /api/3.0/mlflow/workspaces"] == WORKSPACES
