"""Table-driven plan cases: ``tests/cases/plan/<name>/`` holds ``desired.yaml`` (llmform YAML),
``current.json`` (the store's resources, the fingerprints the resolver gives for the desired
side's references, and which addresses are unmanaged), optionally ``options.json`` (scope,
warnings, key checks, ``verbose`` as ``plan -v`` gives it, policy ``overrides`` as
``--override-policy NAME --reason TEXT`` give them, ``policy_paths`` as ``--policy PATH``
gives them, ``blocked``: whether policies block the plan; a stored policy in ``current.json``
is one in force) and ``plan.txt``, the exact text plan; with policies, ``plan.json`` is the
json plan's ``policies`` and ``policy_overrides``.

Set ``LLMFORM_REGENERATE_CASES=1`` to rewrite every ``plan.txt`` from the code; then read each
changed file by eye before committing it, since the test can no longer catch anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from llmform.core.plan import Plan, build_plan
from llmform.core.policy_results import judge_state, policy_error
from llmform.core.render import RENDERERS, render
from llmform.core.resources import Resource, desired_resources, policy_of, secret_slots
from llmform.desired.validate import load_state
from llmform.engine.policy_runs import with_outside_policies

CASES = Path(__file__).parent / "cases" / "plan"
REGENERATE = os.environ.get("LLMFORM_REGENERATE_CASES") == "1"


def case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def load_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    assert isinstance(data, dict), path
    return data


def case_plan(case: Path) -> tuple[Plan, dict[str, Any]]:
    current = load_json(case / "current.json")
    options = load_json(case / "options.json")
    warnings: list[str] = []
    outside = [str(case / path) for path in options.get("policy_paths", ())]
    state = with_outside_policies(
        load_state([str(case / "desired.yaml")]), outside, warnings.append
    )
    fingerprints: dict[str, str] = current.get("fingerprints", {})
    # the resolver's answer, keyed by the reference objects the desired state holds
    refs = {str(ref): ref for c in state.configs.values() for ref in secret_slots(c).values()}
    unknown = set(fingerprints) - set(refs)
    assert not unknown, f"fingerprints for references the YAML does not use: {unknown}"
    desired = desired_resources(state, {refs[text]: fp for text, fp in fingerprints.items()})
    stored = {
        r["address"]: Resource(r["address"], r["kind"], r["workspace"], r["attrs"], r["secrets"])
        for r in current.get("resources", [])
    }
    plan = build_plan(
        desired,
        stored,
        store_url="sqlite:///.llmform/llmform.db",
        lineage="case-lineage",
        serial=7,
        fingerprints=fingerprints,
        scope=options.get("scope", ()),
        unmanaged=current.get("unmanaged", ()),
        warnings=[
            *options.get("warnings", ()),
            *(w.replace(str(case) + "/", "") for w in warnings),
        ],
    )
    in_force = {r.name: policy_of(r) for r in stored.values() if r.kind == "policy"}
    policies, overrides = judge_state(state, plan.scope, options.get("overrides", {}), in_force)
    plan = replace(
        plan,
        keys_checked=options.get("keys_checked", False),
        key_checks=tuple(options.get("key_checks", ())),
        policies=policies,
        policy_overrides=overrides,
    )
    return plan, current


@pytest.mark.parametrize("name", case_names())
def test_plan_case(name: str) -> None:
    case = CASES / name
    plan, _ = case_plan(case)
    verbose = load_json(case / "options.json").get("verbose", False)
    text = render(plan, "text", verbose=verbose)
    expected = case / "plan.txt"
    if REGENERATE:
        expected.write_text(text, encoding="utf-8")
    assert text == expected.read_text(encoding="utf-8")
    blocked = policy_error(plan.policies, "the plan cannot be applied") is not None
    assert blocked == load_json(case / "options.json").get("blocked", False)
    if plan.policies:
        section = {key: json.loads(render(plan, "json"))[key] for key in POLICY_KEYS}
        shown = case / "plan.json"
        if REGENERATE:
            shown.write_text(json.dumps(section, indent=1, ensure_ascii=False) + "\n", "utf-8")
        assert section == json.loads(shown.read_text("utf-8"))


POLICY_KEYS = ("policies", "policy_overrides")


@pytest.mark.parametrize("name", case_names())
def test_no_fingerprint_in_any_rendering(name: str) -> None:
    """Fingerprints in the cases carry a canary; neither it nor any fingerprint may be shown."""
    plan, current = case_plan(CASES / name)
    secrets = set(current.get("fingerprints", {}).values())
    secrets |= {fp for r in current.get("resources", []) for fp in r["secrets"].values()}
    for fmt in RENDERERS:
        for color, verbose in ((False, False), (True, False), (False, True)):
            out = render(plan, fmt, color=color, verbose=verbose)
            assert "CANARY" not in out
            assert not [fp for fp in secrets if fp in out]


def test_enough_cases() -> None:
    assert len(case_names()) >= 10
