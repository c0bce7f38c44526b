"""The MLflow AI Gateway tests' server: one real ``mlflow server`` per test session
(tests/support/mlflow_server.py), started when a test first asks for it, stopped at the end.

A server that is missing or cannot start fails the tests that need it, with its log; it never
skips them: a skip would hide that nothing was checked against a real gateway.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from support.mlflow_server import MlflowServer, MlflowStartError, running_server


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with ExitStack() as stack:
        try:
            server = stack.enter_context(running_server(tmp_path_factory.mktemp("mlflow")))
        except MlflowStartError as exc:
            pytest.fail(f"the MLflow test server did not start: {exc}", pytrace=False)
        yield server
