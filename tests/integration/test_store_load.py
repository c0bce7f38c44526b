"""The issue's load, on each store (``store_url``: a SQLite file, a PostgreSQL database): 20
plans and 5 applies of different changes at once, each a real ``llmform`` process.

Three of the applies plan under the lock (``apply --auto-approve``): each lands, whatever landed
before it. Two apply plans saved before the load began: the first to take the lock may land if
nothing landed before it, every other one is refused as stale. Whatever the order, the audit
trail verifies, holds each landed apply whole and apart from the others, the serial moves by
one per landed apply and never back, the registry is the desired state of the apply that landed
last, no lock is left, and every plan finished without waiting on an apply.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.audit_runs import runs_in_order
from support.store_db import serial, store_db
from support.stores import OFFLINE, cli

from llmform.targets import OpenMode, open_store

RUNS = 5
SAVED = 2  # of the RUNS applies, these apply a saved plan; the others plan under the lock
PLANS = 20
CONFIGS = 5  # per run, so that each apply writes a few rows in several tables


def desired(run: int) -> str:
    """Run ``run``'s desired state: a workspace of its own with configs (created by its apply,
    deleted by the next one's), and a workspace every run updates."""
    lines = [
        "apiVersion: llmform/v1",
        "workspaces:",
        f"  - {{name: shared, labels: {{last: r{run}}}}}",
        f"  - {{name: r{run}}}",
        "configs:",
    ]
    lines += [
        f"  - {{name: c{k}, workspace: r{run}, factory: Ollama, description: run {run},"
        " models: [{name: llama3.2, type: chat}]}"
        for k in range(CONFIGS)
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Run:
    name: str
    process: subprocess.Popen[str]
    out: Path
    err: Path

    def result(self, timeout: float) -> tuple[int, str, str]:
        code = self.process.wait(timeout=timeout)
        return code, self.out.read_text(), self.err.read_text()


def start(here: Path, name: str, *args: str) -> Run:
    # output to files, not pipes: nothing reads a pipe while the test waits
    out, err = here / f"{name}.out", here / f"{name}.err"
    with out.open("w") as out_file, err.open("w") as err_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "llmform.cli", "--no-color", *args],
            cwd=here,
            env={**os.environ, "NO_COLOR": "1"},
            stdout=out_file,
            stderr=err_file,
            text=True,
        )
    return Run(name, process, out, err)


class SerialWatch(threading.Thread):
    """Reads the serial over and over while the load runs: every value it sees."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.seen, self.stop = url, [serial(url)], threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            self.seen.append(serial(self.url))


def test_twenty_plans_and_five_applies_at_once(
    tmp_path: Path,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    paths = []
    for run in range(RUNS):
        paths.append(tmp_path / f"r{run}.yaml")
        paths[-1].write_text(desired(run))
    first = tmp_path / "first.yaml"
    first.write_text(desired(99))
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", store_url, str(first))[0] == 0
    for run in range(SAVED):
        code, out, err = cli(
            capsys, "plan", OFFLINE, "-o", f"r{run}.plan", "--store", store_url, str(paths[run])
        )
        assert code == 0, out + err
    before = serial(store_url)

    watch = SerialWatch(store_url)
    watch.start()
    started = time.monotonic()
    applies, plans = [], []
    for index in range(max(RUNS, PLANS)):
        if index < RUNS:
            what = f"r{index}.plan" if index < SAVED else str(paths[index])
            applies.append(
                start(
                    tmp_path,
                    f"apply{index}",
                    *("apply", OFFLINE, "--auto-approve", "--lock-timeout", "25"),
                    *("--store", store_url, what),
                )
            )
        if index < PLANS:
            path = str(paths[index % RUNS])
            plans.append(
                start(tmp_path, f"plan{index}", "plan", OFFLINE, "--store", store_url, path)
            )
    try:
        results = {run.name: run.result(timeout=60) for run in applies + plans}
    finally:
        watch.stop.set()
        watch.join()
        for run in applies + plans:  # a failed test leaves no run behind
            if run.process.poll() is None:
                run.process.kill()
    took = time.monotonic() - started

    landed: list[int] = []
    for index in range(RUNS):
        code, out, err = results[f"apply{index}"]
        assert "Traceback" not in out + err, out + err
        if code == 0:
            assert "Apply complete! Resources: " in out, out + err
            landed.append(index)
        else:  # refused clearly, having changed nothing
            assert code == 1, out + err
            assert index < SAVED, f"an apply that plans under the lock failed: {out + err}"
            assert "the store changed since the plan was made" in err, out + err
    assert len(landed) >= RUNS - SAVED
    for index in range(PLANS):
        code, out, err = results[f"plan{index}"]
        assert code == 0 and "Traceback" not in err, out + err
        # a plan whose run had just landed finds nothing to do
        assert "Plan: " in out or "No changes." in out, out + err

    # the trail: whole, unbroken, one run per landed apply
    code, out, err = cli(capsys, "audit", "--verify", "--store", store_url)
    assert code == 0, out + err
    store = open_store(store_url, OpenMode.READ)
    try:
        events = store.audit_events()
    finally:
        store.close()
    order = runs_in_order(events)
    assert len(order) == 1 + len(landed)  # the first apply, then each landed one
    # the serial: one step per landed apply, never back, never two applies at one value
    assert serial(store_url) == before + len(landed)
    assert watch.seen == sorted(watch.seen) and watch.seen[-1] == before + len(landed)
    # no lost update: the registry is exactly the desired state of the apply that landed last
    last = {e.address for e in events if e.run_id == order[-1] and e.action == "create"}
    (winner,) = [i for i in landed if f"workspace.r{i}" in last]
    code, out, err = cli(
        capsys, "plan", OFFLINE, "--detailed-exitcode", "--store", store_url, str(paths[winner])
    )
    assert code == 0, out + err
    with store_db(store_url) as db:
        assert db.rows("SELECT * FROM locks") == []
        assert db.rows("SELECT name FROM workspaces ORDER BY name") == [
            (f"r{winner}",),
            ("shared",),
        ]
    assert took < 60, f"the load took {took:.0f}s"
