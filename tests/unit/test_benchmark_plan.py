"""benchmarks/plan.py runs (its figures are for people; only that it works is asserted), on its
default store (a temporary SQLite file) and on the session's PostgreSQL server (``--store``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = r"\d+\.\d{3} s wall +\d+\.\d{3} s cpu +\d+\.\d MiB peak"


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
    for line in (
        "floor (C-loader parse + SELECT * of the registry):",
        "no-change plan:",
        "no-change plan --format json:",
        "no-change plan -w (one workspace):",
        "plan after one file changed:",
        "no-change plan, warm cache:",
        "plan after one file changed, warm cache:",
        "apply of one changed config:",  # the benchmark exits 1 unless exactly one changed
    ):
        assert re.search(rf"^{re.escape(line)} +{FIGURES}", done.stdout, re.M), done.stdout
