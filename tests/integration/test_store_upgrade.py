"""A registry written by the previous release (schema version 1, before deletion protection)
is upgraded by migration 2 (the commands that only read it see it upgraded, SQLite's in a copy in
memory, PostgreSQL's through the migration's view; those that write upgrade it in place): its
rows survive unprotected, the plan of the YAML it was applied from shows no change, its audit
chain verifies, and protection then works on it. On each store (``store_url``): the registry is
rebuilt from ``support/stores/registry-v1.sql``, a dump of what that release wrote (translated
to PostgreSQL's dialect for a server: ``store_db.postgres_statements``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run
from support.store_db import columns, load_dump, store_db

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
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_OLD_KEY", "sk-old-release")
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    load_dump(store_url, DUMP.read_text(encoding="utf-8"))
    (tmp_path / "llmform.yaml").write_text(OLD_STATE)
    return store_url


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    with store_db(url) as db:
        return db.rows(sql)


def test_the_dump_is_the_old_schema(repo: str) -> None:
    assert query(repo, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    assert "used_tokens" in columns(repo, "configs")
    assert "protect" not in columns(repo, "configs") + columns(repo, "workspaces")
    assert query(repo, "SELECT count(*) FROM audit_events") == [(7,)]


def test_an_old_registry_upgrades_in_place(repo: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml"
    )
    assert code == 0, out + err
    assert out.splitlines()[-1] == "No changes. The store matches the configuration."
    # plan, export and audit only read (they see it upgraded); a command that writes upgrades it
    assert run(capsys, "audit", "--verify")[0] == 0
    code, out, _ = run(capsys, "export")
    assert code == 0 and "- name: main\n  workspace: prod\n" in out and "protect" not in out
    assert query(repo, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    assert "protect" not in columns(repo, "configs")
    assert run(capsys, "init")[0] == 0
    # to the current schema: protection (2), policies (3), which an old store has none of, and
    # digests (4), computed for the rows there
    assert query(repo, "SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]
    assert query(repo, "SELECT count(*) FROM configs WHERE digest IS NULL") == [(0,)]
    assert query(repo, "SELECT count(*) FROM policies") == [(0,)]
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
    Path("llmform.yaml").write_text(protected)
    code, out, _ = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")
    assert code == 0 and "~ protect = false -> true" in out
    assert run(capsys, "audit", "--verify")[0] == 0  # the chain goes on from the old events
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml")
    assert code == 0, out
    code, out, _ = run(capsys, "export")
    assert "- name: main\n  workspace: prod\n" in out
    assert out.count("protect: true") == 1
    assert out.index("protect: true") < out.index("- name: dev")
    Path("llmform.yaml").write_text(
        protected.split("  - name: main")[0]
        + ("  - name: dev" + protected.split("  - name: dev")[1])
    )
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "llmform.yaml")
    assert code == 1 and "config.prod/main is protected" in out
