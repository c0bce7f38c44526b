"""desired_resources with a scope (-w): the scope's workspaces and configs, every factory and
policy; a plan of one workspace builds nothing of the others."""

from __future__ import annotations

from pathlib import Path

from llmform.core.resources import desired_resources
from llmform.desired.validate import load_state

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multi-workspace"


def test_a_scope_builds_its_workspaces_configs_and_every_factory_and_policy() -> None:
    state = load_state([str(EXAMPLE)])
    whole = desired_resources(state, {})
    one = sorted(state.workspaces)[0]
    scoped = desired_resources(state, {}, scope={one})
    others = {r.address for r in whole.values() if r.workspace not in (None, one)}
    assert others, "the example must have more than one workspace"
    assert set(scoped) == set(whole) - others
    assert {r.kind for r in scoped.values() if r.workspace is None} <= {"factory", "policy"}
    assert all(scoped[a] == whole[a] for a in scoped)
