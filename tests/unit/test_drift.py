"""Drift (``core.drift``): what a stepped target holds now against the state's record of what
llmform last applied, computed purely and rendered in every format, end to end on the
in-memory stepped target and state (``tests/support/stepped.py``): a field changed outside
llmform is an update from the record, a resource gone a delete, an object never recorded no
drift at all, a key's drift only ``(sensitive value changed)``; a plan of a target that keeps
its own state has none and renders as before; saved plans keep it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from support.stepped import DESIRED, DictTarget, MemoryState, plan_for, resource

from llmform.core.diff import DELETE, UPDATE, Change, FieldChange
from llmform.core.drift import drift_of
from llmform.core.plan import Plan, build_plan, plan_to_json
from llmform.core.render import RENDERERS, render
from llmform.core.resources import Resource
from llmform.engine.apply import apply_plan
from llmform.engine.backend import Backend
from llmform.engine.plan import ScopeError
from llmform.engine.plan_run import refresh_only_plan
from llmform.engine.saved_plans import TamperedPlanError, plan_text, read_plan
from llmform.state.audit import RunInfo

CANARY = "hmac-sha256:CANARY-fingerprint"


def config(name: str = "config.prod/chat", **attrs: object) -> Resource:
    base = {"factory": "gw", "description": "chat", "models": [{"name": "m1"}], "secrets": {}}
    return resource(name, **{**base, **attrs})


def keyed(secrets: dict[str, str]) -> Resource:
    refs = {slot: f"env:K{index}" for index, slot in enumerate(secrets)}
    return replace(config(secrets=refs), secrets=secrets)


def test_a_target_holding_what_was_applied_has_no_drift() -> None:
    applied = {r.address: r for r in (config(), resource("workspace.prod", labels={}))}
    assert drift_of(applied, dict(applied)) == ()


def test_a_field_changed_outside_is_an_update_from_the_record() -> None:
    recorded, now = config(), config(description="by hand", models=[])
    (drift,) = drift_of({recorded.address: recorded}, {now.address: now})
    assert (drift.action, drift.before, drift.after) == (UPDATE, recorded, now)
    assert drift.fields == (
        FieldChange("description", "chat", "by hand"),
        FieldChange("models", [{"name": "m1"}], []),
    )
    assert drift.unchanged == 1  # factory (secrets is an empty mapping: no leaf)


def test_a_resource_gone_is_deleted_outside_and_one_never_recorded_is_no_drift() -> None:
    recorded = config()
    stranger = config("config.prod/other")  # llmform's names, never recorded: no drift
    assert drift_of({recorded.address: recorded}, {stranger.address: stranger}) == (
        Change(recorded.address, "config", "prod", DELETE, recorded, None),
    )


def test_a_key_rewritten_or_gone_shows_only_as_a_sensitive_value() -> None:
    recorded = keyed({"api_key": CANARY + "1", "backup_keys[0]": CANARY + "2"})
    now = replace(recorded, secrets={"api_key": "mlflow-masked:0123456789abcdef"})
    (drift,) = drift_of({recorded.address: recorded}, {now.address: now})
    assert [(f.name, f.sensitive, f.after) for f in drift.fields] == [
        ("secrets.api_key.value", True, "mlflow-masked:0123456789abcdef"),
        ("secrets.backup_keys[0].value", True, None),
    ]
    plan = replace(empty_plan(), drift=(drift,))
    text = render(plan, "text")
    assert "~ secrets.api_key.value        = (sensitive value changed)" in text, text
    assert "- secrets.backup_keys[0].value = (sensitive value) -> null" in text, text
    data = json.loads(render(plan, "json"))
    assert data["drift"][0]["sensitive"] == [
        "secrets.api_key.value",
        "secrets.backup_keys[0].value",
    ]
    for fmt in RENDERERS:
        out = render(plan, fmt) + render(replace(plan, refresh_only=True), fmt)
        assert "CANARY" not in out and "mlflow-masked" not in out, out


def test_drift_keeps_to_the_scope_but_factories_belong_to_every_scope() -> None:
    applied = {
        r.address: r
        for r in (
            config(),
            config("config.dev/chat"),
            resource("factory.gw", api_base="https://gw.example/v1"),
        )
    }
    drift = drift_of(applied, {}, scope=["prod"])
    assert [d.address for d in drift] == ["config.prod/chat", "factory.gw"]


def empty_plan() -> Plan:
    return build_plan({}, {}, store_url="memory://gateway", lineage="l", serial=1, fingerprints={})


def applied_target() -> tuple[DictTarget, Backend]:
    target, state = DictTarget(), MemoryState()
    backend = Backend(target, state)
    apply_plan(plan_for(backend, DESIRED), backend, RunInfo("run-1", "me", None))
    return target, backend


REFRESH_ONLY = """\
Note: objects have changed outside llmform

llmform found these changes made outside llmform (in the target's own UI or API) since it \
last applied:

  # config.prod/chat changed outside llmform
  ~ config.prod/chat {
      ~ description = "chat" -> "by hand"
        # (1 unchanged attribute hidden)
    }

  # workspace.prod deleted outside llmform
  - workspace.prod

This is a refresh-only plan: it proposes no changes. llmform plan shows the changes that make \
the target match the configuration again.

Drift: 2 resources changed outside llmform.
"""

PLAN_AFTER_DRIFT = """\
  # workspace.prod deleted outside llmform
  - workspace.prod

The changes below make the target match the configuration again: they undo these unless the \
configuration was changed to match them.

Workspace prod:

  # workspace.prod will be created
  + workspace.prod {}

  # config.prod/chat will be updated in place
  ~ config.prod/chat {
      ~ description = "by hand" -> "chat"
        # (1 unchanged attribute hidden)
    }

"""


def test_the_stepped_path_reports_drift_apart_from_the_plan_and_converges() -> None:
    target, backend = applied_target()
    assert refresh_only_plan(backend).drift == ()
    assert render(refresh_only_plan(backend), "text") == (
        "No drift. The target holds what llmform last applied.\n"
    )
    target.resources["config.prod/chat"] = resource(
        "config.prod/chat", factory="gw", description="by hand", secrets={}
    )
    del target.resources["workspace.prod"]

    refresh = refresh_only_plan(backend)
    assert refresh.changes == () and refresh.summary.empty
    assert render(refresh, "text") == REFRESH_ONLY
    plan = plan_for(backend, DESIRED)
    assert plan.drift == refresh.drift
    text = render(plan, "text")
    assert PLAN_AFTER_DRIFT in text, text
    assert text.index("changed outside llmform") < text.index("will be updated in place")

    markdown = render(plan, "markdown")
    assert "| changed | `config.prod/chat` |\n| deleted | `workspace.prod` |" in markdown
    assert markdown.index("outside llmform") < markdown.index("| Action | Resource |")
    refreshed_md = render(refresh, "markdown")
    assert refreshed_md.startswith(
        "### llmform plan (refresh-only)\n\n**Drift: 2 resources changed outside llmform.**"
    )
    data = json.loads(render(plan, "json"))
    assert "refresh_only" not in data
    assert [(d["address"], d["actions"]) for d in data["drift"]] == [
        ("config.prod/chat", ["update"]),
        ("workspace.prod", ["delete"]),
    ]
    assert data["drift"][0]["before"]["description"] == "chat"
    assert data["drift"][0]["after"]["description"] == "by hand"
    assert json.loads(render(refresh, "json"))["refresh_only"] is True

    apply_plan(plan, backend, RunInfo("run-2", "me", None))
    assert refresh_only_plan(backend).drift == ()
    assert plan_for(backend, DESIRED).summary.empty


def test_a_refresh_only_scope_names_known_workspaces() -> None:
    _, backend = applied_target()
    assert refresh_only_plan(backend, ["prod"]).drift == ()
    with pytest.raises(ScopeError, match=r"--workspace nope: .* \(known: prod\)"):
        refresh_only_plan(backend, ["nope"])


def test_a_plan_of_a_target_that_keeps_its_own_state_has_no_drift_section() -> None:
    plan = empty_plan()
    assert plan.drift is None
    assert "drift" not in json.loads(render(plan, "json"))
    assert "drift" not in plan_to_json(plan)
    assert "outside llmform" not in render(plan, "text") + render(plan, "markdown")


def test_saved_plans_keep_the_drift(tmp_path: Path) -> None:
    workspace = resource("workspace.prod", description="", labels={}, defaults={})
    recorded = config(
        api_base=None, enabled=True, options={}, secrets={"api_key": "env:KEY"}, models=[]
    )
    recorded = replace(recorded, secrets={"api_key": CANARY})
    now = replace(recorded, secrets={"api_key": "mlflow-masked:0123456789abcdef"})
    plan = build_plan(
        {now.address: now},
        {now.address: now},
        store_url="memory://gateway",
        lineage="l",
        serial=1,
        fingerprints={},
        last_applied={r.address: r for r in (workspace, recorded)},
    )
    assert [d.action for d in plan.drift or ()] == [UPDATE, DELETE]
    path = tmp_path / "drift.plan"
    path.write_text(plan_text(plan, b"k" * 32), encoding="utf-8")
    loaded = read_plan(str(path)).plan
    assert loaded.drift == plan.drift
    assert render(loaded, "text") == render(plan, "text")
    assert "changed outside llmform" in render(loaded, "text")
    without = tmp_path / "registry.plan"
    without.write_text(plan_text(empty_plan(), b"k" * 32), encoding="utf-8")
    assert read_plan(str(without)).plan.drift is None


def test_a_saved_drift_entry_edited_is_refused(tmp_path: Path) -> None:
    full = {"api_base": None, "enabled": True, "options": {}}
    recorded, now = config(**full), config(**full, description="by hand")
    plan = replace(empty_plan(), drift=drift_of({recorded.address: recorded}, {now.address: now}))
    data = json.loads(plan_text(plan, None))
    data["drift"][0]["fields"] = []  # shows nothing of what changed
    path = tmp_path / "edited.plan"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TamperedPlanError, match=r"drift\[0\] \(config.prod/chat\) is not what"):
        read_plan(str(path)).unverified()
    data["drift"][0]["fields"] = [["description", "chat", "by hand", False]]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert read_plan(str(path)).unverified().drift == plan.drift
