"""Property: random edits to a SQLite registry behind llmform's back (``sqlite3`` UPDATEs,
DELETEs and INSERTs of any resource table, runtime columns included) never change what a plan
says: the plan made with the store's digests (``engine.plan_reads``) is the plan made from a
whole read of the store, for any applied state, any edits and any desired state."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from support.states import GeneratedState, desired_states
from support.store_edits import STORE_EDITS, edit_row

from llmform.core.plan import Plan, plan_to_json
from llmform.desired.validate import load_state
from llmform.engine import plan_reads
from llmform.engine.apply import apply_plan
from llmform.engine.plan import make_plan
from llmform.errors import LlmformError
from llmform.secrets.env import EnvResolver
from llmform.state.audit import RunInfo
from llmform.targets.registry.sqlite import SqliteStore

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)


def _plan(store_url: str, state: GeneratedState, directory: Path) -> Any:
    """The plan as saved (without its id and time), or the error it ends in."""
    store = SqliteStore(store_url)
    try:
        paths = state.write(directory)
        plan: Plan = make_plan(load_state(paths), store, EnvResolver(state.env))
    except LlmformError as exc:
        return ("error", str(exc))
    finally:
        store.close()
    saved = plan_to_json(plan)
    saved.pop("plan_id"), saved.pop("created_at")
    return saved


@SETTINGS
@given(
    current=desired_states(),
    desired=desired_states(),
    edits=st.lists(
        st.tuples(st.sampled_from(STORE_EDITS), st.integers(min_value=0, max_value=20)), max_size=4
    ),
)
def test_hand_edits_plan_the_same_with_and_without_digests(
    current: GeneratedState, desired: GeneratedState, edits: list[tuple[tuple[str, str], int]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'registry.db'}"
        store = SqliteStore(url)
        try:
            paths = current.write(root / "current")
            plan = make_plan(load_state(paths), store, EnvResolver(current.env))
            with store.lock("apply", timeout=1):
                apply_plan(plan, store, RunInfo("run-current", "test", None))
        finally:
            store.close()
        for (table, change), position in edits:
            edit_row(root / "registry.db", table, change, position)
        with_digests = _plan(url, desired, root / "desired")
        with mock.patch.object(plan_reads, "digested", lambda backend: None):
            whole = _plan(url, desired, root / "desired")
        assert with_digests == whole
