"""``llmform destroy`` through the CLI on a real SQLite file: everything, some workspaces, the
prompt and the terminal rule, protected resources, unmanaged rows, audit events; and that it
needs no YAML and no secrets."""

from __future__ import annotations

import io
import json
import re
import sqlite3
from pathlib import Path

import pytest
from support.cli import run

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
  - name: staging
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: LLMFORM_TEST_KEY}
    models: [gpt-4o]
  - name: local
    workspace: staging
    factory: Ollama
    api_base: http://127.0.0.1:9/v1
    models: [{name: llama3.2, type: chat}]
"""


@pytest.fixture()
def repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A store with 2 factories, 2 workspaces and 2 configs applied, then an empty working
    directory and no key in the environment: destroy must need neither."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("LLMFORM_TEST_KEY", "sk-test-primary")
    (tmp_path / "llmform.yaml").write_text(STATE)
    code, out, err = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")
    assert code == 0, out + err
    (tmp_path / "llmform.yaml").unlink()
    monkeypatch.delenv("LLMFORM_TEST_KEY")
    return tmp_path


def rows(repo: Path, table: str) -> list[tuple[str, int]]:
    with sqlite3.connect(repo / "store.db") as conn:
        return sorted(conn.execute(f"SELECT name, managed FROM {table}").fetchall())


def store_files(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(repo.glob("store.db*"))}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_destroy_everything(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "destroy", "--auto-approve", "--audit-file", "audit.jsonl")
    assert code == 0
    for address in (
        "config.prod/main",
        "config.staging/local",
        "workspace.prod",
        "workspace.staging",
        "factory.OpenAI",
        "factory.Ollama",
    ):
        assert f"  - {address}\n" in out
    assert "Plan: 0 to add, 0 to change, 6 to destroy." in out
    done, head = out.rstrip().splitlines()[-2:]
    assert done == "Destroy complete! Resources: 6 destroyed."
    assert re.fullmatch(r"Audit chain head: \d+:sha256:[0-9a-f]{64}", head)
    assert rows(repo, "factories") == rows(repo, "workspaces") == rows(repo, "configs") == []
    # audited like any apply: start, one event per resource, end; in the store and the file
    events = [json.loads(line) for line in (repo / "audit.jsonl").read_text().splitlines()]
    assert [e["action"] for e in events] == ["apply-start"] + ["delete"] * 6 + ["apply-end"]
    code, out, _ = run(capsys, "audit", "--address", "workspace.prod")
    assert code == 0 and "delete" in out
    assert run(capsys, "audit", "--verify")[0] == 0
    # and again: nothing left
    code, out, _ = run(capsys, "destroy", "--auto-approve")
    assert (code, out) == (0, "Nothing to destroy: the store holds no managed resources.\n")


def test_destroy_some_workspaces_keeps_factories(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "destroy", "--auto-approve", "-w", "staging")
    assert code == 0
    assert out.startswith("Scope: workspace staging; everything else is left alone.\n")
    assert "Destroy complete! Resources: 2 destroyed." in out
    assert rows(repo, "workspaces") == [("prod", 1)]
    assert rows(repo, "configs") == [("main", 1)]
    assert rows(repo, "factories") == [("Ollama", 1), ("OpenAI", 1)]
    code, _, err = run(capsys, "destroy", "--auto-approve", "-w", "nope")
    assert code == 1
    assert "--workspace nope: not in the store (known: prod)" in err


def test_unmanaged_rows_are_left_alone(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(repo / "store.db") as conn:
        conn.execute("INSERT INTO workspaces (name, managed) VALUES ('hand-made', 0)")
        conn.execute(
            "INSERT INTO configs (workspace, name, factory, managed) "
            "VALUES ('prod', 'by-hand', 'OpenAI', 0)"
        )
    code, out, _ = run(capsys, "destroy", "--auto-approve")
    assert code == 0
    assert "Unmanaged (in the store, not created by llmform; left alone):" in out
    assert rows(repo, "workspaces") == [("hand-made", 0)]
    assert rows(repo, "configs") == [("by-hand", 0)]


def test_protected_resources_refuse_the_destroy(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORM_TEST_KEY", "sk-test-primary")
    (repo / "llmform.yaml").write_text(
        STATE.replace("  - name: prod\n", "  - name: prod\n    protect: true\n")
    )
    assert run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")[0] == 0
    before = store_files(repo)
    for args in (["--auto-approve"], ["--auto-approve", "-w", "prod"]):
        code, out, err = run(capsys, "destroy", *args)
        assert code == 1
        assert (
            "workspace.prod is protected, so it will not be destroyed: to delete it, first "
            "apply it with 'protect: false', then remove it"
        ) in out
        assert "protected resources would be destroyed, so nothing was destroyed" in err
        assert store_files(repo) == before
    # another workspace can still go
    assert run(capsys, "destroy", "--auto-approve", "-w", "staging")[0] == 0


def test_the_prompt_takes_only_yes(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store_files(repo)
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, out, err = run(capsys, "destroy")
    assert code == 1
    assert "Destroy these resources? There is no undo. Only 'yes' is accepted" in out
    assert "destroy cancelled; nothing was changed" in err
    assert store_files(repo) == before
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    code, out, _ = run(capsys, "destroy", "-w", "prod")
    assert code == 0 and "Destroy complete! Resources: 2 destroyed." in out
    assert rows(repo, "workspaces") == [("staging", 1)]


def test_no_terminal_needs_auto_approve(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = store_files(repo)
    code, _, err = run(capsys, "destroy")
    assert code == 1
    assert "no terminal to confirm on; pass --auto-approve to destroy without a prompt" in err
    assert store_files(repo) == before


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "destroy", "--help")
    assert code == 0
    assert "llmform destroy -w staging -w dev" in out
    for option in ("--auto-approve", "--lock-timeout", "--audit-file", "--store", "--workspace"):
        assert option in out


def test_a_store_changed_while_the_prompt_waited_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 'yes' approves the plan shown; if another run applied meanwhile, nothing is deleted."""

    class ChangingTerminal(Terminal):
        def readline(self, size: int | None = -1) -> str:
            with sqlite3.connect(repo / "store.db") as conn:
                conn.execute("UPDATE meta SET value = '7' WHERE key = 'serial'")
            return super().readline()

    monkeypatch.setattr("sys.stdin", ChangingTerminal("yes\n"))
    code, _, err = run(capsys, "destroy")
    assert code == 1
    assert (
        "the store changed while destroy waited for 'yes' (serial 1 -> 7); nothing was "
        "destroyed; run llmform destroy again"
    ) in err
    assert len(rows(repo, "workspaces")) == 2
