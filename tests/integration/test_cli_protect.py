"""Deletion protection through the CLI on a real SQLite file: the whole lifecycle (protected ->
delete refused, store bytes unchanged -> protect: false applied -> delete works), removal
together with the flag, replace, a workspace holding protected configs, scoped plans, and the
guard against a configuration that declares nothing. ``llmform destroy`` is in
test_cli_destroy.py; failure documents in markdown and JSON in test_cli_error_documents.py.

Keys are not checked here (--no-validate-keys): protection is decided before any key matters,
and test_cli_key_checks.py covers the checks."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from support.cli import run

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    protect: true
  - name: staging
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: LLMFORM_TEST_KEY}
    models: [gpt-4o]
    protect: true
  - name: spare
    workspace: prod
    factory: OpenAI
    api_key: {env: LLMFORM_TEST_KEY}
    models: [gpt-4o]
  - name: dev
    workspace: staging
    factory: OpenAI
    api_key: {env: LLMFORM_TEST_KEY}
    models: [gpt-4o]
    protect: true
"""

MAIN = """\
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: LLMFORM_TEST_KEY}
    models: [gpt-4o]
    protect: true
"""

DELETE_REFUSED = (
    "{address} is protected, so it will not be destroyed: to delete it, first apply it with "
    "'protect: false', then remove it"
)
NO_KEYS = "--no-validate-keys"


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_TEST_KEY", "sk-test-primary")
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    (tmp_path / "llmform.yaml").write_text(STATE)
    return tmp_path


def write(repo: Path, text: str) -> None:
    (repo / "llmform.yaml").write_text(text)


def store_files(repo: Path) -> dict[str, bytes]:
    """Every file of the store (the database and any journal beside it), byte for byte."""
    return {p.name: p.read_bytes() for p in sorted(repo.glob("store.db*"))}


def applied(repo: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(capsys, "apply", "--auto-approve", NO_KEYS, "llmform.yaml")
    assert code == 0, out + err
    return out


def refused(repo: Path, capsys: pytest.CaptureFixture[str], *addresses: str) -> str:
    """plan exits 1 and saves nothing; apply refuses; the store's bytes are unchanged."""
    before = store_files(repo)
    code, out, err = run(capsys, "plan", NO_KEYS, "-o", "p.plan", "llmform.yaml")
    assert code == 1, out + err
    assert not (repo / "p.plan").exists()
    assert (
        "protected resources would be destroyed, so the plan cannot be applied and was not "
        "saved" in err
    )
    for address in addresses:
        assert address in out.split("Refused:", 1)[1]
    code, out_apply, err = run(capsys, "apply", "--auto-approve", NO_KEYS, "llmform.yaml")
    assert code == 1
    assert "protected resources would be destroyed, so nothing was applied" in err
    assert "Apply complete" not in out_apply
    assert store_files(repo) == before
    return out


def protect_column(repo: Path, table: str, name: str) -> int:
    with sqlite3.connect(repo / "store.db") as conn:
        row = conn.execute(f"SELECT protect FROM {table} WHERE name = ?", (name,)).fetchone()
    return int(row[0])


def test_the_protect_lifecycle(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = applied(repo, capsys)
    assert "+ protect               = true" in out
    assert protect_column(repo, "configs", "main") == 1
    assert protect_column(repo, "configs", "spare") == 0
    # the store reads back what was written: no change
    code, out, _ = run(capsys, "plan", NO_KEYS, "--detailed-exitcode", "llmform.yaml")
    assert (code, out.splitlines()[-1]) == (0, "No changes. The store matches the configuration.")

    # removed from the YAML together with its flag: refused, because the store says protected
    write(repo, STATE.replace(MAIN, ""))
    out = refused(repo, capsys, "config.prod/main")
    assert DELETE_REFUSED.format(address="config.prod/main") in out
    assert "- config.prod/main" in out  # the plan still shows what was asked

    # turning protection off is an ordinary update, shown and applied
    write(
        repo,
        STATE.replace(
            "    models: [gpt-4o]\n    protect: true\n  - name: spare",
            ("    models: [gpt-4o]\n    protect: false\n  - name: spare"),
        ),
    )
    code, out, _ = run(capsys, "plan", NO_KEYS, "--detailed-exitcode", "llmform.yaml")
    assert code == 2
    assert "  ~ config.prod/main {\n      ~ protect = true -> false\n" in out
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in out
    applied(repo, capsys)
    assert protect_column(repo, "configs", "main") == 0

    # now the delete goes through
    write(repo, STATE.replace(MAIN, ""))
    out = applied(repo, capsys)
    assert "Resources: 0 added, 0 changed, 1 destroyed." in out


def test_unprotected_deletes_next_to_protected_ones(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    applied(repo, capsys)
    spare = STATE.split("  - name: spare\n", 1)[1].split("  - name: dev\n", 1)[0]
    write(repo, STATE.replace("  - name: spare\n" + spare, ""))
    assert "1 destroyed" in applied(repo, capsys)


def test_a_replace_is_refused_even_when_the_flag_goes_with_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    applied(repo, capsys)
    write(
        repo,
        STATE.replace(
            MAIN,
            MAIN.replace("factory: OpenAI", "factory: DeepSeek")
            .replace("[gpt-4o]", "[deepseek-chat]")
            .replace("    protect: true\n", ""),
        ),
    )
    out = refused(repo, capsys, "config.prod/main")
    assert "-/+ config.prod/main {" in out
    assert (
        "config.prod/main is protected, so it will not be replaced (factory cannot change in "
        "place): to replace it, first apply it with 'protect: false', then change it"
    ) in out


def test_deleting_the_workspace_of_a_protected_config_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    applied(repo, capsys)
    # staging itself is not protected; its config dev is
    staging_gone = STATE.replace("  - name: staging\n", "").split("  - name: dev\n")[0]
    write(repo, staging_gone)
    out = refused(repo, capsys, "config.staging/dev", "workspace.staging")
    assert (
        "workspace.staging holds protected config(s) config.staging/dev, so it will not be "
        "destroyed: to delete it, first apply those configs with 'protect: false', then "
        "remove them"
    ) in out


def test_a_protected_workspace_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        repo,
        "apiVersion: llmform/v1\nworkspaces:\n  - name: prod\n    protect: true\n  - name: keep\n",
    )
    applied(repo, capsys)
    assert protect_column(repo, "workspaces", "prod") == 1
    write(repo, "apiVersion: llmform/v1\nworkspaces:\n  - name: keep\n")
    out = refused(repo, capsys, "workspace.prod")
    assert DELETE_REFUSED.format(address="workspace.prod") in out


def test_scoped_plans_obey_protection(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    applied(repo, capsys)
    write(repo, STATE.replace(MAIN, ""))
    before = store_files(repo)
    code, out, _ = run(capsys, "plan", NO_KEYS, "-w", "prod", "llmform.yaml")
    assert code == 1
    assert DELETE_REFUSED.format(address="config.prod/main") in out
    code, _, err = run(capsys, "apply", "--auto-approve", NO_KEYS, "-w", "prod", "llmform.yaml")
    assert code == 1 and "nothing was applied" in err
    assert store_files(repo) == before
    # another workspace's plan does not touch prod, so it is not refused
    code, out, _ = run(
        capsys, "plan", NO_KEYS, "--detailed-exitcode", "-w", "staging", "llmform.yaml"
    )
    assert code == 0 and "Refused" not in out


def test_apply_refuses_before_it_prompts(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    applied(repo, capsys)
    write(repo, STATE.replace(MAIN, ""))
    before = store_files(repo)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    code, out, err = run(capsys, "apply", NO_KEYS, "llmform.yaml")
    assert code == 1
    assert "Apply these changes?" not in out + err
    assert "nothing was applied" in err
    assert store_files(repo) == before


# -- the empty-state guard -----------------------------------------------------------------------

DESTROY_HINT = "run 'llmform destroy'"


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: llmform/v1\n",
        # factories alone do not count: every workspace and config would go
        "apiVersion: llmform/v1\nfactories:\n  - {name: Mine, type: openai, "
        "api_base: 'https://x.example/v1'}\n",
    ],
)
def test_a_configuration_that_declares_nothing_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    write(repo, STATE.replace("    protect: true\n", ""))
    applied(repo, capsys)
    write(repo, text)
    before = store_files(repo)
    for command in (["plan"], ["plan", "--format", "json"], ["apply", "--auto-approve"]):
        code, _, err = run(capsys, *command, NO_KEYS, "llmform.yaml")
        assert code == 1
        assert (
            "the configuration declares no workspace and no config, but the store holds "
            "2 workspaces, 3 configs" in err
        )
        assert DESTROY_HINT in err
    assert store_files(repo) == before


def test_a_scope_with_nothing_declared_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, STATE.replace("    protect: true\n", ""))
    applied(repo, capsys)
    staging_only = STATE.replace("    protect: true\n", "").replace("  - name: prod\n", "")
    staging_only = (
        staging_only.split("  - name: main\n")[0]
        + "  - name: dev\n"
        + (staging_only.split("  - name: dev\n")[1])
    )
    write(repo, staging_only)
    before = store_files(repo)
    for command in (["plan"], ["apply", "--auto-approve"]):
        code, _, err = run(capsys, *command, NO_KEYS, "-w", "prod", "llmform.yaml")
        assert code == 1
        assert (
            "-w prod: the configuration declares nothing for workspace 'prod', but the store "
            "holds 1 workspace and 2 configs there, which this plan would delete; to delete "
            "them, run 'llmform destroy -w prod'"
        ) in err
    assert store_files(repo) == before
    # the unscoped plan of the same files deletes prod as an ordinary change
    code, out, _ = run(capsys, "plan", NO_KEYS, "llmform.yaml")
    assert code == 0 and "Plan: 0 to add, 0 to change, 3 to destroy." in out


def test_an_empty_configuration_on_an_empty_store_is_fine(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "apiVersion: llmform/v1\n")
    code, out, _ = run(capsys, "plan", NO_KEYS, "llmform.yaml")
    assert (code, out.splitlines()[-1]) == (0, "No changes. The store matches the configuration.")


# -- protection turned on after a plan was made -------------------------------------------------

UNPROTECTED = STATE.replace("    protect: true\n", "")
SPARE = "  - name: spare\n" + STATE.split("  - name: spare\n", 1)[1].split("  - name: dev\n")[0]


def spare_exists(repo: Path) -> bool:
    with sqlite3.connect(repo / "store.db") as conn:
        return conn.execute("SELECT 1 FROM configs WHERE name = 'spare'").fetchone() is not None


def protect_behind_the_plans_back(repo: Path, table: str, name: str, *, serial: bool) -> None:
    """What another run (or a hand edit, with ``serial=False``) does to the store meanwhile."""
    with sqlite3.connect(repo / "store.db") as conn:
        conn.execute(f"UPDATE {table} SET protect = 1 WHERE name = ?", (name,))
        if serial:
            conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'serial'")


def test_a_saved_plan_made_before_protection_was_applied_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, UNPROTECTED)
    applied(repo, capsys)
    write(repo, UNPROTECTED.replace(SPARE, ""))
    assert run(capsys, "plan", NO_KEYS, "-o", "delete-spare.plan", "llmform.yaml")[0] == 0
    # then an apply protects spare
    write(repo, UNPROTECTED.replace(SPARE, SPARE + "    protect: true\n"))
    applied(repo, capsys)
    before = store_files(repo)
    code, _, err = run(capsys, "show", "delete-spare.plan")
    assert code == 0 and "apply will refuse this plan" in err
    code, out, err = run(capsys, "apply", NO_KEYS, "delete-spare.plan")
    assert code == 1
    assert "the store changed since the plan was made (serial 1 -> 2)" in err
    assert "Apply complete" not in out
    assert store_files(repo) == before and spare_exists(repo)


def test_a_saved_plan_is_refused_when_the_store_holds_it_protected(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flag set in the store without a new serial (by hand, by another tool): the plan's
    record of the config is no longer what the store holds."""
    write(repo, UNPROTECTED)
    applied(repo, capsys)
    write(repo, UNPROTECTED.replace(SPARE, ""))
    assert run(capsys, "plan", NO_KEYS, "-o", "delete-spare.plan", "llmform.yaml")[0] == 0
    protect_behind_the_plans_back(repo, "configs", "spare", serial=False)
    before = store_files(repo)
    code, _, err = run(capsys, "apply", NO_KEYS, "delete-spare.plan")
    assert code == 1
    assert "config.prod/spare changed in the store since the plan was made" in err
    assert store_files(repo) == before and spare_exists(repo)


@pytest.mark.parametrize("command", ["apply", "destroy"])
def test_protection_applied_while_an_auto_approved_run_waited_is_obeyed(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """--auto-approve carries out the plan made again under the lock, which meets the
    protection another run applied after the first plan was shown."""
    write(repo, UNPROTECTED)
    applied(repo, capsys)
    module, function = {
        "apply": ("llmform.engine.apply_run", "plan_prepared"),
        "destroy": ("llmform.engine.destroy", "plan_destroy"),
    }[command]
    real = getattr(__import__(module, fromlist=[function]), function)
    calls = []

    def planned_twice(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:  # under the lock
            protect_behind_the_plans_back(repo, "configs", "spare", serial=True)
        return real(*args, **kwargs)

    monkeypatch.setattr(f"{module}.{function}", planned_twice)
    if command == "apply":
        write(repo, UNPROTECTED.replace(SPARE, ""))
        args = ["apply", "--auto-approve", NO_KEYS, "llmform.yaml"]
    else:
        args = ["destroy", "--auto-approve", "-w", "prod"]
    code, out, err = run(capsys, *args)
    assert code == 1
    assert "carrying out this plan instead" in out
    assert DELETE_REFUSED.format(address="config.prod/spare") in out.split("instead")[1]
    what = "applied" if command == "apply" else "destroyed"
    assert f"protected resources would be destroyed, so nothing was {what}" in err
    assert spare_exists(repo)
