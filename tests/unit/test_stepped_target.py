"""The seam for targets that cannot apply together with llmform's state (issue 10, item 2).

An in-memory SteppedTarget (a dict) and its in-memory SteppedStateStore prove the engine's
stepped path: changes applied in the plan's order (factory, workspace, config when creating;
the reverse when deleting), each step recorded in the state as it lands, a failure at step k
leaving steps before k applied and recorded and stopping with a report, and a re-plan showing
only what is left.
"""

from __future__ import annotations

import pytest
from support.stepped import DESIRED, DictTarget, MemoryState, plan_for

from llmform.core.diff import Change
from llmform.core.drift import drift_of
from llmform.core.resources import Resource
from llmform.engine.apply import apply_plan
from llmform.engine.backend import Backend
from llmform.engine.steps import PartialApplyError
from llmform.errors import StoreError
from llmform.state.audit import RunInfo
from llmform.state.base import SteppedStateStore
from llmform.targets.base import SteppedTarget


def test_the_protocols_tell_the_doubles_apart() -> None:
    assert isinstance(DictTarget(), SteppedTarget)
    assert isinstance(MemoryState(), SteppedStateStore)


def test_steps_are_applied_in_order_and_each_recorded() -> None:
    target, state = DictTarget(), MemoryState()
    backend = Backend(target, state)
    result = apply_plan(plan_for(backend, DESIRED), backend, RunInfo("run-1", "me", None))
    assert target.made == ["create factory.gw", "create workspace.prod", "create config.prod/chat"]
    assert state.serial == 3  # one state write per step
    assert set(state.last_applied()) == set(DESIRED)
    assert [(e.action, e.address) for e in result.events] == [
        ("apply-start", ""),
        ("create", "factory.gw"),
        ("create", "workspace.prod"),
        ("create", "config.prod/chat"),
        ("apply-end", ""),
    ]
    assert result.events == state.events
    assert plan_for(backend, DESIRED).summary.empty
    # deleting goes the other way: the config, then the workspace, then the factory
    apply_plan(plan_for(backend, {}), backend, RunInfo("run-2", "me", None))
    assert target.made[3:] == [
        "delete config.prod/chat",
        "delete workspace.prod",
        "delete factory.gw",
    ]
    assert target.resources == {} and state.last_applied() == {} and state.serial == 6


def test_a_failed_step_leaves_the_earlier_ones_recorded_and_a_replan_shows_the_rest() -> None:
    target, state = DictTarget(fail_at="workspace.prod"), MemoryState()
    backend = Backend(target, state)
    with pytest.raises(PartialApplyError) as failed:
        apply_plan(plan_for(backend, DESIRED), backend, RunInfo("run-1", "me", None))
    message = str(failed.value)
    assert "apply stopped at workspace.prod (create): the gateway refused workspace.prod" in message
    assert "1 of 3 change(s) were applied and recorded before it (factory.gw)" in message
    assert "; not applied after it: config.prod/chat;" in message
    assert "run llmform plan to see what is left" in message
    assert target.made == ["create factory.gw"]
    assert set(state.last_applied()) == {"factory.gw"}
    assert [(e.action, e.address, e.result) for e in state.events] == [
        ("apply-start", "", "started"),
        ("create", "factory.gw", "ok"),
        ("apply-end", "", "failed at workspace.prod: 1 change(s) applied"),
    ]
    target.fail_at = None
    left = plan_for(backend, DESIRED)
    assert [(c.action, c.address) for c in left.actionable] == [
        ("create", "workspace.prod"),
        ("create", "config.prod/chat"),
    ]
    assert (left.lineage, left.serial) == ("lineage-1", state.serial)
    apply_plan(left, backend, RunInfo("run-2", "me", None))
    assert set(target.resources) == set(DESIRED) and plan_for(backend, DESIRED).summary.empty


def test_a_stopped_apply_names_at_most_five_changes_on_each_side_and_counts_the_rest() -> None:
    changes = [Change(f"config.w/c{n}", "config", "w", "create", None, None) for n in range(13)]
    message = str(PartialApplyError(changes, 6, StoreError("refused\nforged: line")))
    assert message == (
        "apply stopped at config.w/c6 (create): refused\\x0aforged: line; 6 of 13 change(s) were "
        "applied and recorded before it (config.w/c0, config.w/c1, config.w/c2, config.w/c3, "
        "config.w/c4 and 1 more); not applied after it: config.w/c7, config.w/c8, config.w/c9, "
        "config.w/c10, config.w/c11 and 1 more; run llmform plan to see what is left"
    )


def test_a_policy_lives_in_the_state_alone_and_reads_back_from_it() -> None:
    """A gateway has no place for policies: a step of one is recorded in the state only (the
    target never sees it), and it reads back from the state as managed, so the next plan has
    nothing to do and the policy is in force there."""
    target, state = DictTarget(), MemoryState()
    backend = Backend(target, state)
    policy = Resource(
        "policy.vault-keys",
        "policy",
        None,
        {
            "description": "",
            "applies_to": "config",
            "workspaces": [],
            "labels": {},
            "rule": "object.keys.all(k, has(k.vault))",
            "message": "keys come from Vault",
            "level": "hard",
        },
    )
    desired = {**DESIRED, policy.address: policy}
    result = apply_plan(plan_for(backend, desired), backend, RunInfo("run-1", "me", None))
    assert "create policy.vault-keys" not in target.made
    assert policy.address not in target.resources
    assert state.last_applied()[policy.address] == policy
    assert ("create", "policy.vault-keys") in [(e.action, e.address) for e in result.events]
    current = backend.read()
    assert current.resources[policy.address] == policy
    assert current.last_applied is not None
    assert drift_of(current.last_applied, current.resources) == ()  # not missing from the target
    assert plan_for(backend, desired).summary.empty
    apply_plan(plan_for(backend, DESIRED), backend, RunInfo("run-2", "me", None))
    assert policy.address not in state.last_applied()
    assert "delete policy.vault-keys" not in target.made
