"""The rule for secret values a plan did not read (``llmform.core.unresolved``): which a disabled
config must read, and how an unread one is compared, as tables of resources."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from llmform.core.plan import build_plan
from llmform.core.render import render
from llmform.core.resources import Resource
from llmform.core.unresolved import carry_over, slots_to_read


def config(
    refs: dict[str, str] | None = None, fps: dict[str, str] | None = None, **attrs: Any
) -> Resource:
    base = {
        "factory": "Acme",
        "api_base": "https://llm.acme.example/v1",
        "enabled": False,
        "description": "",
        "models": [{"name": "m1"}],
        "options": {},
        "secrets": {"api_key": "env:A"} if refs is None else refs,
    }
    return Resource("config.prod/a", "config", "prod", base | attrs, fps or {})


STORED = config(fps={"api_key": "fp:1"})
TWO = {"api_key": "env:A", "backup_keys[0]": "env:B"}

# (desired without fingerprints, stored, encrypted) -> (the slots the plan reads, whether
# they must be read because apply seals them)
CASES = {
    "created": (config(), None, False, (["api_key"], False)),
    "created, sealed": (config(encrypted=True), None, True, (["api_key"], True)),
    "unchanged": (config(), STORED, False, ([], False)),
    "updated, not sealed": (config(description="x"), STORED, False, ([], False)),
    "reference changed": (config({"api_key": "env:Z"}), STORED, False, (["api_key"], False)),
    "slot added": (config(TWO), STORED, False, (["backup_keys[0]"], False)),
    "store lost the fingerprint": (config(), config(), False, (["api_key"], False)),
    "sealed and unchanged": (
        config(encrypted=True),
        config(fps={"api_key": "fp:1"}, encrypted=True),
        True,
        ([], False),
    ),
    "sealed and updated": (
        config(TWO, description="x", encrypted=True),
        config(TWO, {"api_key": "fp:1", "backup_keys[0]": "fp:2"}, encrypted=True),
        True,
        (["api_key", "backup_keys[0]"], True),
    ),
    "sealing turned on": (config(encrypted=True), STORED, True, (["api_key"], True)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_slots_a_disabled_config_reads(name: str) -> None:
    desired, stored, encrypted, expected = CASES[name]
    assert slots_to_read(desired, stored, encrypted=encrypted) == expected


def test_an_unread_value_keeps_the_stored_fingerprint_and_is_not_compared() -> None:
    desired = {"config.prod/a": config(TWO, {"backup_keys[0]": "fp:2-new"}, description="x")}
    current = {"config.prod/a": config(TWO, {"api_key": "fp:1", "backup_keys[0]": "fp:2"})}
    carried = carry_over(desired, current)
    assert carried.resources["config.prod/a"].secrets == {
        "api_key": "fp:1",
        "backup_keys[0]": "fp:2-new",
    }
    assert carried.not_compared == {"config.prod/a": ("api_key",)}
    # a new config's unread value has no fingerprint to keep: written without one
    new = carry_over(
        {"config.prod/b": replace(desired["config.prod/a"], address="config.prod/b")}, current
    )
    assert new.resources["config.prod/b"].secrets == {"backup_keys[0]": "fp:2-new"}
    assert new.not_compared == {"config.prod/b": ("api_key",)}
    plan = build_plan(desired, current, store_url="s", lineage="l", serial=1, fingerprints={})
    assert plan.not_compared == {"config.prod/a": ("api_key",)}
    (change,) = plan.actionable
    assert [f.name for f in change.fields] == ["description", "secrets.backup_keys[0].value"]
    assert change.after is not None and change.after.secrets["api_key"] == "fp:1"


def test_a_value_read_into_a_slot_the_store_has_no_fingerprint_for_is_a_change() -> None:
    current = {"config.prod/a": config()}
    desired = {"config.prod/a": config(fps={"api_key": "fp:1"})}
    plan = build_plan(desired, current, store_url="s", lineage="l", serial=1, fingerprints={})
    assert render(plan, "text").splitlines()[2:5] == [
        "  # config.prod/a will be updated in place",
        "  ~ config.prod/a {",
        "      + secrets.api_key.value = (sensitive value)",
    ]
    # read neither side: nothing is claimed
    plan = build_plan(current, current, store_url="s", lineage="l", serial=1, fingerprints={})
    assert plan.summary.empty


def test_no_secrets_keeps_sealing_as_stored_and_scope_limits_the_listing() -> None:
    """Without secret access the encryption key may be missing too: a stored
    ``encrypted = true`` is not shown as being turned off. A config out of scope is not
    planned, so not listed."""
    other = Resource("config.dev/b", "config", "dev", config().attrs)
    stored = {
        "config.prod/a": config(fps={"api_key": "fp:1"}, encrypted=True),
        "config.dev/b": Resource(other.address, "config", "dev", other.attrs, {"api_key": "fp"}),
    }
    desired = {"config.prod/a": config(), "config.dev/b": other}
    plan = build_plan(
        desired,
        stored,
        store_url="s",
        lineage="l",
        serial=1,
        fingerprints={},
        scope=["prod"],
        secrets_compared=False,
    )
    assert plan.summary.empty
    assert plan.not_compared == {"config.prod/a": ("api_key",)}
