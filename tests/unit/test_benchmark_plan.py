"""benchmarks/plan.py runs (its figures are for people; only that it works is asserted), on its
default store (a temporary SQLite file) and on the session's PostgreSQL server (``--store``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_plan_benchmark_smoke(request: pytest.FixtureRequest, store: str) -> None:
    where = [] if store == "sqlite" else ["--store", request.getfixturevalue("postgres_url")]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "plan.py"), "--smoke", *where],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"store: {store}\n" in done.stdout
    assert "apply of 324 creates:" in done.stdout  # 300 configs + 20 workspaces + 4 factories
    assert "no-change plan:" in done.stdout
    assert "floor (C-loader parse + one store read):" in done.stdout
