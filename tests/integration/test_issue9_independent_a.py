"""Issue 9, items 1-3 (data loss from ordinary mistakes), tested from the issue's words.

1. An empty desired state never wipes the store; finding no llmform document, or one that is
   almost llmform's, is an error in every command; deleting everything takes `destroy`.
2. Deletion protection lives in the store and survives its own removal from the YAML.
3. A typo in --store never creates a store: only apply and init do.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from independent_kit import (
    BASE_STATE,
    Cli,
    applied,
    make_cli,
    section,
    snapshot,
    sql,
    write,
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return make_cli(tmp_path, monkeypatch, capsys)


# -- 1. an empty desired state -----------------------------------------------------------------

NO_DOCUMENT = r"no llmform (document|file)"

LOADING_COMMANDS = {
    "validate": ("validate",),
    "plan": ("plan", "--no-validate-keys"),
    "apply": ("apply", "--auto-approve", "--no-validate-keys"),
}


def _with_store(command: tuple[str, ...], store: str) -> list[str]:
    return [*command, "--store", store] if command[0] != "validate" else list(command)


@pytest.mark.parametrize("command", sorted(LOADING_COMMANDS))
def test_an_empty_folder_is_an_error_and_writes_nothing(cli: Cli, command: str) -> None:
    store, _ = applied(cli)
    (cli.cwd / "empty").mkdir()
    before = snapshot(cli.cwd / "stores")
    result = cli(*_with_store(LOADING_COMMANDS[command], store), "empty")
    assert result.code == 1, result.both
    assert "Valid: 0" not in result.both
    assert "to destroy" not in result.out
    assert re.search(NO_DOCUMENT, result.err, re.I), result.err
    assert snapshot(cli.cwd / "stores") == before


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_plain_command_in_the_wrong_directory_wipes_nothing(cli: Cli, command: str) -> None:
    """`llmform plan` with no path in a folder of other files (another project's CI YAML)."""
    store, _ = applied(cli)
    elsewhere = cli.cwd / "other-project"
    write(elsewhere / "docker-compose.yml", "services:\n  web:\n    image: nginx\n")
    write(elsewhere / "README.md", "# not llmform\n")
    os.chdir(elsewhere)
    before = snapshot(cli.cwd / "stores")
    result = cli(*_with_store(LOADING_COMMANDS[command], store))
    assert result.code == 1, result.both
    assert "destroy" not in result.out.replace("llmform destroy", "")
    assert snapshot(cli.cwd / "stores") == before


def test_a_folder_of_other_tools_yaml_is_no_llmform_state(cli: Cli) -> None:
    store, _ = applied(cli)
    write(
        cli.cwd / "k8s" / "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
    )
    before = snapshot(cli.cwd / "stores")
    for command in LOADING_COMMANDS.values():
        result = cli(*_with_store(command, store), "k8s")
        assert result.code == 1, (command, result.both)
    assert snapshot(cli.cwd / "stores") == before


ALMOST = {
    "lowercase-key": "apiversion: llmform/v1\nworkspaces:\n  - name: stray\n",
    "uppercase-version": "apiVersion: llmform/V1\nworkspaces:\n  - name: stray\n",
    "version-key": "version: llmform/v1\nworkspaces:\n  - name: stray\n",
    "no-apiversion": "workspaces:\n  - name: stray\n",
    "list-item": "- apiVersion: llmform/v1\n  workspaces:\n    - name: stray\n",
}


@pytest.mark.parametrize("command", sorted(LOADING_COMMANDS))
@pytest.mark.parametrize("almost", sorted(ALMOST))
def test_an_almost_llmform_file_beside_a_valid_one_is_an_error(
    cli: Cli, command: str, almost: str
) -> None:
    """Not silently skipped: the valid file alone would plan fine, the almost one is named."""
    store, _ = applied(cli)
    state = cli.cwd / "state"
    write(state / "main.yaml", BASE_STATE)
    write(state / "extra" / "typo.yaml", ALMOST[almost])
    before = snapshot(cli.cwd / "stores")
    result = cli(*_with_store(LOADING_COMMANDS[command], store), "state")
    assert result.code == 1, result.both
    assert "typo.yaml" in result.err, result.err
    assert snapshot(cli.cwd / "stores") == before


@pytest.mark.parametrize("almost", sorted(ALMOST))
def test_an_almost_llmform_file_named_alone_is_an_error(cli: Cli, almost: str) -> None:
    path = write(cli.cwd / "typo.yaml", ALMOST[almost])
    result = cli("validate", str(path))
    assert result.code == 1, result.both
    assert "typo.yaml" in result.err


def test_validate_json_of_an_empty_folder_is_an_error_document(cli: Cli) -> None:
    (cli.cwd / "empty").mkdir()
    result = cli("validate", "--format", "json", "empty")
    assert result.code == 1, result.both
    json.loads(result.out)  # still a document


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_plan_of_an_empty_folder_says_why_in_its_format(cli: Cli, fmt: str) -> None:
    store, _ = applied(cli)
    (cli.cwd / "empty").mkdir()
    result = cli("plan", "--no-validate-keys", "--format", fmt, "--store", store, "empty")
    assert result.code == 1
    if fmt == "json":
        document = json.loads(result.out)
        assert document["changes"] == []
        assert document["errors"], document
    else:
        assert "Plan failed" in result.out
        assert "to destroy" not in result.out


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_file_with_only_the_api_version_deletes_nothing(cli: Cli, command: str) -> None:
    """A real llmform document that declares nothing: still no wipe, and `destroy` is named."""
    store, _ = applied(cli)
    write(cli.cwd / "bare" / "llmform.yaml", "apiVersion: llmform/v1\n")
    before = snapshot(cli.cwd / "stores")
    result = cli(*_with_store(LOADING_COMMANDS[command], store), "bare")
    assert result.code == 1, result.both
    assert "destroy" in result.err
    assert snapshot(cli.cwd / "stores") == before


def test_one_wrong_folder_among_several_is_an_error(cli: Cli) -> None:
    """`llmform plan prod/ shared/` with a wrong `shared/`."""
    store, _ = applied(cli)
    write(cli.cwd / "prod" / "llmform.yaml", BASE_STATE)
    (cli.cwd / "shared").mkdir()
    result = cli("plan", "--no-validate-keys", "--store", store, "prod", "shared")
    assert result.code == 1, result.both
    assert "shared" in result.err


def test_destroy_deletes_everything_after_approval(cli: Cli) -> None:
    store, db = applied(cli)
    result = cli("destroy", "--auto-approve", "--store", store)
    assert result.code == 0, result.both
    assert sql(db, "SELECT name FROM workspaces WHERE managed = 1") == []
    assert sql(db, "SELECT name FROM configs WHERE managed = 1") == []
    assert sql(db, "SELECT name FROM factories WHERE managed = 1") == []


def test_destroy_without_a_terminal_or_auto_approve_deletes_nothing(cli: Cli) -> None:
    store, _ = applied(cli)
    before = snapshot(cli.cwd / "stores")
    result = cli("destroy", "--store", store)
    assert result.code != 0
    assert snapshot(cli.cwd / "stores") == before


def test_a_scope_the_files_do_not_declare_deletes_nothing(cli: Cli) -> None:
    """-w dev against files that only declare prod: not a deletion of dev."""
    store, _ = applied(cli)
    only_prod = BASE_STATE.split("configs:")[0].replace(
        "  - name: dev\n    description: development\n", ""
    )
    write(cli.cwd / "p" / "llmform.yaml", only_prod + "configs: []\n")
    before = snapshot(cli.cwd / "stores")
    result = cli(
        "apply", "--auto-approve", "--no-validate-keys", "-w", "dev", "--store", store, "p"
    )
    assert result.code == 1, result.both
    assert "destroy" in result.err
    assert snapshot(cli.cwd / "stores") == before


# -- 2. deletion protection --------------------------------------------------------------------

PROTECTED = BASE_STATE.replace(
    "  - name: prod\n    description: production\n",
    "  - name: prod\n    description: production\n    protect: true\n",
).replace(
    "  - name: main\n    workspace: prod\n",
    "  - name: main\n    workspace: prod\n    protect: true\n",
)

WITHOUT_MAIN = PROTECTED.replace(
    "  - name: main\n    workspace: prod\n    protect: true\n    factory: Corp\n"
    "    api_key: {env: CORP_KEY}\n    models: [m1]\n",
    "",
)
assert WITHOUT_MAIN != PROTECTED


def _plan(cli: Cli, store: str, state: str, *extra: str) -> tuple[Path, list[str]]:
    write(cli.cwd / "edit" / "llmform.yaml", state)
    return cli.cwd / "edit", ["--no-validate-keys", "--store", store, *extra, "edit"]


def test_removing_a_protected_config_with_its_flag_is_refused(cli: Cli) -> None:
    store, _ = applied(cli, PROTECTED)
    before = snapshot(cli.cwd / "stores")
    _, args = _plan(cli, store, WITHOUT_MAIN)
    plan = cli("plan", *args)
    assert plan.code == 1, plan.both
    assert "config.prod/main" in section(plan.out, "Refused:"), plan.out
    apply = cli("apply", "--auto-approve", *args)
    assert apply.code == 1, apply.both
    assert "config.prod/main" in apply.both
    assert snapshot(cli.cwd / "stores") == before


def test_removing_a_protected_workspace_and_its_configs_is_refused(cli: Cli) -> None:
    store, _ = applied(cli, PROTECTED)
    state = WITHOUT_MAIN.replace(
        "  - name: prod\n    description: production\n    protect: true\n", ""
    )
    before = snapshot(cli.cwd / "stores")
    _, args = _plan(cli, store, state)
    plan = cli("plan", *args)
    assert plan.code == 1, plan.both
    assert "workspace.prod" in section(plan.out, "Refused"), plan.out
    assert cli("apply", "--auto-approve", *args).code == 1
    assert snapshot(cli.cwd / "stores") == before


def test_deleting_the_workspace_of_a_protected_config_is_refused(cli: Cli) -> None:
    """The workspace itself is not protected; its config is."""
    state = BASE_STATE.replace(
        "  - name: side\n    workspace: dev\n",
        "  - name: side\n    workspace: dev\n    protect: true\n",
    )
    store, _ = applied(cli, state)
    gone = BASE_STATE.replace("  - name: dev\n    description: development\n", "").split(
        "  - name: side"
    )[0]
    before = snapshot(cli.cwd / "stores")
    _, args = _plan(cli, store, gone)
    assert cli("plan", *args).code == 1
    assert cli("apply", "--auto-approve", *args).code == 1
    assert snapshot(cli.cwd / "stores") == before


def test_replacing_a_protected_config_is_refused(cli: Cli) -> None:
    """A replace (-/+) deletes too: here the config's factory changes."""
    store, _ = applied(cli, PROTECTED)
    other = PROTECTED.replace(
        "workspaces:",
        "  - name: Corp2\n    type: openai-compatible\n    api_base: http://127.0.0.1:9/v2\n"
        "    models:\n      - {name: m1, type: chat, max_tokens: 1000}\nworkspaces:",
    ).replace("    protect: true\n    factory: Corp\n", "    protect: true\n    factory: Corp2\n")
    before = snapshot(cli.cwd / "stores")
    _, args = _plan(cli, store, other)
    plan = cli("plan", *args)
    assert plan.code == 1, plan.both
    assert "config.prod/main" in section(plan.out, "Refused"), plan.out
    assert cli("apply", "--auto-approve", *args).code == 1
    assert snapshot(cli.cwd / "stores") == before


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_the_refusal_shows_in_every_format(cli: Cli, fmt: str) -> None:
    store, _ = applied(cli, PROTECTED)
    _, args = _plan(cli, store, WITHOUT_MAIN, "--format", fmt)
    plan = cli("plan", *args)
    assert plan.code == 1
    if fmt == "json":
        errors = json.loads(plan.out)["errors"]
        assert any("config.prod/main" in json.dumps(e) for e in errors), errors
    else:
        assert "Refused" in plan.out and "config.prod/main" in plan.out


def test_a_refused_plan_is_not_saved(cli: Cli) -> None:
    store, _ = applied(cli, PROTECTED)
    _, args = _plan(cli, store, WITHOUT_MAIN, "-o", str(cli.cwd / "refused.plan"))
    assert cli("plan", *args).code == 1
    assert not (cli.cwd / "refused.plan").exists()


@pytest.mark.parametrize("scope", [[], ["-w", "prod"]])
def test_destroy_refuses_protected_resources(cli: Cli, scope: list[str]) -> None:
    store, _ = applied(cli, PROTECTED)
    before = snapshot(cli.cwd / "stores")
    result = cli("destroy", "--auto-approve", *scope, "--store", store)
    assert result.code == 1, result.both
    assert "prod" in result.both
    assert snapshot(cli.cwd / "stores") == before


def test_a_scoped_plan_obeys_protection(cli: Cli) -> None:
    store, _ = applied(cli, PROTECTED)
    before = snapshot(cli.cwd / "stores")
    _, args = _plan(cli, store, WITHOUT_MAIN, "-w", "prod")
    assert cli("plan", *args).code == 1
    assert cli("apply", "--auto-approve", *args).code == 1
    assert snapshot(cli.cwd / "stores") == before


def test_protection_turned_off_by_an_apply_then_the_deletion_goes_through(cli: Cli) -> None:
    store, db = applied(cli, PROTECTED)
    unprotected = PROTECTED.replace(
        "  - name: main\n    workspace: prod\n    protect: true\n",
        "  - name: main\n    workspace: prod\n    protect: false\n",
    )
    _, args = _plan(cli, store, unprotected)
    plan = cli("plan", *args)
    assert plan.code == 0, plan.both
    assert "protect" in plan.out and "true -> false" in plan.out, plan.out
    assert cli("apply", "--auto-approve", *args).code == 0
    _, args = _plan(cli, store, WITHOUT_MAIN)
    result = cli("apply", "--auto-approve", *args)
    assert result.code == 0, result.both
    assert sql(db, "SELECT name FROM configs WHERE workspace = 'prod'") == []


def test_an_unprotected_config_in_a_protected_workspace_can_be_deleted(cli: Cli) -> None:
    state = BASE_STATE.replace(
        "  - name: prod\n    description: production\n",
        "  - name: prod\n    description: production\n    protect: true\n",
    )
    store, db = applied(cli, state)
    without = state.split("  - name: main")[0] + BASE_STATE.split("    models: [m1]\n")[1]
    _, args = _plan(cli, store, without)
    result = cli("apply", "--auto-approve", *args)
    assert result.code == 0, result.both
    assert sql(db, "SELECT name FROM configs WHERE workspace = 'prod'") == []


def test_protection_set_later_protects_once_applied(cli: Cli) -> None:
    store, _ = applied(cli)
    _, args = _plan(cli, store, PROTECTED)
    assert cli("apply", "--auto-approve", *args).code == 0
    before = snapshot(cli.cwd / "stores")
    _, args = _plan(cli, store, WITHOUT_MAIN.replace("    protect: true\n", ""))
    assert cli("apply", "--auto-approve", *args).code == 1
    assert snapshot(cli.cwd / "stores") == before


# -- 3. --store never creates a store by accident ----------------------------------------------

MISSING = "typo/dir/registry.db"


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_plan_against_a_missing_store_says_so_and_creates_nothing(cli: Cli, fmt: str) -> None:
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE)
    before = snapshot(cli.cwd)
    result = cli(
        "plan", "--no-validate-keys", "--format", fmt, "--store", f"sqlite:///{MISSING}", "state"
    )
    assert result.code == 0, result.both
    assert "does not exist yet" in result.both, result.both
    if fmt == "json":
        document = json.loads(result.out)
        assert {a for c in document["changes"] for a in c["actions"]} == {"create"}
    else:
        assert "to add" in result.out or "to create" in result.out
    assert snapshot(cli.cwd) == before
    assert not (cli.cwd / "typo").exists()


def test_plan_against_a_missing_store_with_detailed_exitcode_has_changes(cli: Cli) -> None:
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE)
    result = cli(
        "plan",
        "--no-validate-keys",
        "--detailed-exitcode",
        "--store",
        f"sqlite:///{MISSING}",
        "state",
    )
    assert result.code == 2, result.both
    assert not (cli.cwd / "typo").exists()


READ_ONLY_COMMANDS = {
    "export": ("export",),
    "audit": ("audit",),
    "audit-verify": ("audit", "--verify"),
    "audit-json": ("audit", "--json"),
    "force-unlock": ("force-unlock", "0123456789abcdef"),
}


@pytest.mark.parametrize("where", ["after", "before", "env"])
@pytest.mark.parametrize("command", sorted(READ_ONLY_COMMANDS))
def test_read_only_commands_fail_on_a_missing_store(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, command: str, where: str
) -> None:
    store = f"sqlite:///{MISSING}"
    args = list(READ_ONLY_COMMANDS[command])
    if where == "after":
        args += ["--store", store]
    elif where == "before":
        args = ["--store", store, *args]
    else:
        monkeypatch.setenv("LLMFORM_STORE", store)
    before = snapshot(cli.cwd)
    result = cli(*args)
    assert result.code == 1, result.both
    assert "no store at" in result.err, result.err
    assert "init" in result.err
    assert snapshot(cli.cwd) == before


def test_the_default_store_is_not_created_by_a_read(cli: Cli) -> None:
    for args in READ_ONLY_COMMANDS.values():
        result = cli(*args)
        assert result.code == 1, result.both
        assert "no store at" in result.err
    assert not (cli.cwd / ".llmform").exists()


def test_a_relative_url_that_looks_absolute_is_explained(cli: Cli) -> None:
    result = cli("export", "--store", "sqlite:///tmp/x.db")
    assert result.code == 1
    assert "sqlite:////tmp/x.db" in result.err or "four slashes" in result.err, result.err


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("./my.db", "sqlite:///./my.db"),
        ("my.db", "sqlite:///my.db"),
        ("sqlite://my.db", "sqlite:///my.db"),
    ],
)
@pytest.mark.parametrize("command", ["plan", "apply", "export", "audit", "init"])
def test_a_path_given_as_a_url_is_refused_with_the_url_meant(
    cli: Cli, command: str, given: str, meant: str
) -> None:
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE)
    args = {
        "plan": ["plan", "--no-validate-keys", "state"],
        "apply": ["apply", "--auto-approve", "--no-validate-keys", "state"],
    }.get(command, [command])
    before = snapshot(cli.cwd)
    result = cli(*args, "--store", given)
    assert result.code != 0
    assert meant in result.err, result.err
    assert snapshot(cli.cwd) == before


def test_apply_creates_a_missing_store_owner_only(cli: Cli) -> None:
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE)
    result = cli(
        "apply", "--auto-approve", "--no-validate-keys", "--store", f"sqlite:///{MISSING}", "state"
    )
    assert result.code == 0, result.both
    assert (cli.cwd / MISSING).stat().st_mode & 0o777 == 0o600
    assert cli("export", "--store", f"sqlite:///{MISSING}").code == 0


def test_init_creates_an_empty_store_that_reads_work_on(cli: Cli) -> None:
    assert cli("init", "--store", f"sqlite:///{MISSING}").code == 0
    assert (cli.cwd / MISSING).is_file()
    assert cli("export", "--store", f"sqlite:///{MISSING}").code == 0
    assert cli("audit", "--verify", "--store", f"sqlite:///{MISSING}").code == 0


def test_a_plan_cannot_be_saved_for_a_missing_store(cli: Cli) -> None:
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE)
    before = snapshot(cli.cwd)
    result = cli(
        "plan", "--no-validate-keys", "-o", "p.plan", "--store", f"sqlite:///{MISSING}", "state"
    )
    assert result.code == 1, result.both
    assert "init" in result.err
    assert snapshot(cli.cwd) == before


def test_an_empty_file_is_no_store_and_stays_empty(cli: Cli) -> None:
    (cli.cwd / "touched.db").touch()
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE)
    assert cli("export", "--store", "sqlite:///touched.db").code == 1
    assert cli("audit", "--verify", "--store", "sqlite:///touched.db").code == 1
    assert cli("plan", "--no-validate-keys", "--store", "sqlite:///touched.db", "state").code in (
        0,
        1,
    )
    assert (cli.cwd / "touched.db").stat().st_size == 0


def test_show_of_a_plan_for_a_missing_store_creates_nothing(cli: Cli) -> None:
    store, _ = applied(cli)
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE.replace("production", "prod!"))
    saved = cli("plan", "--no-validate-keys", "-o", "p.plan", "--store", store, "state")
    assert saved.code == 0, saved.both
    before = snapshot(cli.cwd)
    result = cli("show", "--store", f"sqlite:///{MISSING}", "p.plan")
    assert result.code == 0, result.both
    assert "workspace.prod" in result.out
    assert "unverified" in result.err.lower() or "not verified" in result.err.lower()
    assert snapshot(cli.cwd) == before


@pytest.mark.parametrize("command", ["plan", "export", "audit-verify", "audit", "show"])
def test_a_read_only_registry_can_be_read(cli: Cli, command: str) -> None:
    """A 0400 registry in a read-only folder: plan, export, verify (and show) still work and
    nothing is written, not even a journal."""
    store, db = applied(cli)
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE.replace("production", "prod!"))
    assert cli("plan", "--no-validate-keys", "-o", "p.plan", "--store", store, "state").code == 0
    db.chmod(0o400)
    db.parent.chmod(0o500)
    try:
        before = snapshot(db.parent)
        args = {
            "plan": ["plan", "--no-validate-keys", "state"],
            "export": ["export"],
            "audit-verify": ["audit", "--verify"],
            "audit": ["audit"],
            "show": ["show", "p.plan"],
        }[command]
        result = cli(*args, "--store", store)
        assert result.code == 0, result.both
        assert snapshot(db.parent) == before
    finally:
        db.parent.chmod(0o700)
