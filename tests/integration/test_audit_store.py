"""Audit events are sealed over exactly what the store keeps: every value is type-checked and
made storable before it is sealed, and a stored row llmform would not have written (a number or
a blob where text belongs, the field list spelt otherwise) breaks the chain instead of being
read into something else. On each store (``store_url``); the rows only SQLite's loose column
types let in (a number or a blob in a text column) on SQLite alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.store_db import snapshot, store_db

from llmform.cli import main
from llmform.errors import StoreError
from llmform.state.audit_check import check_chain, verify
from llmform.state.audit_keys import LocalChainKey
from llmform.targets import Store, open_store

KEY = LocalChainKey("audit-key-for-tests-" + "5f3c9a" * 4)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


def draft(**values: Any) -> dict[str, Any]:
    base = {
        "time": "2026-01-01T00:00:00+00:00",
        "run_id": "run-1",
        "actor": "ci:octocat",
        "commit": None,
        "address": "",
        "action": "apply-start",
        "fields": [],
        "result": "started",
    }
    return base | values


def append(store: Store, *drafts: dict[str, Any], key: LocalChainKey | None = None) -> None:
    state = store.read()
    store.apply([], (state.lineage, state.serial), list(drafts), chain_key=key)


def stored(url: str, column: str) -> list[Any]:
    with store_db(url) as db:
        return [row[0] for row in db.rows(f"SELECT {column} FROM audit_events ORDER BY seq")]


STORED_AS_GIVEN = [
    ({"run_id": 5}, "run_id", "5"),  # a saved plan's "plan_id": 5
    ({"run_id": -12}, "run_id", "-12"),
    ({"actor": "ci:caf\udce9"}, "actor", "ci:caf\\xe9"),  # the byte 0xE9 from os.environ
    ({"actor": "ci:\ud800"}, "actor", "ci:\\ud800"),  # a lone surrogate of no byte
    ({"commit": "é漢😀"}, "git_commit", "é漢😀"),
    (
        {"fields": ["labels.équipe", "labels.a\nb"]},
        "fields",
        '["labels.\\u00e9quipe","labels.a\\nb"]',
    ),
    ({"fields": ("b", "a")}, "fields", '["b","a"]'),
]


@pytest.mark.parametrize("key", [None, KEY], ids=["unkeyed", "keyed"])
@pytest.mark.parametrize(
    ("store_url", "values", "column", "kept"),
    [
        *[
            (store_kind, *case)
            for store_kind in ("sqlite", "postgresql")
            for case in STORED_AS_GIVEN
        ],
        # kept as given on SQLite; PostgreSQL's text holds no NUL, and refuses the apply whole
        ("sqlite", {"result": "a\x00b\n\x1b[2J"}, "result", "a\x00b\n\x1b[2J"),
    ],
    indirect=["store_url"],
)
def test_values_are_sealed_as_the_store_keeps_them(
    store: Store,
    store_url: str,
    values: dict[str, Any],
    column: str,
    kept: str,
    key: LocalChainKey | None,
) -> None:
    append(store, draft(**values), draft(action="apply-end", result="ok"), key=key)
    assert stored(store_url, column)[0] == kept
    reopened = open_store(store_url)
    try:
        lineage = reopened.read().lineage  # what keyed seals cover besides the event
        assert verify(reopened.audit_events(), key, lineage) is None
        assert check_chain(reopened.audit_events(), key, lineage).statuses == (
            ((1, "key"), (2, "key")) if key else ((1, "plain"), (2, "plain"))
        )
    finally:
        reopened.close()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"run_id": None}, "audit event run_id must be text, not NoneType"),
        ({"run_id": True}, "audit event run_id must be text, not bool"),
        ({"run_id": 5.5}, "audit event run_id must be text, not float"),
        ({"run_id": ["x"]}, "audit event run_id must be text, not list"),
        ({"actor": {"a": 1}}, "audit event actor must be text, not dict"),
        ({"commit": 7.0}, "audit event commit must be text, not float"),
        ({"fields": "abc"}, "audit event fields must be a list of names"),
        ({"fields": [1]}, "audit event fields must be a list of names"),
    ],
)
def test_values_that_are_not_text_are_refused_and_nothing_is_written(
    store: Store, store_url: str, values: dict[str, Any], message: str
) -> None:
    append(store, draft())
    before = snapshot(store_url)
    with pytest.raises(StoreError, match="apply refused, nothing changed: ") as refused:
        append(store, draft(**values))
    assert message in str(refused.value)
    assert snapshot(store_url) == before


def test_the_store_does_not_extend_a_keyed_trail_without_a_key(
    store: Store, store_url: str
) -> None:
    """The store's own guard, whatever its caller checked before."""
    append(store, draft(), key=KEY)
    before = snapshot(store_url)
    with pytest.raises(StoreError) as refused:
        append(store, draft(action="apply-end", result="ok"))
    assert str(refused.value) == (
        "apply refused, nothing changed: the audit trail is sealed with a local "
        f"LLMFORM_AUDIT_KEY (key id {KEY.key_id}) up to event 1, and no audit key is set; set "
        "LLMFORM_AUDIT_KEY to that key: events without it would break the chain"
    )
    assert snapshot(store_url) == before
    append(store, draft(action="apply-end", result="ok"), key=LocalChainKey("r" * 40))
    rotated = check_chain(store.audit_events(), LocalChainKey("r" * 40), store.read().lineage)
    assert [s for _, s in rotated.statuses] == [
        "a local LLMFORM_AUDIT_KEY (key id " + KEY.key_id + ")",
        "key",
    ]


NOT_FIELDS = "its fields are not a list of names as llmform writes them"


@pytest.mark.parametrize("key", [None, KEY], ids=["unkeyed", "keyed"])
@pytest.mark.parametrize(
    ("store_url", "update", "reason"),
    [
        *[
            (store_kind, update, reason)
            for store_kind in ("sqlite", "postgresql")
            for update, reason in [
                ("fields = '[ ]'", f"{NOT_FIELDS} (edited)"),
                ("fields = 'not json'", NOT_FIELDS),
                ("fields = '[1]'", NOT_FIELDS),
                ("git_commit = ''", "its content does not match its"),  # NULL and "" differ
            ]
        ],
        # what only SQLite's loose column types let in: PostgreSQL refuses the UPDATE
        ("sqlite", "run_id = CAST('run-1' AS BLOB)", "its run_id is a blob, not text (edited)"),
        ("sqlite", "hash = x'00'", "its hash is a blob, not text (edited)"),
        ("sqlite", "result = 5", "its content does not match its"),  # stored as the text '5'
    ],
    indirect=["store_url"],
)
def test_rows_llmform_did_not_write_break_the_chain(
    store: Store, store_url: str, update: str, reason: str, key: LocalChainKey | None
) -> None:
    append(store, draft(), draft(action="apply-end", result="ok"), key=key)
    with store_db(store_url) as db:
        db.execute(f"UPDATE audit_events SET {update} WHERE seq = 2")
    broken = verify(store.audit_events(), key, store.read().lineage)
    assert broken is not None and broken.seq == 2
    assert reason in broken.reason


def test_the_listing_escapes_field_names_and_results(
    store: Store, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    append(
        store,
        draft(),
        draft(
            address="workspace.a\u202eb",
            action="update",
            fields=["labels.x\n    9 forged", "labels.\x1b[31m"],
            result="ok\x07",
        ),
    )
    code = main(["--no-color", "audit", "--store", store_url])
    out = capsys.readouterr().out
    assert code == 0 and len(out.splitlines()) == 3
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "workspace.a\\u202eb  labels.x\\x0a    9 forged, labels.\\x1b[31m  ok\\x07" in out
