"""The saved plan file: a legitimate plan survives saving, verifying and re-validation exactly;
the MAC covers every value in the file; reading never recurses on depth.

The plans are the table-driven plan cases (tests/cases/plan) and the examples, so every kind of
change and every provider type the examples use goes through.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_plan_cases import CASES, case_names, case_plan

from llmform.core.plan import Plan, build_plan
from llmform.core.render import RENDERERS, render
from llmform.core.resources import Resource, desired_resources, secret_slots
from llmform.core.typed_json import bounded
from llmform.desired.validate import load_state
from llmform.engine.plan_check import revalidate
from llmform.engine.saved_plans import (
    PlanFileError,
    TamperedPlanError,
    mac_of,
    plan_mac_key,
    read_plan,
    save_plan,
)
from llmform.targets.base import StoreState

KEY = plan_mac_key(b"\x01" * 32)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _case(name: str) -> tuple[Plan, StoreState]:
    plan, current = case_plan(CASES / name)
    unmanaged = set(current.get("unmanaged", ()))
    stored = {
        r["address"]: Resource(r["address"], r["kind"], r["workspace"], r["attrs"], r["secrets"])
        for r in current.get("resources", [])
    }
    state = StoreState(
        "case-lineage",
        7,
        {a: r for a, r in stored.items() if a not in unmanaged},
        {a: r for a, r in stored.items() if a in unmanaged},
    )
    return plan, state


def _example(name: str, encrypted: bool) -> tuple[Plan, StoreState]:
    """The example applied to an empty store, every reference given a fingerprint."""
    state = load_state([str(EXAMPLES / name)])
    refs = {ref for c in state.configs.values() for ref in secret_slots(c).values()}
    fingerprints = {ref: hashlib.sha256(str(ref).encode()).hexdigest() for ref in refs}
    desired = desired_resources(state, fingerprints, encrypted=encrypted)
    plan = build_plan(
        desired,
        {},
        store_url="sqlite:///x.db",
        lineage="l",
        serial=0,
        fingerprints={str(ref): fp for ref, fp in fingerprints.items()},
    )
    return plan, StoreState("l", 0, {})


# A case whose key checks include entries of shapes llmform never writes (to show that rendering
# tolerates them): saved, it is refused on load, naming the first.
ODD_SHAPES = {"key-checks-and-warnings": "key_checks[2].keys: expected a list, found a string"}


def _plans() -> Iterator[Any]:
    for name in case_names():
        if name not in ODD_SHAPES:
            yield pytest.param(*_case(name), id=f"case-{name}")
    for name in ("quickstart", "multi-workspace"):
        for encrypted in (False, True):
            yield pytest.param(*_example(name, encrypted), id=f"{name}-{encrypted}")


@pytest.mark.parametrize(("plan", "current"), list(_plans()))
def test_a_plan_survives_saving_and_revalidation(
    plan: Plan, current: StoreState, tmp_path: Path
) -> None:
    path = tmp_path / "p.plan"
    save_plan(plan, str(path), KEY)
    loaded = read_plan(str(path)).verify(KEY, "sqlite:///x.db")
    assert loaded == plan
    for fmt in RENDERERS:
        assert render(loaded, fmt) == render(plan, fmt)
    revalidate(loaded, current)  # a plan llmform made is never refused by its own checks


@pytest.mark.parametrize(("name", "message"), ODD_SHAPES.items())
def test_odd_shapes_are_refused_on_load(name: str, message: str, tmp_path: Path) -> None:
    plan, _ = _case(name)
    save_plan(plan, str(tmp_path / "p.plan"), KEY)
    with pytest.raises(PlanFileError, match=re.escape(message)):
        read_plan(str(tmp_path / "p.plan"))


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path


def _changed(value: Any) -> Any:
    """Another value of the same type: what an editor of the file would write."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x" if value else "x"
    return "x"  # null


@pytest.mark.parametrize("name", ["unmanaged", "backup-keys", "replace-config-factory"])
def test_the_mac_covers_every_value(name: str, tmp_path: Path) -> None:
    """Each value in the file, changed alone, makes the file unreadable or unverifiable: no
    field is left out of the MAC, including ones added later (the MAC is over the whole
    serialisation)."""
    plan, _ = _case(name)
    path = tmp_path / "p.plan"
    save_plan(plan, str(path), KEY)
    original = json.loads(path.read_text())
    leaves = [leaf for leaf in _leaves(original) if leaf != ("mac",)]
    assert len(leaves) > 10  # a no-change plan holds no resource: the unmanaged case has 15
    for leaf in leaves:
        data = json.loads(path.read_text())
        node = data
        for step in leaf[:-1]:
            node = node[step]
        node[leaf[-1]] = _changed(node[leaf[-1]])
        edited = tmp_path / "edited.plan"
        edited.write_text(json.dumps(data))
        with pytest.raises(PlanFileError):
            read_plan(str(edited)).verify(KEY, "sqlite:///x.db")


def test_a_plan_for_another_store_does_not_verify(tmp_path: Path) -> None:
    plan, _ = _case("create-everything")
    path = tmp_path / "p.plan"
    save_plan(plan, str(path), KEY)
    with pytest.raises(TamperedPlanError, match="or was made for another store"):
        read_plan(str(path)).verify(plan_mac_key(b"\x02" * 32), "sqlite:///other.db")


def test_a_consistent_forgery_is_still_refused_unverified(tmp_path: Path) -> None:
    """Without a store (show on a laptop) there is no MAC to check, but a change whose action
    or fields do not follow from its before and after is refused all the same."""
    plan, _ = _case("config-fields")
    path = tmp_path / "p.plan"
    save_plan(plan, str(path), KEY)
    data = json.loads(path.read_text())
    update = next(c for c in data["changes"] if c["action"] == "update")
    update["fields"] = []  # hide what the update does from the reviewer
    data["mac"] = mac_of(KEY, {k: v for k, v in data.items() if k != "mac"})
    path.write_text(json.dumps(data))
    saved = read_plan(str(path))
    for check in (saved.unverified, lambda: saved.verify(KEY, "s")):
        with pytest.raises(TamperedPlanError, match=r"changes\[\d+\] \(config\.prod/"):
            check()


def test_depth_is_measured_without_recursion() -> None:
    deep: Any = 1
    for _ in range(200_000):
        deep = [deep]
    assert bounded(deep, 32) == "nested more than 32 levels deep"
    assert bounded({"a": [{"b": 1.5}]}, 32) is None
    assert bounded({"a": float("inf")}, 32) == "a number is too large"


def test_an_unknown_attribute_is_read_as_json(tmp_path: Path) -> None:
    """An attribute this llmform does not know (another version's) loads as JSON; apply's
    re-validation, not the reader, refuses what llmform would not write."""
    plan, current = _case("create-everything")
    change = next(c for c in plan.changes if c.kind == "workspace" and c.after is not None)
    assert change.after is not None
    after = replace(change.after, attrs={**change.after.attrs, "future": {"x": [1]}})
    changes = tuple(replace(c, after=after) if c is change else c for c in plan.changes)
    forged = replace(plan, changes=changes)
    path = tmp_path / "p.plan"
    save_plan(forged, str(path), KEY)
    loaded = read_plan(str(path)).verify(KEY, "s")
    assert loaded == forged
    with pytest.raises(Exception, match="future differ"):
        revalidate(loaded, current)
