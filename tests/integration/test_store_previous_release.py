"""A registry made by the release before the reshape of issue 10 (schema version 2, protection,
a keyed audit chain) is read, planned and applied by this one as it was: the file, its rows and
its audit chain mean the same, so an existing registry needs nothing to move on. On each store
(``store_url``): the registry is rebuilt from ``support/stores/registry-v2.sql``, a dump of what
that release wrote (translated to PostgreSQL's dialect for a server, as test_store_upgrade's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run
from support.store_db import load_dump, snapshot, store_db

from llmform.registry import Registry

DUMP = Path(__file__).parent.parent / "support" / "stores" / "registry-v2.sql"
AUDIT_KEY = "previous-release-audit-key-0123456789abcdef"
# what the previous release printed after its second apply
HEAD = (
    "10:hmac-sha256:b0aed03352aa:e4f7b3c2f0d7485a41620da6af49202ab8da5eb05b13cfdaf3f07ee033c98970"
)

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    labels: {team: platform, tier: gold}
    protect: true
    defaults: {chat: main/acme-chat}
  - name: staging
configs:
  - name: main
    workspace: prod
    factory: Acme
    api_key: {env: LLMFORM_OLD_KEY}
    backup_keys:
      - {env: LLMFORM_OLD_BACKUP}
    models: [acme-chat]
    protect: true
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

NEW_CONFIG = """\
  - name: canary
    workspace: staging
    factory: Acme
    api_key: {env: LLMFORM_OLD_KEY}
    models: [acme-chat]
"""


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_OLD_KEY", "sk-old-release")
    monkeypatch.setenv("LLMFORM_OLD_BACKUP", "sk-old-backup")
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    load_dump(store_url, DUMP.read_text(encoding="utf-8"))
    (tmp_path / "llmform.yaml").write_text(STATE)
    return store_url


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    with store_db(url) as db:
        return db.rows(sql)


def test_the_dump_is_the_previous_release(repo: str) -> None:
    rows = query(repo, "SELECT key, value FROM meta WHERE key != 'fingerprint_key' ORDER BY key")
    assert rows == [
        ("lineage", "6941c7e1b6fc45498b8f24495ab2092a"),
        ("schema_version", "2"),
        ("serial", "2"),
    ]


def test_plan_shows_no_change_and_writes_nothing(
    repo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(repo)
    code, out, err = run(
        capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml"
    )
    assert code == 0, out + err
    assert out.splitlines()[-1] == "No changes. The store matches the configuration."
    assert snapshot(repo) == before


def test_its_audit_chain_verifies_against_the_head_it_printed(
    repo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "audit", "--verify", "--head", HEAD)
    assert code == 0, out + err
    assert "Events 1-10: sealed with LLMFORM_AUDIT_KEY, verified with it: not edited." in out


def test_apply_continues_its_serial_chain_and_registry(
    repo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("llmform.yaml").write_text(STATE.replace("factories:\n", NEW_CONFIG + "factories:\n"))
    code, out, err = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")
    assert code == 0, out + err
    assert "Resources: 1 added, 0 changed, 0 destroyed." in out
    assert query(
        repo, "SELECT key, value FROM meta WHERE key IN ('serial', 'schema_version') ORDER BY key"
    ) == [
        ("schema_version", "4"),  # upgraded by the apply: policies and digests came since
        ("serial", "3"),
    ]
    code, out, err = run(capsys, "audit", "--verify", "--head", HEAD)
    assert code == 0, out + err
    assert "Events 1-13: sealed with LLMFORM_AUDIT_KEY" in out

    with Registry(repo) as registry:
        assert registry.workspaces() == ["prod", "staging"]
        assert [c.name for c in registry.configs("staging")] == ["canary", "dev"]
        found = registry.default_model("prod", "chat")
        assert found is not None
        config, model = found
        assert (config.name, model, config.api_key_ref) == (
            "main",
            "acme-chat",
            "env:LLMFORM_OLD_KEY",
        )
        assert config.backup_key_refs == ("env:LLMFORM_OLD_BACKUP",)


def test_its_protection_still_holds(repo: str, capsys: pytest.CaptureFixture[str]) -> None:
    without_prod = (
        STATE.split("  - name: prod")[0]
        + "  - name: staging"
        + STATE.split("  - name: staging")[1].split("  - name: main")[0]
        + "  - name: dev"
        + STATE.split("  - name: dev")[1]
    )
    Path("llmform.yaml").write_text(without_prod)
    # upgraded first (to schema 4, policies and digests): opening it for apply would upgrade it
    # anyway, and what is compared below is that the refused apply changes nothing else
    assert run(capsys, "init")[0] == 0
    before = snapshot(repo)
    code, out, _ = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")
    assert code == 1
    assert "workspace.prod is protected" in out and "config.prod/main is protected" in out
    assert snapshot(repo) == before


# The release before per-resource digests (schema version 3): STATE with a policy, applied once.
DUMP_V3 = DUMP.with_name("registry-v3.sql")
V3_STATE = STATE.replace(
    "factories:\n",
    "policies:\n  - name: described\n    applies_to: {kind: config}\n    rule: 'true'\n"
    "    message: every config passes\n    level: advisory\nfactories:\n",
)
HEAD_V3 = (
    "8:hmac-sha256:b0aed03352aa:26aa3ffcb2014baba801d4ab169d4fee9c5e7f4d1d1dadd545c76d1b4714df1f"
)


@pytest.fixture()
def repo_v3(repo: str) -> str:
    with store_db(repo) as db:  # the v2 registry ``repo`` loaded makes way for the v3 one
        for table in ("config_secrets", "config_models", "configs", "factory_models"):
            db.execute(f"DROP TABLE {table}")
        for table in ("factories", "workspaces", "locks", "audit_events", "meta"):
            db.execute(f"DROP TABLE {table}")
    load_dump(repo, DUMP_V3.read_text(encoding="utf-8"))
    Path("llmform.yaml").write_text(V3_STATE)
    return repo


def test_a_schema_3_registry_plans_unchanged_then_gets_its_digests(
    repo_v3: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert query(repo_v3, "SELECT value FROM meta WHERE key = 'schema_version'") == [("3",)]
    before = snapshot(repo_v3)
    code, out, err = run(
        capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml"
    )
    assert code == 0 and "No changes." in out, out + err
    assert snapshot(repo_v3) == before  # a plan upgrades nothing
    assert run(capsys, "init")[0] == 0
    assert query(repo_v3, "SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]
    with Registry(repo_v3) as registry:
        assert [c.name for c in registry.configs("staging")] == ["dev"]
    # every managed row has the digest of what it holds, so the next plan reads none of them
    for table in ("factories", "workspaces", "configs", "policies"):
        assert query(repo_v3, f"SELECT count(*) FROM {table} WHERE digest IS NULL") == [(0,)]
    code, out, err = run(
        capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml"
    )
    assert code == 0 and "No changes." in out, out + err
    code, out, err = run(capsys, "audit", "--verify", "--head", HEAD_V3)
    assert code == 0, out + err
    with store_db(repo_v3) as db:  # and a hand edit of an upgraded row shows
        db.execute("UPDATE workspaces SET labels = '{}' WHERE name = 'prod'")
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml")
    assert code == 2 and "~ workspace.prod" in out, out
