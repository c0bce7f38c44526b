"""Properties of plan and apply on a real SQLite store, over random desired and current states.

A: whatever the store holds (a random state applied first), applying a random desired state and
   planning it again shows no change; exporting the store and planning the export shows none
   either. The desired state may set ``protect``, which must read back as written.
B: a failure at any step of an apply (any SQL statement of its transaction, the k-th drawn by
   hypothesis) leaves the database file byte for byte as it was, writes no audit file, and the
   next apply goes through.

The store is real; the only double is the fault: a connection wrapper whose k-th statement
raises, because SQLite cannot be asked to fail at a chosen statement.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from support.states import GeneratedState, desired_states

from llmform.core.export import export_yaml
from llmform.core.plan import Plan
from llmform.desired.validate import load_state
from llmform.engine.apply import apply_plan
from llmform.engine.plan import make_plan
from llmform.errors import StoreError
from llmform.secrets.env import EnvResolver
from llmform.state.audit import RunInfo
from llmform.state.audit_check import verify
from llmform.targets.registry.sqlite import SqliteStore

# explain is left out: on a failure it replays hundreds of applies (minutes on 2 cores)
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)


def _plan(store: SqliteStore, state: GeneratedState, directory: Path) -> Plan:
    paths = state.write(directory)
    return make_plan(load_state(paths), store, EnvResolver(state.env))


def _apply(store: SqliteStore, state: GeneratedState, directory: Path, run_id: str) -> Plan:
    plan = _plan(store, state, directory)
    with store.lock("apply", timeout=1):
        apply_plan(plan, store, RunInfo(run_id, "test", None))
    return plan


def _describe(plan: Plan) -> str:
    return "\n".join(
        f"{c.action} {c.address}: "
        + ", ".join(f"{f.name}: {f.before!r} -> {f.after!r}" for f in c.fields)
        for c in plan.actionable
    )


@SETTINGS
@given(current=desired_states(), desired=desired_states(protect=True))
def test_apply_then_plan_is_empty(current: GeneratedState, desired: GeneratedState) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = SqliteStore(f"sqlite:///{root / 'registry.db'}")
        try:
            _apply(store, current, root / "current", "run-current")
            _apply(store, desired, root / "desired", "run-desired")

            again = _plan(store, desired, root / "desired")
            assert again.actionable == (), _describe(again)

            # The export of the store is itself a configuration the store already matches.
            exported = GeneratedState({}, desired.env)
            (root / "export").mkdir()
            (root / "export" / "llmform.yaml").write_text(
                export_yaml(store.read()), encoding="utf-8"
            )
            of_export = make_plan(
                load_state([str(root / "export" / "llmform.yaml")]),
                store,
                EnvResolver(exported.env),
            )
            assert of_export.actionable == (), _describe(of_export)
            assert verify(store.audit_events()) is None
        finally:
            store.close()


# -- B: failures injected at any step -----------------------------------------------------------


class _Faults:
    """Counts the statements run through a connection; the ``fail_at``-th one raises."""

    def __init__(self, fail_at: int | None, error: BaseException) -> None:
        self.fail_at = fail_at
        self.error = error
        self.calls = 0

    def tick(self, sql: str) -> None:
        if sql.strip().upper() == "ROLLBACK":
            return  # the recovery itself is not a step of the apply
        self.calls += 1
        if self.calls == self.fail_at:
            raise self.error


class _Cursor:
    def __init__(self, cursor: sqlite3.Cursor, faults: _Faults) -> None:
        self._cursor, self._faults = cursor, faults

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._faults.tick(sql)
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, params: Any) -> Any:
        self._faults.tick(sql)
        return self._cursor.executemany(sql, params)

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def fetchone(self) -> Any:
        return self._cursor.fetchone()


class _Connection:
    def __init__(self, conn: sqlite3.Connection, faults: _Faults) -> None:
        self._conn, self._faults = conn, faults

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor(), self._faults)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._faults.tick(sql)
        return self._conn.execute(sql, params)

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction


def _apply_with_faults(store: SqliteStore, plan: Plan, faults: _Faults, audit: Path) -> None:
    real = store._conn
    store._conn = _Connection(real, faults)  # type: ignore[assignment]
    try:
        apply_plan(plan, store, RunInfo("run-faulty", "test", None), audit_file=str(audit))
    finally:
        store._conn = real


def _snapshot(path: Path) -> tuple[bytes, list[str]]:
    with sqlite3.connect(path) as conn:
        dump = list(conn.iterdump())
    conn.close()
    return path.read_bytes(), dump


ERRORS: Mapping[str, BaseException] = {
    "sqlite error": sqlite3.OperationalError("disk I/O error"),
    "constraint": sqlite3.IntegrityError("UNIQUE constraint failed"),
    "python error": RuntimeError("a bug in the middle of apply"),
    "os error": OSError(28, "No space left on device"),
}


@SETTINGS
@given(
    current=desired_states(),
    desired=desired_states(protect=True),
    error=st.sampled_from(sorted(ERRORS)),
    data=st.data(),
)
def test_a_failure_at_any_step_leaves_the_store_as_it_was(
    current: GeneratedState, desired: GeneratedState, error: str, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = root / "registry.db"
        store = SqliteStore(f"sqlite:///{db}")
        try:
            _apply(store, current, root / "current", "run-current")
            plan = _plan(store, desired, root / "desired")
            assume(plan.actionable)

            # How many statements a clean apply of this plan runs: on a copy of the file.
            shutil.copy(db, root / "copy.db")
            copy = SqliteStore(f"sqlite:///{root / 'copy.db'}")
            counted = _Faults(None, ERRORS[error])
            try:
                _apply_with_faults(copy, plan, counted, root / "copy-audit.jsonl")
            finally:
                copy.close()
            fail_at = data.draw(st.integers(1, counted.calls), label="failing statement")

            audit = root / "audit.jsonl"
            with store.lock("apply", timeout=1):
                before_bytes, before_dump = _snapshot(db)
                with pytest.raises((StoreError, RuntimeError, OSError)):
                    _apply_with_faults(store, plan, _Faults(fail_at, ERRORS[error]), audit)
                after_bytes, after_dump = _snapshot(db)
                assert after_dump == before_dump
                assert after_bytes == before_bytes
                assert not Path(f"{db}-journal").exists()
                assert not audit.exists(), "a failed apply wrote audit events to the file"

                # The same plan still applies: nothing half-done blocks it.
                apply_plan(plan, store, RunInfo("run-retry", "test", None), audit_file=str(audit))
            assert _plan(store, desired, root / "desired").actionable == ()
            assert verify(store.audit_events()) is None
            assert audit.read_text(encoding="utf-8").count("run-retry") == len(plan.actionable) + 2
        finally:
            store.close()


def test_a_full_disk_mid_apply_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    """A real SQLite fault, no double: ``max_page_count`` makes the file "full" part-way through
    a large apply (SQLITE_FULL, which SQLite may answer by rolling back on its own)."""
    db = tmp_path / "registry.db"
    store = SqliteStore(f"sqlite:///{db}")
    configs = [
        {"name": f"c{i}", "workspace": "prod", "factory": "Ollama", "description": "x" * 200}
        for i in range(300)
    ]
    big = GeneratedState(
        {"apiVersion": "llmform/v1", "workspaces": [{"name": "prod"}], "configs": configs}, {}
    )
    try:
        plan = _plan(store, big, tmp_path / "big")
        before_bytes, before_dump = _snapshot(db)
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages + 3}")
        with pytest.raises(StoreError, match="full"):
            apply_plan(plan, store, RunInfo("run-full", "test", None))
        assert _snapshot(db) == (before_bytes, before_dump)

        store._conn.execute("PRAGMA max_page_count = 1073741823")
        apply_plan(plan, store, RunInfo("run-roomy", "test", None))
        assert _plan(store, big, tmp_path / "big").actionable == ()
    finally:
        store.close()
