"""The plan renderers: exact text (with and without colour), markdown, and JSON compared as
data. The kinds of change met in real YAML are covered by ``tests/cases/plan``; here the plans
are built from resources directly, to reach what YAML cannot easily produce (a sensitive field
that appears or disappears, odd key-check shapes, several scopes) and to pin colour codes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from llmform.catalog import builtin_factories
from llmform.core.diff import UPDATE, Change, FieldChange
from llmform.core.plan import Plan, build_plan
from llmform.core.render import RENDERERS, render
from llmform.core.resources import Resource, desired_resources, factory_resource, resource_digest
from llmform.desired.model import EnvRef, SecretRef
from llmform.desired.validate import load_state
from llmform.engine.saved_plans import load_plan, save_plan
from llmform.secrets.base import fingerprint
from llmform.secrets.env import EnvResolver

# ANSI codes written out, not taken from the code under test
BOLD, RED, GREEN, YELLOW, END = "\x1b[1m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[0m"


def config(
    address: str,
    factory: str = "Acme",
    fp: str = "fp:CANARY-1",
    **attrs: Any,
) -> Resource:
    workspace = address.split(".", 1)[1].split("/")[0]
    base = {
        "factory": factory,
        "api_base": "https://llm.acme.example/v1",
        "enabled": True,
        "description": "",
        "models": [{"name": "m1", "type": ["chat"]}],
        "options": {},
        "secrets": {"api_key": "env:KEY"},
    }
    return Resource(address, "config", workspace, base | attrs, {"api_key": fp})


def workspace(name: str, description: str = "") -> Resource:
    attrs = {"description": description, "labels": {}, "defaults": {}}
    return Resource(f"workspace.{name}", "workspace", name, attrs)


BETA = Resource(
    "factory.Beta",
    "factory",
    None,
    {
        "type": "openai",
        "api_base": None,
        "tags": [],
        "models": [{"name": "b1", "type": ["chat"], "max_tokens": 1000}],
    },
)


def make_plan(**kwargs: Any) -> Plan:
    """Every action at once: delete (config and workspace), create, update, replace, a rotated
    secret and a no-op."""
    current = [
        workspace("prod", "Production"),
        workspace("old"),
        config("config.old/x"),
        config("config.prod/a"),
        config("config.prod/b"),
        config("config.prod/c"),
    ]
    desired = [
        BETA,
        workspace("prod", "Production tenant"),
        config("config.prod/a", factory="Beta"),
        config("config.prod/b", fp="fp:CANARY-2"),
        config("config.prod/c"),
    ]
    return build_plan(
        {r.address: r for r in desired},
        {r.address: r for r in current},
        store_url="sqlite:///x.db",
        lineage="lineage",
        serial=1,
        fingerprints={"env:KEY": "fp:CANARY-2"},
        **kwargs,
    )


PLAIN = """\
Workspace old (to destroy):

  # config.old/x will be destroyed
  - config.old/x

  # workspace.old will be destroyed
  - workspace.old

Factories:

  # factory.Beta will be created
  + factory.Beta {
      + models = [
          + "b1" {type = ["chat"], max_tokens = 1000}
        ]
      + type   = "openai"
    }

Workspace prod:

  # workspace.prod will be updated in place
  ~ workspace.prod {
      ~ description = "Production" -> "Production tenant"
    }

  # config.prod/a must be replaced (factory cannot change in place)
-/+ config.prod/a {
      ~ factory = "Acme" -> "Beta" # forces replacement
        # (6 unchanged attributes hidden)
    }

  # config.prod/b will be updated in place
  ~ config.prod/b {
      ~ secrets.api_key.value = (sensitive value changed)
        # (6 unchanged attributes hidden)
    }

Key checks were skipped (--no-validate-keys).

Plan: 2 to add, 2 to change, 3 to destroy.
"""

G, Y, R = f"{GREEN}+{END}", f"{YELLOW}~{END}", f"{RED}-{END}"
COLORED = f"""\
{BOLD}Workspace old (to destroy):{END}

{BOLD}  # config.old/x will be destroyed{END}
  {R} config.old/x

{BOLD}  # workspace.old will be destroyed{END}
  {R} workspace.old

{BOLD}Factories:{END}

{BOLD}  # factory.Beta will be created{END}
  {G} factory.Beta {{
      {G} models = [
          {G} "b1" {{type = ["chat"], max_tokens = 1000}}
        ]
      {G} type   = "openai"
    }}

{BOLD}Workspace prod:{END}

{BOLD}  # workspace.prod will be updated in place{END}
  {Y} workspace.prod {{
      {Y} description = "Production" -> "Production tenant"
    }}

{BOLD}  # config.prod/a must be replaced (factory cannot change in place){END}
{R}/{G} config.prod/a {{
      {Y} factory = "Acme" -> "Beta" # forces replacement
        # (6 unchanged attributes hidden)
    }}

{BOLD}  # config.prod/b will be updated in place{END}
  {Y} config.prod/b {{
      {Y} secrets.api_key.value = (sensitive value changed)
        # (6 unchanged attributes hidden)
    }}

{YELLOW}Key checks were skipped (--no-validate-keys).{END}

{BOLD}Plan:{END} 2 to add, 2 to change, 3 to destroy.
"""


def test_text_every_action_plain() -> None:
    assert render(make_plan(), "text") == PLAIN


def test_text_every_action_colored() -> None:
    assert render(make_plan(), "text", color=True) == COLORED


def test_text_no_changes_colored() -> None:
    plan = replace(make_plan(), changes=(), keys_checked=True)
    assert render(plan, "text", color=True) == (
        f"{BOLD}No changes. The store matches the configuration.{END}\n"
    )


def test_text_sensitive_slot_appearing_and_disappearing() -> None:
    """diff shows a new or removed secret slot through its reference; a plan file written by
    another version may still carry the value's own line, and it must read sensibly."""
    before, after = config("config.prod/a"), config("config.prod/a", enabled=False)
    change = Change(
        "config.prod/a",
        "config",
        "prod",
        UPDATE,
        before,
        after,
        fields=(
            FieldChange("enabled", True, False),
            FieldChange("secrets.api_secret.value", None, "fp:CANARY-3", sensitive=True),
            FieldChange("secrets.backup_keys[0].value", "fp:CANARY-4", None, sensitive=True),
        ),
        unchanged=1,
    )
    plan = replace(make_plan(), changes=(change,), keys_checked=True)
    assert render(plan, "text") == (
        "Workspace prod:\n"
        "\n"
        "  # config.prod/a will be updated in place\n"
        "  ~ config.prod/a {\n"
        "      ~ enabled                      = true -> false\n"
        "      + secrets.api_secret.value     = (sensitive value)\n"
        "      - secrets.backup_keys[0].value = (sensitive value) -> null\n"
        "        # (1 unchanged attribute hidden)\n"
        "    }\n"
        "\n"
        "Plan: 0 to add, 1 to change, 0 to destroy.\n"
    )


def key(slot: str, outcome: str, passed: bool, detail: str = "") -> dict[str, object]:
    return {"slot": slot, "outcome": outcome, "passed": passed, "detail": detail}


def test_text_scope_and_key_checks() -> None:
    """Key checks as CheckReport.to_dict gives them; a plan file is data from disk, so other
    shapes are skipped and a key not marked passed counts as failed."""
    checks = (
        {"address": "config.prod/b", "keys": [key("api_key", "valid", True)]},
        {
            "address": "config.prod/a",
            "keys": [
                key("api_key", "invalid_key", False, "HTTP 401"),
                key("backup_keys[0]", "rate_limited", True),
                {"slot": "backup_keys[1]", "outcome": "valid"},
                {"slot": 3, "outcome": "valid", "passed": True},
                "not a key",
            ],
        },
        {"address": "config.prod/c", "keys": "not a list of keys"},
        {"address": "config.prod/d", "slot": "api_key", "outcome": "valid", "passed": True},
        {"keys": [key("api_key", "valid", True)]},
    )
    plan = replace(
        make_plan(scope=["prod", "staging"]),
        changes=(),
        keys_checked=True,
        key_checks=checks,
        warnings=("first", "second"),
    )
    assert render(plan, "text") == (
        "Scope: workspaces prod, staging; everything else is left alone.\n"
        "\n"
        "Warning: first\n"
        "Warning: second\n"
        "\n"
        "Key checks: 4 keys of 2 configs, 2 failed.\n"
        "  config.prod/b  api_key: valid\n"
        "  config.prod/a  api_key: invalid key (HTTP 401)\n"
        "  config.prod/a  backup_keys[0]: rate limited\n"
        "  config.prod/a  backup_keys[1]: valid\n"
        "\n"
        "No changes. The store matches the configuration.\n"
    )
    assert [(k.address, k.slot) for k in plan.failed_keys] == [
        ("config.prod/a", "api_key"),
        ("config.prod/a", "backup_keys[1]"),
    ]
    colored = render(plan, "text", color=True)
    assert f"Key checks: 4 keys of 2 configs, {RED}2 failed{END}." in colored
    assert f"api_key: {RED}invalid key (HTTP 401){END}" in colored
    assert f"backup_keys[0]: {GREEN}rate limited{END}" in colored


MARKDOWN = """\
### llmform plan

**Plan: 2 to add, 2 to change, 3 to destroy.**

| Add | Change | Destroy |
|---:|---:|---:|
| 2 | 2 | 3 |

| Action | Resource |
|---|---|
| destroy | `config.old/x` |
| destroy | `workspace.old` |
| create | `factory.Beta` |
| update | `workspace.prod` |
| replace | `config.prod/a` |
| update | `config.prod/b` |

<details><summary>Workspace old: 2 to destroy</summary>

```diff
  # config.old/x will be destroyed
-   config.old/x

  # workspace.old will be destroyed
-   workspace.old
```

</details>

<details><summary>Factories: 1 to add</summary>

```diff
  # factory.Beta will be created
+   factory.Beta {
+       models = [
+           "b1" {type = ["chat"], max_tokens = 1000}
        ]
+       type   = "openai"
    }
```

</details>

<details><summary>Workspace prod: 1 to add, 2 to change, 1 to destroy</summary>

```diff
  # workspace.prod will be updated in place
!   workspace.prod {
!       description = "Production" -> "Production tenant"
    }

  # config.prod/a must be replaced (factory cannot change in place)
-/+ config.prod/a {
!       factory = "Acme" -> "Beta" # forces replacement
        # (6 unchanged attributes hidden)
    }

  # config.prod/b will be updated in place
!   config.prod/b {
!       secrets.api_key.value = (sensitive value changed)
        # (6 unchanged attributes hidden)
    }
```

</details>

_Key checks were skipped (--no-validate-keys)._
"""


def test_markdown() -> None:
    assert render(make_plan(), "markdown") == MARKDOWN
    assert render(make_plan(), "markdown", color=True) == MARKDOWN


def test_markdown_notes_and_escaping() -> None:
    """Warnings, unmanaged resources, key checks; a value holding a code fence or a pipe cannot
    break out of its block or table cell."""
    odd = workspace("prod", "see ```this``` | <b>")
    plan = build_plan(
        {odd.address: odd},
        {},
        store_url="sqlite:///x.db",
        lineage="l",
        serial=1,
        fingerprints={},
        unmanaged=["config.prod/by|hand"],
        warnings=["a <warning>"],
    )
    plan = replace(
        plan,
        keys_checked=True,
        key_checks=(
            {
                "address": "config.prod/a",
                "keys": [
                    key("api_key", "valid", True),
                    key("backup_keys[0]", "error", False, "a|b"),
                ],
            },
        ),
    )
    assert render(plan, "markdown") == (
        "### llmform plan\n"
        "\n"
        "**Plan: 1 to add, 0 to change, 0 to destroy.**\n"
        "\n"
        "| Add | Change | Destroy |\n"
        "|---:|---:|---:|\n"
        "| 1 | 0 | 0 |\n"
        "\n"
        "| Action | Resource |\n"
        "|---|---|\n"
        "| create | `workspace.prod` |\n"
        "\n"
        "<details><summary>Workspace prod: 1 to add</summary>\n"
        "\n"
        "````diff\n"
        "  # workspace.prod will be created\n"
        "+   workspace.prod {\n"
        '+       description = "see ```this``` | <b>"\n'
        "    }\n"
        "````\n"
        "\n"
        "</details>\n"
        "\n"
        "**Warnings**\n"
        "\n"
        "- a &lt;warning&gt;\n"
        "\n"
        "**Unmanaged** (in the store, not created by llmform; left alone)\n"
        "\n"
        "- `config.prod/by|hand`\n"
        "\n"
        "**Key checks** (1 failed)\n"
        "\n"
        "| Resource | Key | Outcome |\n"
        "|---|---|---|\n"
        "| `config.prod/a` | `api_key` | ✅ valid |\n"
        "| `config.prod/a` | `backup_keys[0]` | ❌ error (a\\|b) |\n"
        "\n"
        "**1 key failed its check, so this plan cannot be applied:**\n"
        "\n"
        "- error (1 key): read the provider's answer in the key checks; check api\\_base and the "
        "config's options\n"
    )


def test_json() -> None:
    data = json.loads(render(make_plan(unmanaged=["config.prod/manual"]), "json"))
    assert list(data) == [
        "format_version",
        "llmform_version",
        "changes",
        "unchanged",
        "summary",
        "validation",
        "warnings",
        "errors",
        "policies",
        "policy_overrides",
    ]
    assert data["format_version"] == "1.0"
    assert data["summary"] == {"add": 2, "change": 2, "destroy": 3}
    assert data["validation"] == [] and data["errors"] == []
    assert data["warnings"] == [
        "unmanaged resources in the store (not created by llmform) are left alone: "
        "config.prod/manual",
        "Key checks were skipped (--no-validate-keys).",
    ]
    by_address = {c["address"]: c for c in data["changes"]}
    assert [(c["address"], c["actions"]) for c in data["changes"]] == [
        ("config.old/x", ["delete"]),
        ("workspace.old", ["delete"]),
        ("factory.Beta", ["create"]),
        ("workspace.prod", ["update"]),
        ("config.prod/a", ["delete", "create"]),
        ("config.prod/b", ["update"]),
    ]
    # the no-op is not copied: counted, and in the digest of what was found unchanged
    unchanged_c = f"config.prod/c {resource_digest(config('config.prod/c'))}\n"
    digest = "sha256:" + hashlib.sha256(unchanged_c.encode()).hexdigest()
    assert data["unchanged"] == {"count": 1, "digest": digest}
    for change in data["changes"]:
        assert list(change) == [
            "address",
            "kind",
            "actions",
            "before",
            "after",
            "sensitive",
            "not_compared",
        ]
        assert change["not_compared"] == []
    old_x = by_address["config.old/x"]
    assert old_x["kind"] == "config" and old_x["after"] is None
    assert old_x["before"] == {
        "api_base": "https://llm.acme.example/v1",
        "description": "",
        "enabled": True,
        "factory": "Acme",
        "models": [{"name": "m1", "type": ["chat"]}],
        "options": {},
        "secrets": {"api_key": "env:KEY"},
    }
    assert list(old_x["before"]) == sorted(old_x["before"])
    assert by_address["factory.Beta"]["before"] is None
    assert by_address["factory.Beta"]["after"]["models"] == [
        {"max_tokens": 1000, "name": "b1", "type": ["chat"]}
    ]
    assert by_address["workspace.prod"]["after"]["description"] == "Production tenant"
    # which sensitive values each change writes or removes; a rotation is one of them
    assert {a: c["sensitive"] for a, c in by_address.items()} == {
        "config.old/x": ["secrets.api_key.value"],
        "workspace.old": [],
        "factory.Beta": [],
        "workspace.prod": [],
        "config.prod/a": ["secrets.api_key.value"],
        "config.prod/b": ["secrets.api_key.value"],
    }


def test_json_key_checks_are_the_validation_and_failures_the_errors() -> None:
    keys = [key("api_key", "valid", True), key("backup_keys[0]", "invalid_key", False, "HTTP 401")]
    checks = ({"address": "config.prod/a", "keys": keys},)
    plan = replace(make_plan(), keys_checked=True, key_checks=checks)
    data = json.loads(render(plan, "json"))
    assert data["validation"] == [{"address": "config.prod/a", "keys": keys}]
    assert data["errors"] == [
        {
            "address": "config.prod/a",
            "slot": "backup_keys[0]",
            "message": "key check failed: invalid key (HTTP 401)",
        }
    ]
    assert data["warnings"] == []


def test_json_is_deterministic_whatever_the_attribute_order() -> None:
    """A store may hand attributes back in any order; the JSON must not follow it."""
    resource = config("config.prod/a")
    reordered = replace(resource, attrs=dict(reversed(list(resource.attrs.items()))))
    plans = [
        build_plan({}, {r.address: r}, store_url="s", lineage="l", serial=1, fingerprints={})
        for r in (resource, reordered)
    ]
    orders = [list(c.before.attrs) for p in plans for c in p.changes if c.before is not None]
    assert orders[0] != orders[1]
    assert render(plans[0], "json") == render(plans[1], "json")


def test_a_saved_plan_renders_as_the_original(tmp_path: Path) -> None:
    plan = replace(make_plan(unmanaged=["config.prod/manual"]), warnings=("careful",))
    save_plan(plan, str(tmp_path / "plan.json"), None)
    loaded = load_plan(str(tmp_path / "plan.json"))
    for fmt in RENDERERS:
        assert render(loaded, fmt) == render(plan, fmt)


def test_unknown_format() -> None:
    with pytest.raises(
        ValueError, match="unknown plan format 'yaml'; use one of text, markdown, json"
    ):
        render(make_plan(), "yaml")


CANARY = "sk-CANARY-4f1d9a7e0b2c"


def test_canary_secret_and_its_fingerprint_never_rendered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real path: a key from the environment, resolved and fingerprinted as plan does, then
    rotated; neither the value nor either fingerprint appears in any format."""
    yaml_file = tmp_path / "llmform.yaml"
    yaml_file.write_text(
        "apiVersion: llmform/v1\n"
        "factories:\n"
        "  - {name: Acme, type: openai-compatible, api_base: 'https://llm.acme.example/v1',\n"
        "     models: [{name: m1, type: chat}]}\n"
        "workspaces: [{name: prod}]\n"
        "configs:\n"
        "  - {name: main, workspace: prod, factory: Acme, api_key: {env: ACME_KEY},\n"
        "     backup_keys: [{env: ACME_BACKUP}], models: [m1]}\n"
    )
    state = load_state([str(yaml_file)])
    key = b"fingerprint key of this test"
    prints: dict[str, dict[SecretRef, str]] = {}
    for name, value in (("old", CANARY + "-old"), ("new", CANARY + "-new")):
        monkeypatch.setenv("ACME_KEY", value)
        monkeypatch.setenv("ACME_BACKUP", CANARY + "-backup")
        resolution = EnvResolver().resolve([EnvRef("ACME_KEY"), EnvRef("ACME_BACKUP")])
        assert not resolution.problems
        prints[name] = {ref: fingerprint(key, v) for ref, v in resolution.values.items()}
    current = desired_resources(state, prints["old"])
    desired = desired_resources(state, prints["new"])
    plan = build_plan(
        desired,
        current,
        store_url="sqlite:///x.db",
        lineage="l",
        serial=1,
        fingerprints={str(r): fp for r, fp in prints["new"].items()},
    )
    assert plan.summary.change == 1  # the rotation is in the plan
    secrets = {CANARY} | {fp for side in prints.values() for fp in side.values()}
    for fmt in RENDERERS:
        for color in (False, True):
            out = render(plan, fmt, color=color)
            assert [s for s in secrets if s in out] == []
    assert "(sensitive value changed)" in render(plan, "text")


def catalog_plan() -> Plan:
    """Two factories created from the built-in catalog, one declared, one catalog factory
    updated (a new release changed its models)."""
    alpha = replace(BETA, address="factory.Alpha", catalog=True)
    beta = replace(BETA, catalog=True)
    gamma = replace(BETA, address="factory.Gamma")
    delta = replace(BETA, address="factory.Delta", catalog=True)
    old_models = [{"name": "b0", "type": ["chat"]}, {"name": "b1", "type": ["chat"]}]
    old_delta = replace(delta, attrs={**delta.attrs, "models": old_models}, catalog=False)
    desired = {r.address: r for r in (alpha, beta, gamma, delta)}
    return build_plan(
        desired,
        {old_delta.address: old_delta},
        store_url="s",
        lineage="l",
        serial=1,
        fingerprints={},
    )


CATALOG_TEXT = """\
Factories:

  + factory.Alpha (built-in catalog, 1 model)
  + factory.Beta (built-in catalog, 1 model)

  # factory.Delta will be updated in place (built-in catalog)
  ~ factory.Delta {
      ~ models = [
          - "b0"
          ~ "b1" {max_tokens = null -> 1000}
        ]
        # (3 unchanged attributes hidden)
    }

  # factory.Gamma will be created
  + factory.Gamma {
      + models = [
          + "b1" {type = ["chat"], max_tokens = 1000}
        ]
      + type   = "openai"
    }

Key checks were skipped (--no-validate-keys).

Plan: 3 to add, 1 to change, 0 to destroy.
"""

ALPHA_IN_FULL = """\
  # factory.Alpha will be created (built-in catalog)
  + factory.Alpha {
      + models = [
          + "b1" {type = ["chat"], max_tokens = 1000}
        ]
      + type   = "openai"
    }
"""


def test_catalog_factories_are_one_line_each_unless_verbose() -> None:
    plan = catalog_plan()
    assert render(plan, "text") == CATALOG_TEXT
    colored = render(plan, "text", color=True)
    assert f"  {GREEN}+{END} factory.Alpha (built-in catalog, 1 model)\n" in colored
    verbose = render(plan, "text", verbose=True)
    assert ALPHA_IN_FULL + "\n  # factory.Beta will be created (built-in catalog)\n" in verbose
    assert "(built-in catalog, " not in verbose
    assert verbose.count('+ "b1" {type = ["chat"], max_tokens = 1000}') == 3


def test_markdown_catalog_factories_summary_and_verbose() -> None:
    plan = catalog_plan()
    body = render(plan, "markdown")
    assert (
        "```diff\n"
        "+   factory.Alpha (built-in catalog, 1 model)\n"
        "+   factory.Beta (built-in catalog, 1 model)\n"
        "\n"
        "  # factory.Delta will be updated in place (built-in catalog)\n"
    ) in body
    assert "| create | `factory.Alpha` |" in body  # the table still lists every resource
    verbose = render(plan, "markdown", verbose=True)
    assert "(built-in catalog, " not in verbose
    assert "  # factory.Alpha will be created (built-in catalog)\n+   factory.Alpha {\n" in verbose


def test_json_keeps_catalog_factories_in_full_and_a_saved_plan_keeps_the_marker(
    tmp_path: Path,
) -> None:
    plan = catalog_plan()
    data = json.loads(render(plan, "json"))
    alpha = next(c for c in data["changes"] if c["address"] == "factory.Alpha")
    assert alpha["after"]["models"] == [{"max_tokens": 1000, "name": "b1", "type": ["chat"]}]
    assert render(plan, "json", verbose=True) == render(plan, "json")
    # saved, a factory marked as the catalog's must be this llmform's catalog's (saved_plans)
    catalog = builtin_factories()
    desired = [factory_resource(catalog[name]) for name in ("OpenAI", "Anthropic")]
    plan = build_plan(
        {r.address: r for r in (*desired, BETA)},
        {},
        store_url="s",
        lineage="l",
        serial=1,
        fingerprints={},
    )
    assert [c.after.catalog for c in plan.changes if c.after] == [True, False, True]
    save_plan(plan, str(tmp_path / "plan.json"), None)
    loaded = load_plan(str(tmp_path / "plan.json"))
    assert [c.after.catalog for c in loaded.changes if c.after] == [True, False, True]
    for fmt in RENDERERS:
        for verbose in (False, True):
            assert render(loaded, fmt, verbose=verbose) == render(plan, fmt, verbose=verbose)
