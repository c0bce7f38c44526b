"""A plan holds its changes, and of what it compared and found unchanged only a count and a digest
(issue 14): a one-change plan over a large store is small saved and as JSON, its ``unchanged`` is
covered by the MAC, and the JSON says what was found unchanged without listing it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from llmform.core.plan import Plan, build_plan
from llmform.core.render import render
from llmform.core.resources import Resource, resource_digest
from llmform.engine.saved_plans import (
    PlanFileError,
    TamperedPlanError,
    mac_of,
    plan_mac_key,
    read_plan,
    save_plan,
)

KEY = plan_mac_key(b"\x03" * 32)
URL = "sqlite:///x.db"


def workspace(name: str, description: str = "") -> Resource:
    attrs = {"description": description, "labels": {}, "defaults": {}}
    return Resource(f"workspace.{name}", "workspace", name, attrs)


def plan_of(desired: list[Resource], current: list[Resource], **kwargs: object) -> Plan:
    return build_plan(
        {r.address: r for r in desired},
        {r.address: r for r in current},
        store_url=URL,
        lineage="lineage",
        serial=3,
        fingerprints={},
        **kwargs,  # type: ignore[arg-type]
    )


def sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_the_json_plan_lists_the_change_and_counts_the_unchanged() -> None:
    a, b = workspace("a"), workspace("b", "kept")
    plan = plan_of([a, b, workspace("c", "new")], [a, b, workspace("c")])
    lines = "".join(sorted(f"{r.address} {resource_digest(r)}\n" for r in (a, b)))
    assert render(plan, "json") == (
        "{\n"
        '  "format_version": "1.0",\n'
        f'  "llmform_version": "{plan.llmform_version}",\n'
        '  "changes": [\n'
        "    {\n"
        '      "address": "workspace.c",\n'
        '      "kind": "workspace",\n'
        '      "actions": [\n'
        '        "update"\n'
        "      ],\n"
        '      "before": {\n'
        '        "defaults": {},\n'
        '        "description": "",\n'
        '        "labels": {}\n'
        "      },\n"
        '      "after": {\n'
        '        "defaults": {},\n'
        '        "description": "new",\n'
        '        "labels": {}\n'
        "      },\n"
        '      "sensitive": [],\n'
        '      "not_compared": []\n'
        "    }\n"
        "  ],\n"
        '  "unchanged": {\n'
        '    "count": 2,\n'
        f'    "digest": "{sha256(lines)}"\n'
        "  },\n"
        '  "summary": {\n'
        '    "add": 0,\n'
        '    "change": 1,\n'
        '    "destroy": 0\n'
        "  },\n"
        '  "validation": [],\n'
        '  "warnings": [\n'
        '    "Key checks were skipped (--no-validate-keys)."\n'
        "  ],\n"
        '  "errors": [],\n'
        '  "policies": [],\n'
        '  "policy_overrides": []\n'
        "}\n"
    )


def test_what_the_caller_knows_unchanged_counts_as_what_diff_finds_unchanged() -> None:
    """A caller that recognised resources as unchanged by their digests, and left them out,
    gets the plan that passing them in gives; no plan holds a no-op change."""
    kept = [workspace(f"w{i}", f"d{i}") for i in range(5)]
    changed_before, changed_after = workspace("x"), workspace("x", "new")
    full = plan_of([*kept, changed_after], [*kept, changed_before])
    known = {r.address: resource_digest(r) for r in kept[:3]}
    partial = plan_of(
        [*kept[3:], changed_after], [*kept[3:], changed_before], known_unchanged=known
    )
    assert full.unchanged == partial.unchanged and full.unchanged.count == 5
    assert full.changes == partial.changes and [c.action for c in full.changes] == ["update"]
    assert plan_of(kept, kept).changes == ()
    assert plan_of([], []).unchanged.count == 0 and plan_of([], []).unchanged.digest == ""
    # another unchanged resource, or another digest for one, is another digest
    other = plan_of([*kept[:4], changed_after], [*kept[:4], changed_before])
    assert other.unchanged.digest != full.unchanged.digest
    moved = {**known, "workspace.w0": resource_digest(workspace("w0", "else"))}
    shifted = plan_of(
        [*kept[3:], changed_after], [*kept[3:], changed_before], known_unchanged=moved
    )
    assert shifted.unchanged.digest != full.unchanged.digest


def test_a_one_change_plan_over_100000_unchanged_resources_is_small(tmp_path: Path) -> None:
    """20,000 resources found unchanged by diff, 80,000 known unchanged by their digests."""
    known = {f"config.w{i}/c": hashlib.sha256(str(i).encode()).hexdigest() for i in range(80_000)}
    kept = [workspace(f"w{i}", "d") for i in range(20_000)]
    plan = plan_of([*kept, workspace("x", "new")], [*kept, workspace("x")], known_unchanged=known)
    path = tmp_path / "p.plan"
    save_plan(plan, str(path), KEY)
    assert path.stat().st_size < 1024 * 1024, path.stat().st_size
    loaded = read_plan(str(path)).verify(KEY, URL)
    assert loaded == plan and loaded.unchanged.count == 100_000
    assert render(loaded, "text") == render(plan, "text")
    assert len(render(plan, "json").encode()) < 1024 * 1024


def _resigned(path: Path, edit: object) -> None:
    data = json.loads(path.read_text())
    data.pop("mac")
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps({**data, "mac": mac_of(KEY, data)}))


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["unchanged"].update(count=d["unchanged"]["count"] + 1),
        lambda d: d["unchanged"].update(digest=sha256("another store")),
    ],
    ids=["count", "digest"],
)
def test_an_edited_unchanged_is_refused(tmp_path: Path, edit: object) -> None:
    """A well-formed edit of ``unchanged`` does not verify: the MAC covers it."""
    a = workspace("a")
    plan = plan_of([a, workspace("c", "new")], [a, workspace("c")])
    path = tmp_path / "p.plan"
    save_plan(plan, str(path), KEY)
    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    with pytest.raises(TamperedPlanError, match="modified after 'llmform plan' wrote it"):
        read_plan(str(path)).verify(KEY, URL)


@pytest.mark.parametrize(
    ("unchanged", "message"),
    [
        ({"count": 0, "digest": sha256("x")}, "unchanged.digest: expected an empty digest"),
        ({"count": 2, "digest": ""}, "unchanged.digest: expected 'sha256:' and 64 hexadecimal"),
        ({"count": -1, "digest": ""}, "unchanged.count: expected a number of 0 or more"),
        ({"count": 1}, "unchanged.digest"),
    ],
)
def test_an_unchanged_of_another_shape_is_refused_naming_it(
    tmp_path: Path, unchanged: dict[str, object], message: str
) -> None:
    """Even signed with the store's key, a file whose ``unchanged`` llmform never writes is
    refused as damaged, naming the field."""
    path = tmp_path / "p.plan"
    save_plan(plan_of([workspace("c", "new")], [workspace("c")]), str(path), KEY)
    _resigned(path, lambda d: d.update(unchanged=unchanged))
    with pytest.raises(PlanFileError, match=message):
        read_plan(str(path))
