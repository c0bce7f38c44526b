"""Issue 9, items 4 and 5 (saved plans), tested from the issue's words.

4. A saved plan is authenticated and checked again at apply: every kind of edit the issue
   lists is refused, says why, and writes nothing.
5. A saved plan is the approval: `apply PLANFILE` needs no prompt, the command `plan -o`
   prints works in CI as printed, and `show` prints a saved plan in three formats.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from independent_kit import (
    BASE_STATE,
    Cli,
    Result,
    applied,
    make_cli,
    snapshot,
    sql,
    url,
    write,
)
from support.provider_servers import ProviderServer


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return make_cli(tmp_path, monkeypatch, capsys)


# The change a reviewer approves: a description updated, an endpoint moved, a workspace added,
# a config removed.
EDITED = (
    BASE_STATE.replace("description: production", "description: production, reviewed")
    .replace(
        "    api_key: {env: CORP_KEY}\n    models: [m1]\n",
        "    api_base: http://127.0.0.1:9/v1/alt\n    api_key: {env: CORP_KEY}\n    models: [m1]\n",
    )
    .replace("  - name: dev\n", "  - name: qa\n    description: quality\n  - name: dev\n")
    .split("  - name: side")[0]
)
assert "qa" in EDITED and "/v1/alt" in EDITED and "side" not in EDITED


def saved(cli: Cli, *extra: str, name: str = "reviewed.plan") -> tuple[str, Path, Path, Result]:
    """A store with BASE_STATE applied and a saved plan of EDITED against it."""
    store, db = applied(cli)
    write(cli.cwd / "edit" / "llmform.yaml", EDITED)
    plan = cli.cwd / name
    result = cli("plan", "--no-validate-keys", *extra, "-o", str(plan), "--store", store, "edit")
    assert result.code == 0, result.both
    assert plan.is_file()
    return store, db, plan, result


def edit(plan: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(plan.read_text())
    change(document)
    plan.write_text(json.dumps(document, indent=2))


def change_of(document: dict[str, Any], address: str) -> dict[str, Any]:
    for change in document["changes"]:
        if change["address"] == address:
            return change  # type: ignore[no-any-return]
    raise AssertionError(f"no change {address} in {[c['address'] for c in document['changes']]}")


def refused(cli: Cli, store: str, plan: Path, *extra: str) -> Result:
    before = snapshot(cli.cwd / "stores")
    result = cli("apply", *extra, "--store", store, str(plan))
    assert result.code == 1, result.both
    assert result.err.strip(), "a refusal says why"
    assert snapshot(cli.cwd / "stores") == before
    return result


# The README's words for a file whose MAC does not match.
MODIFIED = "the file was modified after 'llmform plan' wrote it, or was made for another store"


# -- 4. authenticated and checked again --------------------------------------------------------


def test_an_unmodified_saved_plan_applies(cli: Cli) -> None:
    store, db, plan, _ = saved(cli)
    result = cli("apply", "--no-validate-keys", "--store", store, str(plan))
    assert result.code == 0, result.both
    assert sql(db, "SELECT name FROM workspaces WHERE name = 'qa'") == [("qa",)]
    assert sql(db, "SELECT api_base FROM configs WHERE name = 'main'") == [
        ("http://127.0.0.1:9/v1/alt",)
    ]


def _set_api_base(document: dict[str, Any]) -> None:
    change_of(document, "config.prod/main")["after"]["attrs"]["api_base"] = (
        "https://evil.example/v1"
    )


def _update_to_delete(document: dict[str, Any]) -> None:
    change = change_of(document, "workspace.prod")
    change["action"] = "delete"
    change["after"] = None


def _forge_keys_checked(document: dict[str, Any]) -> None:
    document["keys_checked"] = True


def _new_plan_id(document: dict[str, Any]) -> None:
    document["plan_id"] = "0" * 32


def _forbidden_name(document: dict[str, Any]) -> None:
    change = change_of(document, "workspace.qa")
    change["after"]["address"] = "workspace.qa/../x"
    change["address"] = "workspace.qa/../x"


def _drop_a_change(document: dict[str, Any]) -> None:
    document["changes"] = [c for c in document["changes"] if c["address"] != "workspace.qa"]


def _reorder(document: dict[str, Any]) -> None:
    document["changes"].reverse()


def _drop_mac(document: dict[str, Any]) -> None:
    document.pop("mac")


def _other_mac(document: dict[str, Any]) -> None:
    document["mac"] = "0" * 64


def _serial(document: dict[str, Any]) -> None:
    document["store"]["serial"] += 1


TAMPERING = {
    "api_base": _set_api_base,
    "update-to-delete": _update_to_delete,
    "keys_checked": _forge_keys_checked,
    "plan_id": _new_plan_id,
    "forbidden-name": _forbidden_name,
    "change-removed": _drop_a_change,
    "changes-reordered": _reorder,
    "mac-removed": _drop_mac,
    "mac-replaced": _other_mac,
    "serial": _serial,
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_an_edited_plan_is_refused_and_writes_nothing(cli: Cli, how: str) -> None:
    store, _, plan, _ = saved(cli)
    edit(plan, TAMPERING[how])
    result = refused(cli, store, plan, "--no-validate-keys")
    # a change that no longer holds together is named as damaged before the MAC is checked
    assert MODIFIED in result.err or "changes[" in result.err, result.err


def test_a_forged_keys_checked_is_refused_without_no_validate_keys(cli: Cli) -> None:
    store, _, plan, _ = saved(cli)
    edit(plan, _forge_keys_checked)
    refused(cli, store, plan)


def test_a_deletion_of_an_unmanaged_row_added_to_the_plan_is_refused(cli: Cli) -> None:
    store, db = applied(cli)
    sql(db, "INSERT INTO workspaces (name, description, managed) VALUES ('legacy', 'app', 0)")
    write(cli.cwd / "edit" / "llmform.yaml", EDITED)
    plan = cli.cwd / "p.plan"
    assert cli("plan", "--no-validate-keys", "-o", str(plan), "--store", store, "edit").code == 0

    def delete_legacy(document: dict[str, Any]) -> None:
        model = change_of(document, "workspace.qa")
        document["changes"].append(
            {
                **model,
                "address": "workspace.legacy",
                "workspace": "legacy",
                "action": "delete",
                "before": {**model["after"], "address": "workspace.legacy", "workspace": "legacy"},
                "after": None,
            }
        )

    edit(plan, delete_legacy)
    refused(cli, store, plan, "--no-validate-keys")
    assert sql(db, "SELECT name FROM workspaces WHERE name = 'legacy'") == [("legacy",)]


def test_a_stale_plan_is_refused_with_or_without_its_serial_edited(cli: Cli) -> None:
    store, _, plan, _ = saved(cli)
    write(cli.cwd / "other" / "llmform.yaml", BASE_STATE.replace("development", "dev team"))
    assert cli("apply", "--auto-approve", "--no-validate-keys", "--store", store, "other").code == 0
    refused(cli, store, plan, "--no-validate-keys")
    edit(plan, _serial)
    refused(cli, store, plan, "--no-validate-keys")


def test_an_applied_plan_is_not_applied_again(cli: Cli) -> None:
    store, _, plan, _ = saved(cli)
    copy = cli.cwd / "copy.plan"
    copy.write_bytes(plan.read_bytes())
    assert cli("apply", "--no-validate-keys", "--store", store, str(plan)).code == 0
    refused(cli, store, copy, "--no-validate-keys")
    edit(copy, _new_plan_id)
    refused(cli, store, copy, "--no-validate-keys")


def test_a_plan_for_another_store_is_refused(cli: Cli) -> None:
    _, _, plan, _ = saved(cli)
    other, _ = applied(cli, name="other.db")
    refused(cli, other, plan, "--no-validate-keys")


def test_a_row_changed_since_the_plan_is_refused(cli: Cli) -> None:
    """A hand edit does not move the serial: the plan's `before` must still be what is held."""
    store, db, plan, _ = saved(cli)
    sql(db, "UPDATE workspaces SET description = 'edited by hand' WHERE name = 'prod'")
    refused(cli, store, plan, "--no-validate-keys")
    assert sql(db, "SELECT description FROM workspaces WHERE name = 'prod'") == [
        ("edited by hand",)
    ]


def test_a_secret_changed_since_the_plan_is_refused(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _, plan, _ = saved(cli)
    monkeypatch.setenv("CORP_KEY", "sk-corp-" + "Z9y8X7w6" * 4)
    refused(cli, store, plan, "--no-validate-keys")


def test_a_field_of_the_wrong_type_is_named(cli: Cli) -> None:
    store, _, plan, _ = saved(cli)
    edit(plan, lambda d: d["store"].update(serial=str(d["store"]["serial"])))
    result = refused(cli, store, plan, "--no-validate-keys")
    assert "store.serial" in result.err, result.err


@pytest.mark.parametrize(
    "field", ["changes", "keys_checked", "plan_id", "store", "fingerprints", "format"]
)
def test_every_field_is_type_checked_on_load(cli: Cli, field: str) -> None:
    store, _, plan, _ = saved(cli)
    wrong: dict[str, object] = {
        "changes": {"not": "a list"},
        "keys_checked": "yes",
        "plan_id": 7,
        "store": [],
        "fingerprints": ["x"],
        "format": 2,
    }
    edit(plan, lambda d: d.update({field: wrong[field]}))
    result = refused(cli, store, plan, "--no-validate-keys")
    assert field in result.err, result.err


def test_a_plan_of_another_format_version_is_refused_naming_both(cli: Cli) -> None:
    store, _, plan, _ = saved(cli)
    current = json.loads(plan.read_text())["format"]
    edit(plan, lambda d: d.update(format="llmform-plan/1"))
    result = refused(cli, store, plan, "--no-validate-keys")
    assert "llmform-plan/1" in result.err and current in result.err, result.err


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{",
        "not json at all",
        '{"format": "llmform-plan/3", "format": "llmform-plan/3"}',
        '{"store": {"serial": NaN}}',
        "[]",
    ],
    ids=["empty", "truncated", "text", "duplicate-key", "nan", "list"],
)
def test_a_damaged_plan_file_is_a_clear_error(cli: Cli, content: str) -> None:
    store, _ = applied(cli)
    plan = write(cli.cwd / "damaged.plan", content)
    result = refused(cli, store, plan, "--no-validate-keys")
    assert "damaged.plan" in result.err, result.err


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_show_refuses_an_edited_plan(cli: Cli, fmt: str) -> None:
    store, _, plan, _ = saved(cli)
    edit(plan, _set_api_base)
    result = cli("show", "--format", fmt, "--store", store, str(plan))
    assert result.code == 1, result.both
    assert "evil.example" not in result.out
    if fmt == "json":
        assert json.loads(result.out)["errors"]
    elif fmt == "markdown":
        assert result.out.strip()


# -- 5. the saved plan is the approval ---------------------------------------------------------


def test_a_saved_plan_applies_without_a_prompt_or_auto_approve(cli: Cli) -> None:
    """stdin is not a terminal here, as in CI: applying from YAML would have to refuse."""
    store, db, plan, _ = saved(cli)
    from_yaml = cli("apply", "--no-validate-keys", "--store", store, "edit")
    assert from_yaml.code != 0
    result = cli("apply", "--no-validate-keys", "--store", store, str(plan))
    assert result.code == 0, result.both
    assert sql(db, "SELECT name FROM workspaces WHERE name = 'qa'") == [("qa",)]


def _hint(result: Result) -> str:
    marker = "apply it with: "
    text = result.out + result.err
    assert marker in text, text
    return text.split(marker, 1)[1].splitlines()[0]


def _run_in_ci(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The printed command as a CI step runs it: a shell, no terminal, llmform on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("LLMFORM_", "VAULT_"))}
    environment.update(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env)
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "name", ["reviewed.plan", "-dash.plan", "with space.plan", "prod.yaml", "it's.plan"]
)
def test_the_printed_apply_command_works_as_printed(cli: Cli, name: str) -> None:
    _store, db, _, result = saved(cli, name=name)
    command = _hint(result)
    assert "--no-validate-keys" in command
    done = _run_in_ci(command, cli.cwd)
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert sql(db, "SELECT name FROM workspaces WHERE name = 'qa'") == [("qa",)]


def test_the_printed_command_names_the_store_unless_the_environment_does(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _db = applied(cli)
    write(cli.cwd / "edit" / "llmform.yaml", EDITED)
    monkeypatch.setenv("LLMFORM_STORE", store)
    result = cli("plan", "--no-validate-keys", "-o", "env.plan", "edit")
    assert result.code == 0, result.both
    command = _hint(result)
    assert "--store" not in command
    done = _run_in_ci(command, cli.cwd, LLMFORM_STORE=store)
    assert done.returncode == 0, (command, done.stdout, done.stderr)


def test_the_printed_command_quotes_a_store_path_with_spaces(cli: Cli) -> None:
    store, _db = applied(cli, name="my registry.db")
    write(cli.cwd / "edit" / "llmform.yaml", EDITED)
    result = cli("plan", "--no-validate-keys", "-o", "p.plan", "--store", store, "edit")
    assert result.code == 0, result.both
    done = _run_in_ci(_hint(result), cli.cwd)
    assert done.returncode == 0, (_hint(result), done.stdout, done.stderr)


def test_the_printed_command_works_after_a_key_check_on_a_trusted_endpoint(cli: Cli) -> None:
    """A plan whose keys were checked (the endpoint trusted by --trust-endpoint): the printed
    command applies it in CI, where the flag is not repeated."""
    with ProviderServer(
        "openai", keys={"sk-corp-" + "A1b2C3d4" * 4: "valid"}, models=["m1", "m2"]
    ) as server:
        state = BASE_STATE.replace("http://127.0.0.1:9/v1", server.api_base)
        store, db = applied(cli, state)
        write(cli.cwd / "edit" / "llmform.yaml", state.replace("production", "prod (checked)"))
        result = cli(
            "plan", "-o", "p.plan", "--trust-endpoint", server.api_base, "--store", store, "edit"
        )
        assert result.code == 0, result.both
        command = _hint(result)
        assert "--no-validate-keys" not in command
        done = _run_in_ci(command, cli.cwd)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert sql(db, "SELECT description FROM workspaces WHERE name = 'prod'") == [
        ("prod (checked)",)
    ]


def test_a_plan_saved_with_no_validate_keys_needs_it_at_apply(cli: Cli) -> None:
    store, _, plan, _ = saved(cli)
    refused(cli, store, plan)


def test_show_prints_the_plan_as_plan_printed_it(cli: Cli) -> None:
    store, _, plan, result = saved(cli)
    before = snapshot(cli.cwd)
    shown = cli("show", "--store", store, str(plan))
    assert shown.code == 0, shown.both
    assert shown.out == result.out
    assert snapshot(cli.cwd) == before


def test_show_markdown_matches_plan_markdown(cli: Cli) -> None:
    store, _ = applied(cli)
    write(cli.cwd / "edit" / "llmform.yaml", EDITED)
    plan = cli(
        "plan",
        "--no-validate-keys",
        "--format",
        "markdown",
        "-o",
        "p.plan",
        "--store",
        store,
        "edit",
    )
    assert plan.code == 0, plan.both
    shown = cli("show", "--format", "markdown", "--store", store, "p.plan")
    assert shown.code == 0, shown.both
    assert shown.out == plan.out
    for address in ("workspace.qa", "config.dev/side", "config.prod/main"):
        assert address in shown.out


def test_show_json_has_every_change(cli: Cli) -> None:
    store, _ = applied(cli)
    write(cli.cwd / "edit" / "llmform.yaml", EDITED)
    plan = cli(
        "plan", "--no-validate-keys", "--format", "json", "-o", "p.plan", "--store", store, "edit"
    )
    assert plan.code == 0, plan.both
    shown = cli("show", "--format", "json", "--store", store, "p.plan")
    assert shown.code == 0, shown.both
    document = json.loads(shown.out)
    assert document["changes"] == json.loads(plan.out)["changes"]
    actions = {c["address"]: c["actions"] for c in document["changes"]}
    assert actions["workspace.qa"] == ["create"]
    assert actions["config.dev/side"] == ["delete"]
    assert actions["workspace.prod"] == ["update"]


def test_show_verbose_lists_a_catalog_factorys_models(cli: Cli) -> None:
    store, _ = applied(cli)
    state = EDITED + (
        "  - name: oa\n    workspace: qa\n    factory: OpenAI\n"
        "    api_key: {env: OPENAI_API_KEY}\n    models: [gpt-4o-mini]\n"
    )
    write(cli.cwd / "edit" / "llmform.yaml", state)
    assert cli("plan", "--no-validate-keys", "-o", "p.plan", "--store", store, "edit").code == 0
    short = cli("show", "--store", store, "p.plan")
    verbose = cli("show", "-v", "--store", store, "p.plan")
    assert short.code == verbose.code == 0
    assert "built-in catalog" in short.out
    assert "gpt-4o-mini" in verbose.out and "text-embedding-3-small" in verbose.out
    assert "text-embedding-3-small" not in short.out


def test_show_of_an_applied_plan_says_apply_would_refuse_it(cli: Cli) -> None:
    store, _, plan, _ = saved(cli)
    copy = cli.cwd / "copy.plan"
    copy.write_bytes(plan.read_bytes())
    assert cli("apply", "--no-validate-keys", "--store", store, str(plan)).code == 0
    shown = cli("show", "--store", store, str(copy))
    assert "workspace.qa" in shown.out
    assert "refuse" in shown.err.lower() or "applied" in shown.err.lower(), shown.err


def test_show_without_a_store_warns_that_it_is_unverified(cli: Cli) -> None:
    _, _, plan, _ = saved(cli)
    before = snapshot(cli.cwd)
    shown = cli("show", str(plan))  # the default store does not exist here
    assert shown.code == 0, shown.both
    assert "workspace.qa" in shown.out
    assert "verif" in shown.err.lower()
    assert snapshot(cli.cwd) == before
    assert not (cli.cwd / ".llmform").exists()


def test_apply_of_the_plan_uses_the_url_of_the_store(cli: Cli) -> None:
    """`apply PLANFILE --store URL` with the same store spelled absolute works."""
    store, db, plan, _ = saved(cli)
    assert store == url(db)
    assert cli("apply", "--store", store, "--no-validate-keys", str(plan)).code == 0
