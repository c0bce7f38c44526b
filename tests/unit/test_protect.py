"""Deletion protection and the empty-state guard as pure functions: which changes are refused,
what "declares nothing" means, and how refusals show in every format. The same behaviours
through the CLI on a real store are in tests/integration/test_cli_protect.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmform.core.diff import CREATE, DELETE, NOOP, REPLACE, UPDATE, Change, diff
from llmform.core.plan import Plan, build_plan, plan_to_json
from llmform.core.protect import EmptyStateError, ProtectedError, check_declares_something, refusals
from llmform.core.render import render
from llmform.core.resources import Resource, config_resource, workspace_resource
from llmform.desired.model import Config, DesiredState, Factory, Workspace
from llmform.engine.saved_plans import load_plan, save_plan

UNPROTECT_DELETE = (
    "is protected, so it will not be destroyed: to delete it, first apply it with "
    "'protect: false', then remove it"
)


def ws(name: str, protect: bool = False) -> Resource:
    return workspace_resource(Workspace(name, protect=protect))


def cfg(workspace: str, name: str, factory: str = "Acme", protect: bool = False) -> Resource:
    config = Config(workspace, name, factory, "https://x.example/v1", None, protect=protect)
    return config_resource(config, {})


FACTORY = Resource("factory.Acme", "factory", None, {"type": "openai", "api_base": None})


def resources(*items: Resource) -> dict[str, Resource]:
    return {r.address: r for r in items}


def plan_of(desired: dict[str, Resource], current: dict[str, Resource], **kw: Any) -> Plan:
    return build_plan(
        desired, current, store_url="sqlite:///s.db", lineage="l", serial=1, fingerprints={}, **kw
    )


# -- refusals: decided by the store's side -------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "desired", "refused"),
    [
        # removed from the YAML together with its flag: the store still says protected
        ([ws("prod"), cfg("prod", "main", protect=True)], [ws("prod")], ["config.prod/main"]),
        ([ws("prod", protect=True)], [], ["workspace.prod"]),
        # a replace deletes too, even when the same edit drops the flag
        (
            [ws("prod"), cfg("prod", "main", protect=True)],
            [ws("prod"), cfg("prod", "main", factory="Beta")],
            ["config.prod/main"],
        ),
        # the workspace of a protected config cannot go either
        (
            [ws("old"), cfg("old", "c", protect=True), cfg("old", "d")],
            [],
            ["config.old/c", "workspace.old"],
        ),
        # the YAML saying protect: true on a resource the store holds unprotected refuses
        # nothing: protection starts once applied
        ([ws("prod"), cfg("prod", "main")], [ws("prod")], []),
        # turning protection off is an update, not refused
        (
            [ws("prod", protect=True)],
            [ws("prod")],
            [],
        ),
        # unprotected deletes next to protected resources that stay
        ([ws("prod", protect=True), cfg("prod", "a"), cfg("prod", "b")], [ws("prod", True)], []),
    ],
)
def test_refusals_follow_the_store(
    current: list[Resource], desired: list[Resource], refused: list[str]
) -> None:
    changes = diff(resources(*desired), resources(*current))
    assert [r.address for r in refusals(changes)] == refused


def test_refusal_texts() -> None:
    current = resources(ws("old"), cfg("old", "c", protect=True), cfg("p", "r", protect=True))
    desired = resources(cfg("p", "r", factory="Beta"))
    texts = [r.text for r in refusals(diff(desired, current))]
    assert texts == [
        f"config.old/c {UNPROTECT_DELETE}",
        "workspace.old holds protected config(s) config.old/c, so it will not be destroyed: to "
        "delete it, first apply those configs with 'protect: false', then remove them",
        "config.p/r is protected, so it will not be replaced (factory cannot change in place): "
        "to replace it, first apply it with 'protect: false', then change it",
    ]


def test_turning_protection_off_is_an_ordinary_update() -> None:
    (change,) = diff(resources(ws("prod")), resources(ws("prod", protect=True)))
    assert change.action == UPDATE
    assert [(f.name, f.before, f.after) for f in change.fields] == [("protect", True, False)]
    (change,) = diff(resources(ws("prod", protect=True)), resources(ws("prod")))
    assert [(f.name, f.before, f.after) for f in change.fields] == [("protect", False, True)]


def test_a_scoped_plan_refuses_in_scope_only() -> None:
    current = resources(ws("a"), cfg("a", "x", protect=True), ws("b"), cfg("b", "y", protect=True))
    desired = resources(ws("a"), ws("b"))
    assert [r.address for r in plan_of(desired, current, scope=["a"]).refusals] == ["config.a/x"]
    assert [r.address for r in plan_of(desired, current).refusals] == ["config.a/x", "config.b/y"]


def test_a_saved_plan_keeps_its_refusals(tmp_path: Any) -> None:
    plan = plan_of({}, resources(ws("prod", protect=True)))
    save_plan(plan, str(tmp_path / "p.plan"), None)
    assert load_plan(str(tmp_path / "p.plan")).refusals == plan.refusals != ()
    assert plan_to_json(plan)["changes"][0]["before"]["attrs"]["protect"] is True


def test_refusals_in_every_format() -> None:
    plan = plan_of({}, resources(ws("prod", protect=True)))
    text = render(plan, "text")
    assert (
        "Refused: protected resources would be destroyed, so this plan cannot be applied:\n"
        f"  workspace.prod {UNPROTECT_DELETE}\n\nPlan: 0 to add, 0 to change, 1 to destroy.\n"
    ) in text
    markdown = render(plan, "markdown")
    assert f"- `workspace.prod` {UNPROTECT_DELETE}" in markdown
    assert json.loads(render(plan, "json"))["errors"] == [
        {"address": "workspace.prod", "message": f"workspace.prod {UNPROTECT_DELETE}"}
    ]
    error = ProtectedError(plan.refusals, "nothing was applied")
    assert str(error) == (
        "protected resources would be destroyed, so nothing was applied:\n"
        f"  workspace.prod {UNPROTECT_DELETE}"
    )


def test_change_actions_refused() -> None:
    """Only deletes and replaces are refused; creates and updates of protected ones are not."""
    before = ws("p", protect=True)
    for action in (UPDATE, NOOP):
        change = Change("workspace.p", "workspace", "p", action, before, before)
        assert refusals([change]) == ()
    assert refusals([Change("workspace.p", "workspace", "p", CREATE, None, before)]) == ()
    for action in (DELETE, REPLACE):
        change = Change("workspace.p", "workspace", "p", action, before, None)
        assert len(refusals([change])) == 1


# -- the empty-state guard -----------------------------------------------------------------------


def state(
    factories: tuple[str, ...] = (), workspaces: tuple[str, ...] = (), configs: int = 0
) -> DesiredState:
    ws_map = {name: Workspace(name) for name in workspaces}
    cfgs = {
        (workspaces[0], f"c{i}"): Config(workspaces[0], f"c{i}", "Acme", None, None)
        for i in range(configs)
    }
    return DesiredState({n: Factory(n, "openai") for n in factories}, ws_map, cfgs)


STORE = resources(FACTORY, ws("prod"), cfg("prod", "main"), ws("dev"))
FACTORIES_ONLY = resources(FACTORY, Resource("factory.Old", "factory", None, {}))


@pytest.mark.parametrize(
    ("desired", "current", "scope", "message"),
    [
        # a file with only apiVersion (or no document at all)
        (
            state(),
            STORE,
            (),
            "the configuration declares no workspace and no config, but the store holds "
            "2 workspaces, 1 config and 1 factory, which this plan would delete; to delete "
            "everything, run 'llmform destroy'",
        ),
        # factories alone do not count: the workspaces and configs would all go
        (
            state(factories=("Acme",)),
            STORE,
            (),
            "the store holds 2 workspaces and 1 config, which this plan would delete",
        ),
        # nothing at all, a store of factories only
        (state(), FACTORIES_ONLY, (), "the store holds 2 factories, which"),
        # -w NAME with nothing declared for NAME
        (
            state(workspaces=("dev",)),
            STORE,
            ("prod",),
            "-w prod: the configuration declares nothing for workspace 'prod', but the store "
            "holds 1 workspace and 1 config there, which this plan would delete; to delete "
            "them, run 'llmform destroy -w prod'",
        ),
        (state(), STORE, ("dev", "prod"), "-w dev: the configuration declares nothing"),
    ],
)
def test_an_empty_state_is_refused(
    desired: DesiredState, current: dict[str, Resource], scope: tuple[str, ...], message: str
) -> None:
    with pytest.raises(EmptyStateError) as caught:
        check_declares_something(desired, current, scope)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("desired", "current", "scope"),
    [
        (state(), {}, ()),  # an empty store: nothing to lose
        (state(workspaces=("prod",)), STORE, ()),  # one workspace declared: a normal plan
        (state(workspaces=("prod",)), STORE, ("prod",)),
        (state(workspaces=("dev",)), STORE, ("dev",)),  # prod's configs are out of scope
        (state(), resources(ws("dev")), ("prod",)),  # the store holds nothing in scope
        # a repository that manages factories only may delete one
        (state(factories=("Acme",)), FACTORIES_ONLY, ()),
        # unmanaged rows are not in ``current``: the guard only counts what a plan deletes
        (state(), {}, ("prod",)),
    ],
)
def test_a_state_that_declares_something_passes(
    desired: DesiredState, current: dict[str, Resource], scope: tuple[str, ...]
) -> None:
    check_declares_something(desired, current, scope)
