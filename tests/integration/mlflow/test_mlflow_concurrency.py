"""Two ``llmform apply`` processes against the same real gateway and the same state, on SQLite and
on PostgreSQL: while the first holds the state's lock (paused after its first step, by a small
wrapper that patches the MLflow target's ``apply_change`` and then runs ``llmform.cli.main`` in
the same process, so the lock names that process), a second with a short ``--lock-timeout``
fails naming it and changes nothing, and one with a long timeout waits, then applies its own
configuration on top of the first's. The runs never interleave in the audit trail, which
verifies, and the gateway ends as the last run's configuration says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.mlflow_live import KEY_ENV, Repo, canary, state_yaml
from support.processes import stop_group
from support.provider_servers import ProviderServer
from support.store_db import store_db

from llmform.targets.mlflow.client import MlflowClient

STATE_TABLES = ("meta", "locks", "audit_events", "applied")

WRAPPER = r"""
import os, sys, time
from pathlib import Path
from llmform.targets.mlflow.target import MlflowTarget

real, calls = MlflowTarget.apply_change, [0]
def apply_change(self, change, sealed=None):
    real(self, change, sealed)
    calls[0] += 1
    if calls[0] == 1 and os.environ.get("LLMFORM_TEST_MARKER"):
        Path(os.environ["LLMFORM_TEST_MARKER"]).write_text(str(os.getpid()))
        release, deadline = Path(os.environ["LLMFORM_TEST_RELEASE"]), time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
MlflowTarget.apply_change = apply_change

from llmform.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """The processes a test starts, each stopped (its whole group) when the test ends."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        stop_group(process)  # type: ignore[arg-type]
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def start(
    started: list[subprocess.Popen[str]], folder: Path, args: list[str], env: dict[str, str]
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, "--no-color", *args],
        cwd=folder,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started.append(process)
    return process


def finish(repo: Repo, process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=180)
    repo.seen.outputs.append(out + err)
    assert "Traceback" not in out + err, out + err
    return process.returncode, out, err


def wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the first run never reached its pause"
        time.sleep(0.05)


def test_a_second_apply_fails_naming_the_holder_or_waits_and_never_interleaves(
    repo: Repo,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    started: list[subprocess.Popen[str]],
) -> None:
    key = canary("concurrency")
    ws = repo.workspace
    marker, release = tmp_path / "paused", tmp_path / "release"
    with ProviderServer("openai", {key: "valid"}, models=["m1", "m2"]) as provider:
        folders = {}
        for run, models in (("first", ("m1",)), ("second", ("m1", "m2"))):
            folders[run] = tmp_path / run
            folders[run].mkdir()
            text = state_yaml(ws, provider.api_base, models, description=f"the {run} run's")
            (folders[run] / "llmform.yaml").write_text(text, encoding="utf-8")
        common = ["--state", store_url, "--trust-endpoint", provider.api_base, "--auto-approve"]
        apply = ["apply", *repo.store, *common]
        env = {KEY_ENV: key}
        # the state exists (``init``): the lock the runs meet is the state's own lock row
        code, out, err = finish(
            repo, start(started, tmp_path, ["init", *common[:2], *repo.store], {})
        )
        assert code == 0, out + err

        first = start(
            started,
            folders["first"],
            apply,
            {**env, "LLMFORM_TEST_MARKER": str(marker), "LLMFORM_TEST_RELEASE": str(release)},
        )
        wait_for(marker, first)
        holder_pid = int(marker.read_text())

        # a short timeout: refused, naming the run that holds the lock; nothing changed
        impatient = start(started, folders["second"], [*apply, "--lock-timeout", "1"], env)
        code, out, err = finish(repo, impatient)
        assert code == 1 and "Apply complete" not in out, out + err
        assert f"(pid {holder_pid})" in err and "(lock " in err and "apply" in err, err
        assert "llmform force-unlock" in err, err

        # a long one waits for the first to finish, then applies on top of it
        patient = start(started, folders["second"], [*apply, "--lock-timeout", "120"], env)
        time.sleep(3)
        assert patient.poll() is None  # waiting: the first still holds the lock
        with MlflowClient(repo.server.url) as client:
            assert ws not in {w.name for w in client.list_workspaces()}  # first step: factory
        release.write_text("")
        code, out, err = finish(repo, first)
        assert code == 0 and "Resources: 3 added, 0 changed, 0 destroyed." in out, out + err
        code, out, err = finish(repo, patient)
        assert code == 0 and "Resources: 0 added, 2 changed, 0 destroyed." in out, out + err

        # the gateway is as the last run's configuration says; its plan has nothing to do
        with MlflowClient(repo.server.url) as client:
            (workspace,) = [w for w in client.list_workspaces() if w.name == ws]
            assert workspace.description == "the second run's"
            assert {e.name for e in client.list_endpoints(ws)} == {"main.m1", "main.m2"}
        plan = ["plan", *repo.store, *common[:4], "--detailed-exitcode"]
        code, out, err = finish(repo, start(started, folders["second"], plan, env))
        assert code == 0 and "No changes." in out, out + err

    # each run's events in one piece, the refused run's nowhere; the chain verifies
    audit = ["audit", *repo.store, "--state", store_url]
    code, out, err = finish(repo, start(started, tmp_path, [*audit, "--json"], {}))
    assert code == 0, err
    runs = [json.loads(line)["run_id"] for line in out.splitlines()]
    assert len(set(runs)) == 2 and runs == sorted(runs, key=runs.index), runs
    code, out, err = finish(repo, start(started, tmp_path, [*audit, "--verify"], {}))
    assert code == 0, out + err
    repo.seen.check_clean((key,), repo.root, repo.server, caplog)
    with store_db(store_url) as db:  # the state's rows, on PostgreSQL too
        rows = {table: db.rows(f"SELECT * FROM {table}") for table in STATE_TABLES}
    assert rows["applied"] and rows["audit_events"] and not rows["locks"]
    assert key not in repr(rows) and json.dumps(key)[1:-1] not in repr(rows)
