"""The state stores of targets that keep no state of their own (issue 12): the stepped path end
to end with an in-memory target (``support.stepped``) and each real state store in turn
(``SqliteStateStore``, ``PostgresStateStore``: the ``state_url`` fixture).

Each step is recorded as it lands (serial, resources last applied, the sealed chain that
``audit --verify`` checks); a failure at step k leaves k steps recorded and a re-plan shows the
rest; one state file keeps several targets apart, with a lock per target; plan and the read-only
commands never create it; and the CLI pairs a stepped target with ``.llmform/state.db``.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from psycopg import conninfo
from support.audit_reads import refuse_whole_trail
from support.stepped import DESIRED, URL, DictTarget, plan_for
from support.store_db import store_db, store_exists
from support.stores import OFFLINE, cli, write_state

from llmform.engine.apply import apply_plan, stale_reason
from llmform.engine.backend import Backend
from llmform.engine.steps import PartialApplyError
from llmform.errors import StoreError
from llmform.state.audit import RunInfo
from llmform.state.audit_trail import verify_trail
from llmform.state.base import NoStateError, OpenMode, SteppedStateStore
from llmform.state.lock import LockedError, new_lock, taken_over_note
from llmform.state.sql.pg_urls import display_url
from llmform.state.stores import open_state
from llmform.targets import STORES

OTHER = "memory://other-gateway"


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state store not there yet: a SQLite file (``tmp_path/state.db``) or a fresh
    PostgreSQL database (its URL with the password)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


_OPENED: list[SteppedStateStore] = []


@pytest.fixture(autouse=True)
def close_opened() -> Iterator[None]:
    """Every state a test opened is closed after it (a PostgreSQL state holds a connection)."""
    yield
    while _OPENED:
        _OPENED.pop().close()


def opened(url: str, mode: OpenMode = OpenMode.APPLY, target: str = URL) -> SteppedStateStore:
    state = open_state(url, mode, target)
    _OPENED.append(state)
    return state


def verify(state: SteppedStateStore) -> list[str]:
    """``audit --verify``'s checks of this target's trail."""
    lineage, serial = state.lineage_serial()
    report = verify_trail(
        state.audit_events(),
        None,
        applies=serial,
        managed=len(state.last_applied()),
        store=lineage,
        stepped=True,
    )
    return report.failures


def test_steps_are_recorded_in_the_state_as_they_land(state_url: str, tmp_path: Path) -> None:
    target, state = DictTarget(), opened(state_url)
    backend = Backend(target, state)
    assert not state.exists and not store_exists(state_url)
    with backend.locked("apply", 1, print):
        apply_plan(plan_for(backend, DESIRED), backend, RunInfo("run-1", "me", None))
    state.close()
    if is_sqlite(state_url):  # a file of the user's only
        assert stat.S_IMODE(os.stat(tmp_path / "state.db").st_mode) == 0o600
    again = opened(state_url, OpenMode.READ)
    assert again.exists and again.lineage_serial()[1] == 3
    assert dict(again.last_applied()) == DESIRED
    assert [(e.action, e.address) for e in again.audit_events()] == [
        ("apply-start", ""),
        ("create", "factory.gw"),
        ("create", "workspace.prod"),
        ("create", "config.prod/chat"),
        ("apply-end", ""),
    ]
    assert verify(again) == []
    assert plan_for(Backend(target, again), DESIRED).summary.empty


def test_a_failure_at_step_k_leaves_k_recorded_and_a_replan_converges(state_url: str) -> None:
    target, state = DictTarget(fail_at="config.prod/chat"), opened(state_url)
    backend = Backend(target, state)
    with pytest.raises(PartialApplyError, match="2 of 3 change"):
        apply_plan(plan_for(backend, DESIRED), backend, RunInfo("run-1", "me", None))
    state.close()
    state = opened(state_url)
    assert state.lineage_serial()[1] == 3  # two steps and the failure's record
    assert set(state.last_applied()) == {"factory.gw", "workspace.prod"}
    assert state.audit_events()[-1].result == "failed at config.prod/chat: 2 change(s) applied"
    assert verify(state) == []
    target.fail_at = None
    backend = Backend(target, state)
    left = plan_for(backend, DESIRED)
    assert [(c.action, c.address) for c in left.actionable] == [("create", "config.prod/chat")]
    apply_plan(left, backend, RunInfo("run-2", "me", None))
    assert plan_for(backend, DESIRED).summary.empty and verify(state) == []
    assert state.lineage_serial()[1] == 4


def test_a_trail_missing_a_step_does_not_verify(state_url: str) -> None:
    target, state = DictTarget(), opened(state_url)
    backend = Backend(target, state)
    apply_plan(plan_for(backend, DESIRED), backend, RunInfo("run-1", "me", None))
    state.close()
    with store_db(state_url) as db:
        db.execute("DELETE FROM audit_events WHERE seq >= 4")  # the last step, cut off
    failures = verify(opened(state_url, OpenMode.READ))
    assert failures and "3 recorded step(s), but its audit trail holds 2" in failures[0]


def test_two_targets_in_one_state_store_stay_apart(state_url: str) -> None:
    first, second = DictTarget(), DictTarget()
    one = Backend(first, opened(state_url, target=URL))
    apply_plan(plan_for(one, DESIRED), one, RunInfo("run-1", "me", None))
    two = Backend(second, opened(state_url, target=OTHER))
    assert not two.state.exists and two.state.lineage_serial()[1] == 0
    small = {"factory.gw": DESIRED["factory.gw"]}
    apply_plan(plan_for(two, small), two, RunInfo("run-2", "me", None))
    a, b = opened(state_url, OpenMode.READ, URL), opened(state_url, OpenMode.READ, OTHER)
    assert a.lineage_serial()[0] != b.lineage_serial()[0]
    assert (a.lineage_serial()[1], b.lineage_serial()[1]) == (3, 1)
    assert set(a.last_applied()) == set(DESIRED) and set(b.last_applied()) == set(small)
    assert [e.run_id for e in b.audit_events()] == ["run-2"] * 3
    assert a.fingerprint_key() != b.fingerprint_key()
    assert verify(a) == [] and verify(b) == []


def test_a_saved_plan_looks_up_its_own_run_not_the_trail(
    state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a saved plan was applied is asked by its run id, of its target's rows only: the
    trail is not read (issue 14), and another target's run of the same id is not this one's."""
    one = Backend(DictTarget(), opened(state_url, target=URL))
    small = {"factory.gw": DESIRED["factory.gw"]}
    apply_plan(plan_for(one, small), one, RunInfo("run-0", "me", None))
    plan = plan_for(one, DESIRED)
    two = Backend(DictTarget(), opened(state_url, target=OTHER))
    apply_plan(plan_for(two, DESIRED), two, RunInfo(plan.plan_id, "me", None))
    reads = refuse_whole_trail(monkeypatch)
    assert stale_reason(plan, one, one.read()) is None
    apply_plan(plan, one, RunInfo(plan.plan_id, "me", None))
    applied = f"this plan ({plan.plan_id}) was already applied"
    assert stale_reason(plan, one, one.read()) == applied
    assert reads == [(plan.plan_id, False)] * 2


def test_the_lock_is_per_target(state_url: str) -> None:
    opened(state_url, OpenMode.CREATE).close()
    holder, waiter = opened(state_url), opened(state_url)
    other = opened(state_url, target=OTHER)
    with holder.lock("apply", 1) as mine:
        with pytest.raises(LockedError) as held, waiter.lock("apply", 0.2):
            pass
        assert mine.lock_id in str(held.value)
        with other.lock("apply", 0.2):  # another target's lock is its own
            pass
    with waiter.lock("apply", 0.2):
        pass


def test_force_unlock_clears_a_left_lock(state_url: str) -> None:
    opened(state_url, OpenMode.CREATE).close()
    state = opened(state_url)
    lock = state.lock("apply", 1)
    info = lock.__enter__()
    state.close()  # the run died holding the lock: its row is left
    assert opened(state_url, OpenMode.EXISTING).force_unlock(info.lock_id).lock_id == info.lock_id
    with opened(state_url).lock("apply", 0.2):
        pass


def test_plan_and_reads_never_create_the_state(state_url: str, tmp_path: Path) -> None:
    plan = opened(state_url, OpenMode.PLAN)
    assert not plan.exists and plan.lineage_serial()[1] == 0 and plan.last_applied() == {}
    shown = re.escape(display_url(state_url))  # the URL as shown: never its password
    password = None if is_sqlite(state_url) else conninfo.conninfo_to_dict(state_url)["password"]
    for mode in (OpenMode.READ, OpenMode.EXISTING):
        with pytest.raises(NoStateError, match=f"no state at {shown} for {URL}") as missing:
            opened(state_url, mode)
        assert not password or str(password) not in str(missing.value)
    assert list(tmp_path.iterdir()) == [] and not store_exists(state_url)
    opened(state_url, OpenMode.CREATE, OTHER).close()  # the file, with another target's state
    with pytest.raises(NoStateError, match="it holds no state for memory://gateway"):
        opened(state_url, OpenMode.READ)
    assert not opened(state_url, OpenMode.PLAN).exists


def test_a_registry_is_not_a_state_store(
    state_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chdir(tmp_path)
    write_state(tmp_path)
    assert cli(capsys, "init", "--store", state_url)[0] == 0
    for mode in (OpenMode.PLAN, OpenMode.APPLY):
        with pytest.raises(StoreError, match="not an llmform state store") as refused:
            opened(state_url, mode)
        assert display_url(state_url) in str(refused.value)


@pytest.fixture()
def gateway(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[DictTarget]:
    """A stepped target reachable by URL (``memory+test://gw``), the same dict every run."""
    target = DictTarget()
    target.display_url = "memory+test://gw"
    target.close = lambda: None  # type: ignore[method-assign]
    monkeypatch.setitem(STORES, "memory+test", lambda url, mode: target)  # type: ignore[arg-type,return-value]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMFORM_STORE", raising=False)
    monkeypatch.delenv("LLMFORM_STATE", raising=False)
    write_state(tmp_path)
    yield target


def test_the_cli_keeps_a_stepped_targets_state_in_the_default_state_store(
    gateway: DictTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", "memory+test://gw"]
    code, out, err = cli(capsys, "plan", *store, OFFLINE, "llmform.yaml")
    assert code == 0, err
    assert (
        "The state of memory+test://gw in sqlite:///.llmform/state.db does not exist yet; "
        "apply will create it." in out
    )
    assert not (tmp_path / ".llmform").exists()  # plan never creates the state
    code, out, err = cli(capsys, "audit", *store)
    assert code != 0 and "no state at sqlite:///.llmform/state.db" in err
    code, out, err = cli(capsys, "apply", *store, "--auto-approve", OFFLINE, "llmform.yaml")
    assert code == 0, err
    assert "Apply complete! Resources: 3 added" in out
    assert (tmp_path / ".llmform" / "state.db").is_file()
    assert set(gateway.resources) == {"factory.Ollama", "workspace.prod", "config.prod/local"}
    code, out, err = cli(capsys, "plan", *store, OFFLINE, "llmform.yaml")
    assert code == 0 and "No changes" in out, out + err
    code, out, err = cli(capsys, "audit", "--verify", *store)
    assert code == 0, out + err
    elsewhere = f"sqlite:///{tmp_path / 'team.db'}"
    code, out, err = cli(capsys, "plan", *store, "--state", elsewhere, OFFLINE, "llmform.yaml")
    # the resources are the target's; a state elsewhere is new, and plan does not create it
    assert code == 0 and "No changes" in out, out + err
    assert not (tmp_path / "team.db").exists()


def test_a_lock_left_by_a_gone_run_is_taken_over(state_url: str) -> None:
    opened(state_url, OpenMode.CREATE).close()
    dead = replace(new_lock("apply"), pid=gone_pid(), lock_id="dead-run")
    with store_db(state_url) as db:
        db.execute(
            "INSERT INTO locks (target, name, lock_id, holder, pid, operation, created_at)"
            " VALUES (?, 'apply', ?, ?, ?, ?, ?)",
            (URL, dead.lock_id, dead.holder, dead.pid, dead.operation, dead.created_at),
        )
    with opened(state_url).lock("apply", 0.2) as mine:
        note = taken_over_note(mine)
    assert note is not None and "took over the lock left by" in note
    with opened(state_url, target=OTHER).lock("apply", 0.2) as other:  # not another target's
        assert taken_over_note(other) is None


def gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_state_url_for_a_stepped_target_names_the_state_stores_schemes(
    gateway: DictTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    for url, says in (
        ("mysql://app@db/llm", "unsupported store URL scheme 'mysql'"),
        ("sqlite://x.db", "write 'sqlite:///x.db'"),
    ):
        code, _, err = cli(capsys, "plan", "--store", "memory+test://gw", "--state", url, OFFLINE)
        assert code != 0 and "--state: " in err and says in err, err
