"""A registry written by the previous release (schema version 1, before deletion protection)
is upgraded by migration 2 (in memory by the commands that only read it, in place by those that
write): its rows survive unprotected, the plan of the YAML it was
applied from shows no change, and protection then works on it. The file is rebuilt from
``support/stores/registry-v1.sql``, a dump of what that release wrote."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support.cli import run

DUMP = Path(__file__).parent.parent / "support" / "stores" / "registry-v1.sql"

OLD_STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    labels: {team: platform}
  - name: staging
configs:
  - name: main
    workspace: prod
    factory: Acme
    api_key: {env: LLMFORM_OLD_KEY}
    models: [acme-chat]
  - name: dev
    workspace: staging
    factory: Acme
    api_key: {env: LLMFORM_OLD_KEY}
    models: [acme-chat]
factories:
  - name: Acme
    type: openai-compatible
    api_base: https://llm.acme.example/v1
    models:
      - {name: acme-chat, type: chat}
"""


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_OLD_KEY", "sk-old-release")
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'registry.db'}")
    with sqlite3.connect(tmp_path / "registry.db") as conn:
        conn.executescript(DUMP.read_text(encoding="utf-8"))
    (tmp_path / "llmform.yaml").write_text(OLD_STATE)
    return tmp_path


def query(repo: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(repo / "registry.db") as conn:
        return conn.execute(sql).fetchall()


def test_the_dump_is_the_old_schema(repo: Path) -> None:
    assert query(repo, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    columns = [row[1] for row in query(repo, "PRAGMA table_info(configs)")]
    assert "protect" not in columns


def test_an_old_registry_upgrades_in_place(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml"
    )
    assert code == 0, out + err
    assert out.splitlines()[-1] == "No changes. The store matches the configuration."
    # plan only reads (it upgrades a copy in memory); a command that writes upgrades the file
    assert query(repo, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    assert run(capsys, "init")[0] == 0
    assert query(repo, "SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
    assert query(repo, "SELECT name, protect FROM workspaces ORDER BY name") == [
        ("prod", 0),
        ("staging", 0),
    ]
    assert query(repo, "SELECT name, protect, used_tokens FROM configs ORDER BY name") == [
        ("dev", 0, 0),
        ("main", 0, 0),
    ]
    assert run(capsys, "audit", "--verify")[0] == 0  # the old events are untouched

    # protection on the upgraded store: applied, read back equal, exported, enforced
    protected = OLD_STATE.replace(
        "models: [acme-chat]\n  - name: dev",
        ("models: [acme-chat]\n    protect: true\n  - name: dev"),
    )
    (repo / "llmform.yaml").write_text(protected)
    code, out, _ = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")
    assert code == 0 and "~ protect = false -> true" in out
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml")
    assert code == 0, out
    code, out, _ = run(capsys, "export")
    assert "- name: main\n  workspace: prod\n" in out
    assert out.count("protect: true") == 1
    assert out.index("protect: true") < out.index("- name: dev")
    (repo / "llmform.yaml").write_text(
        protected.split("  - name: main")[0]
        + ("  - name: dev" + protected.split("  - name: dev")[1])
    )
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "llmform.yaml")
    assert code == 1 and "config.prod/main is protected" in out
