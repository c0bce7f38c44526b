"""Concurrent and killed applies on one SQLite store, with real ``llmform`` processes.

A run is made slow at a chosen point by a small wrapper that patches one function and then runs
``llmform.cli.main`` in the same process (so the lock names that process's pid): while it
resolves secrets (it holds the apply lock, outside any SQL transaction) or right after the k-th
change inside the apply transaction. Nothing else is a double: the store, the files, the
processes and the signals are real.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.audit_runs import runs_in_order

from llmform.desired.validate import load_state
from llmform.engine.plan import make_plan
from llmform.secrets.env import EnvResolver
from llmform.state.audit import AuditEvent
from llmform.state.audit_check import verify
from llmform.state.lock import LockInfo, holder_is_gone
from llmform.targets.registry.sqlite import SqliteStore

WRAPPER = r"""
import os, shutil, sys, time
from pathlib import Path

def hold(where):
    Path(os.environ["LLMFORM_TEST_MARKER"]).write_text(where)
    time.sleep(float(os.environ["LLMFORM_TEST_SLEEP"]))

pause = os.environ.get("LLMFORM_TEST_PAUSE", "")
if pause == "read":
    # the store's read that the plan under the apply lock starts with, its digests (apply also
    # plans once before the lock, so that a refusal writes nothing: that read does not pause)
    from contextlib import contextmanager
    from llmform.targets.registry.sqlite import SqliteStore
    real_read, real_lock, locked = SqliteStore.read_digests, SqliteStore.lock, [False]
    @contextmanager
    def lock(self, *args, **kwargs):
        with real_lock(self, *args, **kwargs) as info:
            locked[0] = True
            yield info
    def read(self, *args):
        if locked[0]:
            hold("read")
        return real_read(self, *args)
    SqliteStore.read_digests, SqliteStore.lock = read, lock
elif pause.startswith("change:"):
    from llmform.targets.registry import registry_sql
    real_change = registry_sql.apply_change
    at, calls = int(pause.split(":")[1]), [0]
    def apply_change(cur, change, *rest):
        real_change(cur, change, *rest)
        calls[0] += 1
        if calls[0] == at:
            hold("transaction")
    registry_sql.apply_change = apply_change

if os.environ.get("LLMFORM_TEST_SNAPSHOT"):
    # the file as it is just before the apply transaction, and a page cache so small that the
    # transaction spills changed pages into the file before it commits
    from llmform.targets.registry.sqlite import SqliteStore
    real_apply, real_migrate = SqliteStore.apply, SqliteStore._migrate
    def apply(self, *args, **kwargs):
        shutil.copyfile(self.path, os.environ["LLMFORM_TEST_SNAPSHOT"])
        return real_apply(self, *args, **kwargs)
    def migrate(self, conn):
        real_migrate(self, conn)
        conn.execute("PRAGMA cache_size = 2")
    SqliteStore.apply, SqliteStore._migrate = apply, migrate

from llmform.cli import main
sys.exit(main(sys.argv[1:]))
"""

KEY_ENV = "LLMFORM_CC_KEY"
ENV = {KEY_ENV: "sk-concurrency-test-key"}


def _state(own: str, configs: int = 1) -> str:
    """A configuration with a workspace of its own (so each run's audit events say which run
    it was) and a shared workspace that every run updates."""
    lines = [
        "apiVersion: llmform/v1",
        "workspaces:",
        f"  - {{name: {own}}}",
        f"  - {{name: shared, labels: {{last: {own}}}}}",
        "configs:",
    ]
    for index in range(configs):
        lines.append(
            f"  - {{name: c{index}, workspace: {own}, factory: DeepSeek,"
            f" api_key: {{env: {KEY_ENV}}}, models: [deepseek-chat], description: run {own}}}"
        )
    return "\n".join(lines) + "\n"


@dataclass
class Scene:
    root: Path
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def db(self) -> Path:
        return self.root / "registry.db"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def write(self, name: str, text: str) -> Path:
        path = self.root / name / "llmform.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def start(
        self,
        path: Path,
        *,
        lock_timeout: float = 30,
        pause: str = "",
        sleep: float = 0,
        extra_env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            **ENV,
            "LLMFORM_TEST_PAUSE": pause,
            "LLMFORM_TEST_SLEEP": str(sleep),
            "LLMFORM_TEST_MARKER": str(self.marker(path)),
            "NO_COLOR": "1",
            **(extra_env or {}),
        }
        # The lock is the subject here; key checks have their own tests (test_cli_key_checks).
        args = ["apply", "--auto-approve", "--no-validate-keys", "--store", self.url]
        args += ["--lock-timeout", str(lock_timeout), str(path)]
        # output to files, not pipes: a big plan would fill a pipe nobody reads while waiting
        number = len(self.processes)
        with (
            open(self.root / f"out{number}.txt", "w") as out,
            open(self.root / f"err{number}.txt", "w") as err,
        ):
            process = subprocess.Popen(
                [sys.executable, "-c", WRAPPER, *args], env=env, stdout=out, stderr=err, text=True
            )
        self.processes.append(process)
        return process

    def finish(self, process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
        process.wait(timeout=timeout)
        number = self.processes.index(process)
        out = (self.root / f"out{number}.txt").read_text()
        return process.returncode, out, (self.root / f"err{number}.txt").read_text()

    def marker(self, path: Path) -> Path:
        return path.parent / "paused"

    def wait_for_pause(self, path: Path, process: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + 30
        while not self.marker(path).exists():
            assert process.poll() is None, f"the run ended before pausing: {self.finish(process)}"
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"the run never reached its pause: {self.finish(process)}")
            time.sleep(0.02)

    def is_applied(self, path: Path) -> bool:
        store = SqliteStore(self.url)
        try:
            plan = make_plan(load_state([str(path)]), store, EnvResolver(ENV))
            return plan.actionable == ()
        finally:
            store.close()

    def events(self) -> list[AuditEvent]:
        store = SqliteStore(self.url)
        try:
            return store.audit_events()
        finally:
            store.close()


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene(tmp_path)
    yield scene
    for process in scene.processes:  # a failed test leaves no run behind
        if process.poll() is None:
            process.kill()
        process.wait()


def _created(events: Sequence[AuditEvent], run: str) -> set[str]:
    return {e.address for e in events if e.run_id == run and e.action == "create"}


def test_a_second_apply_fails_naming_the_holder_when_its_lock_timeout_runs_out(
    scene: Scene,
) -> None:
    alpha, beta = scene.write("alpha", _state("alpha")), scene.write("beta", _state("beta"))
    first = scene.start(alpha, pause="read", sleep=4)
    scene.wait_for_pause(alpha, first)

    started = time.monotonic()
    code, out, err = scene.finish(scene.start(beta, lock_timeout=0.5))
    waited = time.monotonic() - started

    assert code == 1, (out, err)
    assert "locked by" in err and f"(pid {first.pid})" in err, err
    assert "force-unlock" in err and "Traceback" not in err, err
    assert waited < 3.5, f"--lock-timeout 0.5 but the run waited {waited:.1f}s"
    assert scene.finish(first)[0] == 0
    assert scene.is_applied(alpha) and not scene.is_applied(beta)
    events = scene.events()
    assert verify(events) is None
    assert len(runs_in_order(events)) == 1


def test_a_second_apply_fails_naming_the_holder_while_the_holder_is_mid_transaction(
    scene: Scene,
) -> None:
    """The holder is inside its SQL transaction: the second run must still give up after its
    own --lock-timeout and name the holder, not hang on SQLite's busy wait."""
    alpha, beta = scene.write("alpha", _state("alpha")), scene.write("beta", _state("beta"))
    first = scene.start(alpha, pause="change:1", sleep=5)
    scene.wait_for_pause(alpha, first)

    started = time.monotonic()
    code, out, err = scene.finish(scene.start(beta, lock_timeout=0.5))
    waited = time.monotonic() - started

    assert code == 1, (out, err)
    assert "locked by" in err and f"(pid {first.pid})" in err, err
    assert waited < 3.5, f"--lock-timeout 0.5 but the run waited {waited:.1f}s"
    assert scene.finish(first)[0] == 0
    assert scene.is_applied(alpha)
    assert verify(scene.events()) is None


@pytest.mark.parametrize("pause", ["read", "change:1"])
def test_a_second_apply_waits_for_the_first_then_applies(scene: Scene, pause: str) -> None:
    alpha, beta = scene.write("alpha", _state("alpha")), scene.write("beta", _state("beta"))
    first = scene.start(alpha, pause=pause, sleep=2)
    scene.wait_for_pause(alpha, first)
    second = scene.start(beta, lock_timeout=30)

    assert scene.finish(first)[0] == 0
    code, out, err = scene.finish(second)
    assert code == 0, (out, err)
    assert "Apply complete!" in out

    events = scene.events()
    assert verify(events) is None
    runs = runs_in_order(events)
    assert len(runs) == 2
    assert "workspace.alpha" in _created(events, runs[0])
    assert "workspace.beta" in _created(events, runs[1])
    assert scene.is_applied(beta) and not scene.is_applied(alpha)


def test_racing_applies_never_interleave_and_the_last_one_wins(scene: Scene) -> None:
    paths = {name: scene.write(name, _state(name, configs=20)) for name in ("alpha", "beta")}
    for _ in range(3):
        runs = [scene.start(path) for path in paths.values()]
        for run in runs:
            code, out, err = scene.finish(run)
            assert code == 0, (out, err)

    events = scene.events()
    assert verify(events) is None
    order = runs_in_order(events)
    assert 2 <= len(order) <= 6  # a run that finds nothing to change writes no events
    last = "alpha" if "workspace.alpha" in _created(events, order[-1]) else "beta"
    other = "beta" if last == "alpha" else "alpha"
    assert scene.is_applied(paths[last]) and not scene.is_applied(paths[other])


# -- SIGKILL --------------------------------------------------------------------------------


def _rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    finally:
        conn.close()


def test_an_apply_killed_mid_transaction_leaves_the_store_as_it_was(scene: Scene) -> None:
    before = scene.write("before", _state("before", configs=3))
    code, out, err = scene.finish(scene.start(before))
    assert code == 0, (out, err)

    big = scene.write("big", _state("big", configs=300))
    snapshot = scene.root / "snapshot.db"
    victim = scene.start(
        big,
        pause="change:250",
        sleep=60,
        extra_env={"LLMFORM_TEST_SNAPSHOT": str(snapshot)},
    )
    scene.wait_for_pause(big, victim)
    journal = Path(f"{scene.db}-journal")
    assert journal.exists(), "not inside a write transaction when killed"
    spilled = scene.db.read_bytes() != snapshot.read_bytes()
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()  # reaped: its pid no longer exists
    assert victim.returncode == -signal.SIGKILL
    assert spilled, "the transaction had not written to the file yet: the test proves less"

    # The next reader rolls the hot journal back: the file is again what it was before the
    # transaction, byte for byte, and whole.
    conn = sqlite3.connect(scene.db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    assert not journal.exists()
    assert scene.db.read_bytes() == snapshot.read_bytes()
    rows = _rows(scene.db)
    assert rows == _rows(snapshot)
    assert verify(scene.events()) is None
    assert scene.is_applied(before)

    # The dead run's lock row is still there, and it is recognised as abandoned.
    (lock_row,) = rows["locks"]
    dead = LockInfo(*lock_row[1:])
    assert dead.pid == victim.pid and holder_is_gone(dead)

    # So the next run takes the lock over without force-unlock, says so, and applies.
    code, out, err = scene.finish(scene.start(big, lock_timeout=1))
    assert code == 0, (out, err)
    assert f"took over the lock left by {dead.who}" in err, err
    assert "its process no longer exists" in err and "landed whole or not at all" in err, err
    assert scene.is_applied(big)
    events = scene.events()
    assert verify(events) is None
    assert len(runs_in_order(events)) == 2
    assert _rows(scene.db)["locks"] == []


def test_an_application_writing_to_the_registry_makes_apply_wait_then_fail_plainly(
    scene: Scene,
) -> None:
    """Applications that read the registry may write to it too (token usage). While one holds a
    write transaction, apply waits its --lock-timeout and says the store is busy; there is no
    llmform lock to force-unlock."""
    alpha = scene.write("alpha", _state("alpha"))
    scene.is_applied(alpha)  # creates the store
    app = sqlite3.connect(scene.db, isolation_level=None)
    try:
        app.execute("BEGIN IMMEDIATE")
        app.execute("UPDATE configs SET used_tokens = used_tokens + 1")
        code, out, err = scene.finish(scene.start(alpha, lock_timeout=0.5))
        assert code == 1, (out, err)
        assert "the store is busy" in err and "force-unlock" not in err, err
        app.execute("COMMIT")
    finally:
        app.close()
    assert scene.finish(scene.start(alpha, lock_timeout=0.5))[0] == 0
    assert scene.is_applied(alpha)
