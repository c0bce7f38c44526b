"""plan / apply / export / audit / force-unlock through the CLI, on each store (a real SQLite
file and a real PostgreSQL database: the ``store_url`` fixture), with key checks against local
servers speaking OpenAI's and Ollama's protocols."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cli import run
from support.provider_servers import ProviderServer
from support.store_db import serial, snapshot, store_db, store_exists

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    labels: {{team: platform}}
    defaults: {{chat: openai-main/gpt-4o}}
  - name: staging
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    api_base: {openai}
    api_key: {{env: LLMFORM_TEST_KEY}}
    backup_keys: [{{env: LLMFORM_TEST_BACKUP}}]
    models: [gpt-4o, {{name: my-ft, type: chat, max_tokens: 1000}}]
  - name: local
    workspace: staging
    factory: Ollama
    api_base: {ollama}
    models: [{{name: llama3.2, type: chat}}]
"""

KEYS = {"sk-test-primary": "valid", "sk-test-backup": "valid", "sk-test-rotated": "valid"}


@pytest.fixture()
def servers() -> Iterator[tuple[ProviderServer, ProviderServer]]:
    with (
        ProviderServer("openai", KEYS, models=["gpt-4o", "my-ft"]) as openai,
        ProviderServer("ollama", {None: "valid"}, models=["llama3.2:latest"]) as ollama,
    ):
        yield openai, ollama


@pytest.fixture()
def repo(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    servers: tuple[ProviderServer, ProviderServer],
    store_url: str,
) -> Path:
    openai, ollama = servers
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_TEST_KEY", "sk-test-primary")
    monkeypatch.setenv("LLMFORM_TEST_BACKUP", "sk-test-backup")
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0.01")
    monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", f"{openai.url} {ollama.url}")
    (tmp_path / "llmform.yaml").write_text(
        STATE.format(openai=openai.api_base, ollama=ollama.api_base)
    )
    return tmp_path


def edit(repo: Path, change: Callable[[str], str]) -> None:
    path = repo / "llmform.yaml"
    path.write_text(change(path.read_text()))


SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def test_plan_apply_then_no_changes(
    repo: Path, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "llmform.yaml")
    assert code == 2
    assert out.rstrip().endswith("Plan: 6 to add, 0 to change, 0 to destroy.")
    code, out, _ = run(capsys, "apply", "--auto-approve", "llmform.yaml")
    assert code == 0
    assert "Apply complete! Resources: 6 added, 0 changed, 0 destroyed." in out
    assert serial(store_url) == 1
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "llmform.yaml")
    assert (code, out.strip().splitlines()[-1]) == (
        0,
        "No changes. The store matches the configuration.",
    )


@SQLITE_ONLY
def test_store_file_is_owner_only(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "apply", "--auto-approve", "llmform.yaml")
    assert (repo / "store.db").stat().st_mode & 0o777 == 0o600


def test_apply_refuses_without_terminal(
    repo: Path, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    code, _, err = run(capsys, "apply", "llmform.yaml")
    assert code == 1
    assert "pass --auto-approve" in err
    assert not store_exists(store_url)


def test_saved_plan_applies_once(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "init")[0] == 0  # a saved plan needs the store's key
    assert run(capsys, "plan", "-o", "p.plan", "llmform.yaml")[0] == 0
    assert run(capsys, "apply", "--auto-approve", "p.plan")[0] == 0
    code, _, err = run(capsys, "apply", "--auto-approve", "p.plan")
    assert code == 1
    assert "was already applied" in err


def test_saved_plan_is_stale_after_store_change(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init")
    run(capsys, "plan", "-o", "p.plan", "llmform.yaml")
    run(capsys, "apply", "--auto-approve", "llmform.yaml")
    code, _, err = run(capsys, "apply", "--auto-approve", "p.plan")
    assert code == 1
    assert "the store changed since the plan was made (serial 0 -> 1)" in err


def test_saved_plan_is_stale_after_secret_rotation(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
) -> None:
    run(capsys, "init")
    run(capsys, "plan", "-o", "p.plan", "llmform.yaml")
    monkeypatch.setenv("LLMFORM_TEST_BACKUP", "sk-test-rotated")
    code, _, err = run(capsys, "apply", "--auto-approve", "p.plan")
    assert code == 1
    assert "secret value(s) changed since the plan was made: env:LLMFORM_TEST_BACKUP" in err
    assert serial(store_url) == 0


def test_rotation_shows_as_sensitive_change(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "apply", "--auto-approve", "llmform.yaml")
    monkeypatch.setenv("LLMFORM_TEST_KEY", "sk-test-rotated")
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "llmform.yaml")
    assert code == 2
    assert "~ secrets.api_key.value = (sensitive value changed)" in out
    assert "sk-test" not in out


def test_missing_secret_reports_every_user(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMFORM_TEST_KEY")
    monkeypatch.setenv("LLMFORM_TEST_BACKUP", "")
    code, _, err = run(capsys, "plan", "llmform.yaml")
    assert code == 1
    assert "env:LLMFORM_TEST_KEY: environment variable LLMFORM_TEST_KEY is not set" in err
    assert "env:LLMFORM_TEST_BACKUP: environment variable LLMFORM_TEST_BACKUP is empty" in err
    assert "(used by config.prod/openai-main backup_keys[0])" in err


def test_workspace_scope_leaves_the_rest(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "apply", "--auto-approve", "-w", "staging", "llmform.yaml")
    assert code == 0
    assert "config.prod/openai-main" not in out
    assert "Resources: 3 added" in out  # factory.Ollama, workspace.staging, its config
    code, _, err = run(capsys, "plan", "-w", "nope", "llmform.yaml")
    assert code == 1
    assert "--workspace nope: not in the configuration nor in the store" in err


def test_rename_is_delete_and_create(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "apply", "--auto-approve", "llmform.yaml")
    edit(repo, lambda text: text.replace("name: local", "name: local-2"))
    _, out, _ = run(capsys, "plan", "llmform.yaml")
    assert "- config.staging/local" in out
    assert "+ config.staging/local-2" in out
    assert out.index("- config.staging/local") < out.index("+ config.staging/local-2")
    assert "Plan: 1 to add, 0 to change, 1 to destroy." in out


def test_runtime_fields_survive_updates(
    repo: Path, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    run(capsys, "apply", "--auto-approve", "llmform.yaml")
    with store_db(store_url) as db:
        db.execute("UPDATE config_models SET used_tokens = 777 WHERE name = 'gpt-4o'")
        db.execute("UPDATE configs SET used_tokens = 999 WHERE name = 'openai-main'")
    _, out, _ = run(capsys, "plan", "--detailed-exitcode", "llmform.yaml")
    assert "No changes." in out
    edit(
        repo,
        lambda text: text.replace("team: platform", "team: ml").replace(
            "max_tokens: 1000", "max_tokens: 2000"
        ),
    )
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    with store_db(store_url) as db:
        assert db.one("SELECT used_tokens FROM config_models WHERE name = 'gpt-4o'") == 777
        assert db.one("SELECT used_tokens FROM configs WHERE name = 'openai-main'") == 999


def test_unmanaged_rows_are_reported_never_deleted(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    store_url: str,
) -> None:
    run(capsys, "apply", "--auto-approve", "llmform.yaml")
    with store_db(store_url) as db:
        db.execute("INSERT INTO workspaces (name, managed) VALUES ('hand-made', 0)")
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "llmform.yaml")
    assert code == 0
    assert "workspace.hand-made" in out
    assert "- workspace.hand-made" not in out


def test_export_then_plan_shows_no_changes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "apply", "--auto-approve", "llmform.yaml")
    assert run(capsys, "export", "-o", "exported.yaml")[0] == 0
    assert "sk-test" not in (repo / "exported.yaml").read_text()
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "exported.yaml")
    assert code == 0, out
    assert "No changes." in out


def test_audit_lists_and_verifies(
    repo: Path, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    run(capsys, "apply", "--auto-approve", "--audit-file", "audit.jsonl", "llmform.yaml")
    lines = [json.loads(line) for line in (repo / "audit.jsonl").read_text().splitlines()]
    assert [e["action"] for e in lines] == ["apply-start"] + ["create"] * 6 + ["apply-end"]
    code, out, _ = run(capsys, "audit", "--address", "config.prod/openai-main")
    header, row = out.splitlines()
    assert code == 0
    assert header.split() == [
        "SEQ",
        "TIME",
        "RUN",
        "ACTOR",
        "ACTION",
        "ADDRESS",
        "FIELDS",
        "RESULT",
    ]
    assert row.split()[4:] == ["create", "config.prod/openai-main", "-", "ok"]
    assert run(capsys, "audit", "--verify")[0] == 0
    with store_db(store_url) as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    code, _, err = run(capsys, "audit", "--verify")
    assert code == 1
    assert "audit chain broken at event 3" in err


@SQLITE_ONLY  # PostgreSQL's lock is its server's: test_postgres_lock.py
def test_force_unlock(repo: Path, capsys: pytest.CaptureFixture[str], store_url: str) -> None:
    run(capsys, "init")
    with store_db(store_url) as db:
        db.execute(
            "INSERT INTO locks VALUES ('apply', 'abc123', 'ci@elsewhere', 1, 'apply', '2026-01-01')"
        )
    code, _, err = run(capsys, "apply", "--auto-approve", "--lock-timeout", "0.3", "llmform.yaml")
    assert code == 1
    assert "locked by ci@elsewhere (pid 1)" in err and "llmform force-unlock abc123" in err
    assert run(capsys, "force-unlock", "abc123")[0] == 0
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0


def test_bad_input_writes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    edit(repo, lambda text: text.replace("factory: OpenAI", "factory: OpenAl"))
    code, _, err = run(capsys, "apply", "--auto-approve", "llmform.yaml")
    assert code == 1
    assert "unknown factory 'OpenAl' (did you mean 'OpenAI'?)" in err
    assert not store_exists(store_url)


def test_registry_reads_what_apply_wrote(
    repo: Path, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    from llmform.registry import Registry

    run(capsys, "apply", "--auto-approve", "llmform.yaml")
    with Registry(store_url) as registry:
        assert registry.workspaces() == ["prod", "staging"]
        found = registry.default_model("prod", "chat")
        assert found is not None
        config, model = found
        assert (config.name, config.provider_type, model) == ("openai-main", "openai", "gpt-4o")
        assert config.api_key_ref == "env:LLMFORM_TEST_KEY"
        assert config.backup_key_refs == ("env:LLMFORM_TEST_BACKUP",)
        assert [m.name for m in config.models] == ["gpt-4o", "my-ft"]
        assert registry.default_model("staging", "chat") is None


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("answer", "primary_key", "message"),
    [
        ("no\n", "sk-test-primary", "apply cancelled; nothing was changed"),
        # a key the provider rejects: refused before the prompt
        ("yes\n", "sk-test-unknown", "nothing was applied"),
    ],
    ids=["answered-no", "failed-key"],
)
def test_a_refused_apply_leaves_the_store_byte_for_byte(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    primary_key: str,
    message: str,
    store_url: str,
) -> None:
    # Shown, refused or confirmed before the lock is taken: not even the lock row is written.
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    edit(repo, lambda text: text.replace("staging", "qa"))
    monkeypatch.setenv("LLMFORM_TEST_KEY", primary_key)
    before = snapshot(store_url)
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    code, _, err = run(capsys, "apply", "llmform.yaml")
    assert code == 1
    assert message in err
    assert snapshot(store_url) == before


def test_apply_refuses_a_store_changed_while_it_waited_for_yes(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
) -> None:
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    edit(repo, lambda text: text.replace("staging", "qa"))

    class ChangingTerminal(Terminal):
        def readline(self, size: int | None = -1) -> str:
            with store_db(store_url) as db:
                db.execute("UPDATE meta SET value = '7' WHERE key = 'serial'")
            return super().readline()

    monkeypatch.setattr("sys.stdin", ChangingTerminal("yes\n"))
    code, _, err = run(capsys, "apply", "llmform.yaml")
    assert code == 1
    assert (
        "the store changed while apply waited for 'yes' (serial 1 -> 7); nothing was "
        "applied; run llmform apply again"
    ) in err
    assert serial(store_url) == 7
