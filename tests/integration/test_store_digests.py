"""The registry's digests (``registry_digests``, ``registry_triggers``) change what a plan reads,
never what it says: on each store (``store_url``), every case plans the same text and JSON with
the digests as with a whole read (``plan_reads.digested`` made to find none), after an apply of
BASE and, in some cases, a hand edit of the store in ``sqlite3``/``psql`` terms that llmform
did not make; such an edit always shows in the plan. ``-w`` reads its own workspace's rows."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from pathlib import Path

import pytest
from support.cli import run
from support.store_db import store_db

from llmform.core.resources import resource_digest
from llmform.engine import plan_reads
from llmform.targets.registry import registry_sql

BASE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    labels: {team: platform}
  - name: staging
configs:
  - name: main
    workspace: prod
    factory: Acme
    api_key: {env: DIGEST_KEY}
    models: [acme-chat]
  - name: guarded
    workspace: prod
    factory: Acme
    api_key: {env: DIGEST_KEY}
    models: [acme-chat]
    protect: true
  - name: dev
    workspace: staging
    factory: Acme
    api_key: {env: DIGEST_KEY}
    models: [acme-chat, {name: tiny, type: chat}]
  - name: parked
    workspace: staging
    factory: Acme
    enabled: false
    api_key: {env: DIGEST_PARKED}
    models: [acme-chat]
factories:
  - name: Acme
    type: openai-compatible
    api_base: https://llm.acme.example/v1
    models:
      - {name: acme-chat, type: chat}
policies:
  - name: described
    applies_to: {kind: config}
    rule: object.description != ''
    message: describe every config
    level: advisory
"""


def edited(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


# name: (the YAML planned after BASE was applied, plan options, hand edits before the plan)
CASES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "no change": (BASE, (), ()),
    "an update": (edited("  - name: dev\n", "  - name: dev\n    description: d\n"), (), ()),
    "a create and a delete": (
        edited("  - name: main\n", "  - name: other\n"),
        (),
        (),
    ),
    "a replace": (
        edited(
            "    factory: Acme\n    api_key: {env: DIGEST_KEY}\n    models: [acme-chat]\n"
            "  - name: guarded",
            "    factory: OpenAI\n    api_key: {env: DIGEST_KEY}\n"
            "    models: [gpt-4o]\n  - name: guarded",
        ),
        (),
        (),
    ),
    "a protected delete": (edited("  - name: guarded\n", "  - name: gone\n"), (), ()),
    "a factory change, scoped": (
        edited(
            "      - {name: acme-chat, type: chat}\n",
            "      - {name: acme-chat, type: chat, max_tokens: 100}\n",
        ),
        ("-w", "staging"),
        (),
    ),
    "a scoped update": (
        edited("  - name: dev\n", "  - name: dev\n    description: d\n"),
        ("-w", "prod"),
        (),
    ),
    "a policy changed": (edited("level: advisory", "level: soft"), (), ()),
    "an unmanaged row declared": (
        edited("  - name: staging\n", "  - name: staging\n  - name: handmade\n"),
        (),
        (
            "INSERT INTO workspaces (name, description, labels, defaults, managed) "
            "VALUES ('handmade', '', '{}', '{}', 0)",
        ),
    ),
    "a description edited by hand": (
        BASE,
        (),
        ("UPDATE configs SET description = 'by hand' WHERE name = 'main'",),
    ),
    "a model edited by hand": (
        BASE,
        (),
        ("UPDATE config_models SET types = '[\"embedding\"]' WHERE name = 'tiny'",),
    ),
    "a model deleted by hand": (BASE, (), ("DELETE FROM factory_models WHERE name = 'acme-chat'",)),
    "a fingerprint edited by hand": (
        BASE,
        (),
        ("UPDATE config_secrets SET fingerprint = 'f00' WHERE config = 'dev'",),
    ),
    "labels edited by hand": (
        BASE,
        (),
        ("UPDATE workspaces SET labels = '{\"team\":\"x\"}' WHERE name = 'prod'",),
    ),
    "a policy edited by hand": (BASE, (), ("UPDATE policies SET level = 'hard'",)),
    "a row deleted by hand": (BASE, (), ("DELETE FROM configs WHERE name = 'dev'",)),
    "a row unmanaged by hand": (BASE, (), ("UPDATE configs SET managed = 0 WHERE name = 'main'",)),
    "the runtime columns written": (
        BASE,
        (),
        (
            "UPDATE configs SET used_tokens = 7, updated_at = 'x'",
            "UPDATE config_models SET used_tokens = 9",
        ),
    ),
    "a disabled config's secret unread": (
        edited("    enabled: false\n", "    enabled: false\n    description: off\n"),
        (),
        (),
    ),
}
_CHANGING = re.compile(r'("plan_id"|"created_at"): "[^"]*"')


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_KEY", "sk-digest-key")
    monkeypatch.setenv("DIGEST_PARKED", "sk-parked")
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    return store_url


def _plans(capsys: pytest.CaptureFixture[str], options: tuple[str, ...]) -> tuple[str, str]:
    args = ("plan", "--no-validate-keys", *options)
    code, text, err = run(capsys, *args, "llmform.yaml")
    assert code in (0, 1, 2), text + err
    _, as_json, _ = run(capsys, *args, "--format", "json", "llmform.yaml")
    return text + err, _CHANGING.sub(r"\1: _", as_json)


@pytest.mark.parametrize("case", CASES)
def test_the_same_plan_with_and_without_digests(
    repo: str, case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    planned, options, edits = CASES[case]
    Path("llmform.yaml").write_text(BASE)
    code, out, err = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")
    assert code == 0, out + err
    Path("llmform.yaml").write_text(planned)
    before_edits = _plans(capsys, options)
    with store_db(repo) as db:
        assert db.one("SELECT count(*) FROM configs WHERE digest IS NULL") == 0
        for edit in edits:
            db.execute(edit)
    Path("llmform.yaml").write_text(planned)
    reads: list[Collection[str] | None] = []
    whole = registry_sql.read_resources

    def counted(cur: object, only: object = None) -> object:
        reads.append(only)  # type: ignore[arg-type]
        return whole(cur, only)  # type: ignore[arg-type]

    monkeypatch.setattr(registry_sql, "read_resources", counted)
    with_digests = _plans(capsys, options)
    if case == "no change" or (edits and "used_tokens" in edits[0]):
        assert None not in reads, "a plan without change read the whole store"
    monkeypatch.setattr(plan_reads, "digested", lambda backend: None)
    assert _plans(capsys, options) == with_digests
    if "by hand" in case:  # an edit llmform did not make always shows
        assert with_digests[0] != before_edits[0]
    if "runtime" in case:  # applications' writes keep the digests
        assert with_digests == before_edits


def test_an_apply_writes_the_digest_of_each_row_as_read_back(
    repo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("llmform.yaml").write_text(BASE)
    assert run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")[0] == 0
    Path("llmform.yaml").write_text(
        edited("  - name: dev\n", "  - name: dev\n    description: d\n")
    )
    assert run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")[0] == 0
    from llmform.engine.backend import Location, open_backend
    from llmform.targets import OpenMode

    backend = open_backend(Location(repo), OpenMode.READ)
    try:
        read = backend.read()
        with store_db(repo) as db:
            stored = dict(db.rows("SELECT workspace || '/' || name, digest FROM configs"))
    finally:
        backend.close()
    assert {
        a.split(".", 1)[1]: resource_digest(r)
        for a, r in read.resources.items()
        if r.kind == "config"
    } == stored


def test_a_scoped_plan_reads_only_its_workspace(
    repo: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("llmform.yaml").write_text(BASE)
    assert run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")[0] == 0
    Path("llmform.yaml").write_text(
        edited("  - name: dev\n", "  - name: dev\n    description: d\n")
    )
    asked: list[set[str]] = []
    store_type = type(plan_reads.digested(_backend(repo)))  # the store's class, to wrap
    some = store_type.read_some

    def read_some(self: object, addresses: Collection[str]) -> object:
        asked.append(set(addresses))
        return some(self, addresses)  # type: ignore[arg-type]

    monkeypatch.setattr(store_type, "read_some", read_some)
    monkeypatch.setattr(store_type, "read", lambda self: pytest.fail("a whole read"))
    code, out, err = run(capsys, "plan", "--no-validate-keys", "-w", "staging", "llmform.yaml")
    assert code == 0 and "~ config.staging/dev" in out, out + err
    # the disabled config's stored row (are its secrets to be read?), then what differs, every
    # policy, and the disabled config again: its unread secret keeps the stored fingerprint
    parked = "config.staging/parked"
    assert asked == [{parked}, {"config.staging/dev", "policy.described", parked}]


def _backend(url: str) -> object:
    from llmform.engine.backend import Location, open_backend
    from llmform.targets import OpenMode

    backend = open_backend(Location(url), OpenMode.READ)
    backend.close()
    return backend


def test_digests_are_not_trusted_without_their_triggers(
    repo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("llmform.yaml").write_text(BASE)
    assert run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")[0] == 0
    with store_db(repo) as db:
        db.execute(
            "DROP TRIGGER llmform_digest_configs" + ("" if "sqlite" in repo else " ON configs")
        )
        db.execute("UPDATE configs SET description = 'by hand' WHERE name = 'main'")
        assert db.one("SELECT count(*) FROM configs WHERE digest IS NULL") == 0
    out = run(capsys, "plan", "--no-validate-keys", "llmform.yaml")[1]
    assert '~ description = "by hand" -> ""' in out, out
    assert json.loads(
        run(capsys, "plan", "--no-validate-keys", "--format", "json", "llmform.yaml")[1]
    )
