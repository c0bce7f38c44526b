"""The MLflow AI Gateway tests' server: one real ``mlflow server`` per test session
(tests/support/mlflow_server.py), started when a test first asks for it, stopped at the end.

A server that is missing or cannot start fails the tests that need it, with its log; it never
skips them: a skip would hide that nothing was checked against a real gateway.

``mlflow_auth_server``: a second server, with MLflow's basic-auth app, started only for the
tests that ask for it.

``repo``: an llmform repository in the test's folder (its working directory) managing a
workspace of its own on that server, through the CLI (tests/support/mlflow_live.py).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from support.mlflow_live import Repo, Seen
from support.mlflow_server import MlflowServer, MlflowStartError, running_server


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with ExitStack() as stack:
        try:
            server = stack.enter_context(running_server(tmp_path_factory.mktemp("mlflow")))
        except MlflowStartError as exc:
            pytest.fail(f"the MLflow test server did not start: {exc}", pytrace=False)
        yield server


@pytest.fixture(scope="session")
def mlflow_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A second server, with MLflow's basic-auth app (its admin's ``username`` and
    ``password``): started only for the tests that ask for it (~6-12 s)."""
    with ExitStack() as stack:
        workdir = tmp_path_factory.mktemp("mlflow-auth")
        try:
            server = stack.enter_context(running_server(workdir, basic_auth=True))
        except MlflowStartError as exc:
            pytest.fail(f"the MLflow test server with auth did not start: {exc}", pytrace=False)
        yield server


@pytest.fixture
def repo(
    mlflow_server: MlflowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Repo]:
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    for name in ("LLMFORM_STORE", "LLMFORM_STATE"):
        monkeypatch.delenv(name, raising=False)
    yield Repo(mlflow_server, tmp_path, f"live-{secrets.token_hex(4)}", capsys, Seen())
