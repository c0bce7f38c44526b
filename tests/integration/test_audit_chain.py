"""The audit trail against someone who can write the store: rewrites done with a connection of
the store's own database, behind llmform's back, caught by the audit key, by a known chain head,
or by an ``--audit-file`` copy; and a store written by an earlier llmform still verifies. On each
store (``store_url``), but for what only SQLite has: bytes in a text column, and stores written
by llmform 0.1 (which knew no PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.cli import run
from support.store_db import StoreDb, load_dump, snapshot, store_db

from llmform.state.audit import event_from_row, message
from llmform.state.audit_keys import plain_seal
from llmform.state.audit_trail import INVESTIGATE

KEY = "audit-key-for-tests-" + "5f3c9a" * 4  # 44 characters
LEGACY_SQL = Path(__file__).parent.parent / "support" / "audit_store_0e0937c.sql"
COLUMNS = "seq, time, run_id, actor, git_commit, address, action, fields, result, prev_hash, hash"
STATE = "apiVersion: llmform/v1\nworkspaces:\n  - name: prod\n    labels: {{team: {team}}}\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    for name in ("LLMFORM_AUDIT_KEY", "LLMFORM_AUDIT_TRANSIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def apply(capsys: pytest.CaptureFixture[str], repo: Path, team: str) -> str:
    """Apply a state labelled ``team``, copying the events to audit.jsonl; the printed head."""
    (repo / "llmform.yaml").write_text(STATE.format(team=team))
    code, out, err = run(
        capsys, "apply", "--auto-approve", "--audit-file", "audit.jsonl", "llmform.yaml"
    )
    assert code == 0, err
    heads = re.findall(r"^Audit chain head: (\S+)$", out, re.MULTILINE)
    assert len(heads) == 1, out
    return heads[0]


@contextmanager
def connect() -> Iterator[StoreDb]:
    """The store of the test (``LLMFORM_STORE``), each statement committed on its own."""
    with store_db(os.environ["LLMFORM_STORE"]) as db:
        yield db


# -- what an attacker with write access does ---------------------------------------------------


def legacy_hash(row: dict[str, object]) -> str:
    """llmform 0.1's plain SHA-256 (commit 0e0937c), which anyone can recompute."""
    content = {k: row[k] for k in ("seq", "time", "run_id", "actor", "address", "action")}
    content |= {"commit": row["git_commit"], "result": row["result"]}
    content |= {"fields": json.loads(str(row["fields"])), "prev_hash": row["prev_hash"]}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def rehash(conn: StoreDb, start: int, legacy: bool = False, end: int | None = None) -> None:
    """Recompute every hash from event ``start`` on (to ``end``), unkeyed, so the chain links
    again."""
    names = [c.strip() for c in COLUMNS.split(",")]
    rows = [
        dict(zip(names, r, strict=True))
        for r in conn.rows(f"SELECT {COLUMNS} FROM audit_events ORDER BY seq")
    ]
    prev = "0" * 64
    for row in rows:
        if start <= row["seq"] <= (end or row["seq"]):
            row["prev_hash"] = prev
            event = event_from_row(tuple(row.values()))
            row["hash"] = legacy_hash(row) if legacy else plain_seal(message(event))
            conn.rows(
                "UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?",
                (row["prev_hash"], row["hash"], row["seq"]),
            )
        prev = str(row["hash"])


def trail(conn: StoreDb) -> list[tuple[object, ...]]:
    """Every row of the audit trail, as the store holds it."""
    return conn.rows("SELECT * FROM audit_events ORDER BY seq")


def replace_trail(conn: StoreDb, rows: list[tuple[object, ...]]) -> None:
    """The audit trail made ``rows`` (of a store of the same schema: the same columns)."""
    conn.execute("DELETE FROM audit_events")
    for row in rows:
        conn.execute(f"INSERT INTO audit_events VALUES ({', '.join('?' * len(row))})", row)


def last_run_start(conn: StoreDb) -> int:
    return int(conn.one("SELECT max(seq) FROM audit_events WHERE action = 'apply-start'"))


def edit_and_rehash(conn: StoreDb) -> None:
    conn.rows("UPDATE audit_events SET actor = 'ci:mallory' WHERE seq = 2")
    rehash(conn, 1)


def edit_last_run_and_rehash(conn: StoreDb) -> None:
    start = last_run_start(conn)
    conn.rows("UPDATE audit_events SET actor = 'ci:mallory' WHERE seq = ?", (start + 1,))
    rehash(conn, start)


def delete_last_run(conn: StoreDb) -> None:
    conn.rows("DELETE FROM audit_events WHERE seq >= ?", (last_run_start(conn),))
    conn.rows(  # text in both databases' meta table
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) - 1 AS TEXT) WHERE key = 'serial'"
    )


def delete_every_event(conn: StoreDb) -> None:
    conn.rows("DELETE FROM audit_events")
    conn.rows("UPDATE meta SET value = '0' WHERE key = 'serial'")


def downgrade_to_legacy(conn: StoreDb) -> None:
    rehash(conn, 1, legacy=True)


def downgrade_last_run(conn: StoreDb) -> None:
    rehash(conn, last_run_start(conn))


def delete_last_run_only(conn: StoreDb) -> None:
    conn.rows("DELETE FROM audit_events WHERE seq >= ?", (last_run_start(conn),))


def delete_every_event_only(conn: StoreDb) -> None:
    conn.rows("DELETE FROM audit_events")


CONTENT = "time, run_id, actor, git_commit, address, action, fields, result"


def reorder_runs(conn: StoreDb) -> None:
    """Runs 2 (events 4-6) and 3 (7-9) swapped, every hash from there recomputed."""
    rows = conn.rows(f"SELECT seq, {CONTENT} FROM audit_events ORDER BY seq")
    for seq, row in enumerate(rows[:3] + rows[6:] + rows[3:6], start=1):
        assignments = ", ".join(f"{name.strip()} = ?" for name in CONTENT.split(","))
        conn.rows(f"UPDATE audit_events SET {assignments} WHERE seq = ?", (*row[1:], seq))
    rehash(conn, 4)


def swap_two_events(conn: StoreDb) -> None:
    """Events 4 and 5 change places, nothing recomputed."""
    conn.rows("UPDATE audit_events SET seq = -5 WHERE seq = 5")
    conn.rows("UPDATE audit_events SET seq = 5 WHERE seq = 4")
    conn.rows("UPDATE audit_events SET seq = 4 WHERE seq = -5")


def insert_in_the_middle(conn: StoreDb) -> None:
    """A forged delete of workspace.prod inserted as event 5, later events renumbered, every
    hash from there recomputed."""
    for (seq,) in conn.rows("SELECT seq FROM audit_events ORDER BY seq DESC"):
        if seq >= 5:
            conn.rows("UPDATE audit_events SET seq = seq + 1 WHERE seq = ?", (seq,))
    ((run_id, time),) = conn.rows("SELECT run_id, time FROM audit_events WHERE seq = 4")
    conn.rows(
        f"INSERT INTO audit_events (seq, {CONTENT}, prev_hash, hash) "
        "VALUES (5, ?, ?, 'ci:mallory', NULL, 'workspace.prod', 'delete', '[]', 'ok', '', '')",
        (time, run_id),
    )
    rehash(conn, 5)


def delete_a_middle_event(conn: StoreDb) -> None:
    conn.rows("DELETE FROM audit_events WHERE seq = 5")


def delete_a_middle_event_and_renumber(conn: StoreDb) -> None:
    conn.rows("DELETE FROM audit_events WHERE seq = 5")
    conn.rows("UPDATE audit_events SET seq = seq - 1 WHERE seq > 5")
    rehash(conn, 5)


def blob_for_text(conn: StoreDb) -> None:
    """A run id stored as bytes, which SQLite keeps as they are (a number it turns into text,
    which is then what the seal covers, as any edit)."""
    conn.rows("UPDATE audit_events SET run_id = CAST(run_id AS BLOB) WHERE seq = 4")


@dataclass(frozen=True)
class Attack:
    rewrite: Callable[[StoreDb], None]
    caught: dict[str, str]  # mode -> what the error says; a mode not listed does not catch it


MODES = ("none", "key", "head", "file")
TRUNCATED_HEAD = "audit trail truncated: the known head is event 9"
EMPTIED = (
    "the store holds 1 resource(s) written by llmform, but its audit trail holds no run that "
    "wrote them: events were removed (and the store's count of applies rewound)"
)
TRUNCATED_COPY = "audit trail truncated: audit.jsonl:"
ATTACKS = {
    "edit an event, recompute the plain hashes": Attack(
        edit_and_rehash,
        {
            "key": "no event is sealed with LLMFORM_AUDIT_KEY: the 9 event(s) were written",
            "head": "audit trail rewritten: event 9 is not the known head 9:hmac-sha256:",
            "file": "audit trail rewritten: event 1 differs from its copy at audit.jsonl:1 "
            "(its hash changed)",
        },
    ),
    "edit the last run, recompute its hashes": Attack(
        edit_last_run_and_rehash,
        {
            "key": "audit chain broken at event 7: it is sealed with plain SHA-256 (no key), not "
            "with LLMFORM_AUDIT_KEY as event 1 before it is: events were written or rewritten "
            "without the key (a downgrade)",
            "head": "audit trail rewritten: event 9 is not the known head",
            "file": "event 7 differs from its copy at audit.jsonl:7 (its hash changed)",
        },
    ),
    "delete the last run and rewind the serial": Attack(
        delete_last_run, {"head": TRUNCATED_HEAD, "file": TRUNCATED_COPY + "7 holds event 7"}
    ),
    "delete every event and rewind the serial": Attack(
        delete_every_event,
        {
            **dict.fromkeys(MODES, EMPTIED),
            "head": "the known head is event 9, but the trail is empty: events were removed",
            "file": TRUNCATED_COPY + "1 holds event 1, but the store's trail is empty",
        },
    ),
    "delete every event": Attack(
        delete_every_event_only,
        dict.fromkeys(MODES, "the store counts 3 apply(s), but its audit trail holds 0 run(s)"),
    ),
    "reorder two runs, recompute their hashes": Attack(
        reorder_runs,
        {
            "key": "audit chain broken at event 4: it is sealed with plain SHA-256 (no key)",
            "head": "audit trail rewritten: event 9 is not the known head",
            "file": "event 4 differs from its copy at audit.jsonl:4 (its time, run_id, hash",
        },
    ),
    "swap two events": Attack(
        swap_two_events,
        dict.fromkeys(
            MODES,
            "audit chain broken at event 4: does not follow the previous event (edited, "
            "removed, inserted or moved)",
        ),
    ),
    "insert an event in the middle, recompute the hashes after it": Attack(
        insert_in_the_middle,
        {
            "key": "audit chain broken at event 5: it is sealed with plain SHA-256 (no key)",
            "head": "audit trail rewritten: event 9 is not the known head",
            "file": "event 5 differs from its copy at audit.jsonl:5 (its actor, action, fields",
        },
    ),
    "delete an event in the middle": Attack(
        delete_a_middle_event,
        dict.fromkeys(MODES, "audit chain broken at event 6: expected event 5 here"),
    ),
    "delete an event in the middle, renumber and recompute": Attack(
        delete_a_middle_event_and_renumber,
        {
            "key": "audit chain broken at event 5: it is sealed with plain SHA-256 (no key)",
            "head": "audit trail truncated: the known head is event 9, but the trail ends at "
            "event 8: events were removed",
            "file": "event 5 differs from its copy at audit.jsonl:5 (its address, action",
        },
    ),
    "bytes where text belongs": Attack(
        blob_for_text,
        dict.fromkeys(
            MODES, "audit chain broken at event 4: its run_id is a blob, not text (edited)"
        ),
    ),
    "delete the last run": Attack(
        delete_last_run_only,
        {
            mode: "the store counts 3 apply(s), but its audit trail holds 2 run(s): events "
            "were removed"
            for mode in ("none", "key", "head", "file")
        },
    ),
    "downgrade every event to the old unkeyed hash": Attack(
        downgrade_to_legacy,
        {
            "key": "no event is sealed with LLMFORM_AUDIT_KEY",
            "head": "audit trail rewritten: event 9",
            "file": "event 1 differs from its copy at audit.jsonl:1 (its hash changed)",
        },
    ),
    "downgrade the last run to plain hashes": Attack(
        downgrade_last_run,
        {
            "key": "audit chain broken at event 7: it is sealed with plain SHA-256 (no key)",
            "head": "audit trail rewritten: event 9",
            "file": "event 7 differs from its copy at audit.jsonl:7 (its hash changed)",
        },
    ),
}


SQLITE_ONLY_ATTACKS = ("bytes where text belongs",)  # PostgreSQL's text column takes no bytes


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("store_url", "attack"),
    [
        (store_kind, attack)
        for attack in ATTACKS
        for store_kind in ("sqlite", "postgresql")
        if store_kind == "sqlite" or attack not in SQLITE_ONLY_ATTACKS
    ],
    indirect=["store_url"],
)
def test_rewrites_are_caught_by_the_key_the_head_or_the_copy(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    attack: str,
    mode: str,
) -> None:
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    heads = [apply(capsys, repo, team) for team in ("a", "b", "c")]
    assert run(capsys, "audit", "--verify")[0] == 0
    with connect() as conn:
        ATTACKS[attack].rewrite(conn)
    if mode != "key":
        monkeypatch.delenv("LLMFORM_AUDIT_KEY")
    anchor = {"head": ["--head", heads[-1]], "file": ["--audit-file", "audit.jsonl"]}
    code, out, err = run(capsys, "audit", "--verify", *anchor.get(mode, []))
    expected = ATTACKS[attack].caught.get(mode)
    if expected is None:  # what this mode cannot see, by design (the README says so)
        assert code == 0, err
        assert ("No known head was checked" in out) == (mode in ("none", "key"))
    else:
        assert code == 1, out
        assert expected in err


def test_a_trail_copied_from_another_store_with_the_same_key_is_caught(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    store_url: str,
) -> None:
    """One key for several stores (one Transit key for every environment): another store's
    trail, whole and sealed with that key, put in place of this one's. Keyed seals cover the
    store's lineage, so the key sees it at the first event; without the key, nothing can."""
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    heads = [apply(capsys, repo, team) for team in ("a", "b", "c")]
    if store_url.startswith("postgresql:"):  # another database of the session's server
        server = request.getfixturevalue("postgres")
        other = server.url(server.create_database())
    else:
        other = f"sqlite:///{repo / 'other.db'}"
    for team in ("x", "y", "z"):
        (repo / "other.yaml").write_text(STATE.format(team=team))
        assert run(capsys, "apply", "--auto-approve", "--store", other, "other.yaml")[0] == 0
    with store_db(other) as source:
        copied = trail(source)
    with connect() as conn:
        replace_trail(conn, copied)
    code, _, err = run(capsys, "audit", "--verify")
    assert code == 1
    assert err == (
        "error: audit chain broken at event 1: its content does not match its seal by "
        f"LLMFORM_AUDIT_KEY (edited, or sealed for another store and copied here)\n{INVESTIGATE}\n"
    )
    code, _, err = run(capsys, "audit", "--verify", "--store", other)
    assert code == 0, err  # the same events are whole where they belong
    code, _, err = run(capsys, "audit", "--verify", "--head", heads[-1])
    assert code == 1 and "audit trail rewritten: event 9 is not the known head" in err
    monkeypatch.delenv("LLMFORM_AUDIT_KEY")
    assert run(capsys, "audit", "--verify")[0] == 0  # without the key: consistent, no more


def test_untouched_trail_passes_every_mode_and_says_what_it_proves(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(capsys, repo, "a")  # unkeyed: events 1-3
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    apply(capsys, repo, "b")
    head = apply(capsys, repo, "c")
    assert head.startswith("9:hmac-sha256:")
    code, out, _ = run(capsys, "audit", "--verify", "--head", head, "--audit-file", "audit.jsonl")
    assert code == 0
    assert out.splitlines() == [
        f"Audit chain intact: 9 event(s) of 3 run(s); its head is {head}.",
        "Events 1-3: plain hashes from before the key was set, sealed in turn by event 4: not "
        "edited.",
        "Events 4-9: sealed with LLMFORM_AUDIT_KEY, verified with it: not edited.",
        f"Reaches the known head {head} unchanged.",
        "Matches the copy audit.jsonl: its 9 event(s) are in the store, unchanged.",
    ]
    monkeypatch.delenv("LLMFORM_AUDIT_KEY")
    code, out, _ = run(capsys, "audit", "--verify")
    assert code == 0
    key_id = head.split(":")[2]
    assert out.splitlines()[1:] == [
        "Events 1-3: plain hashes, consistent with each other.",
        f"Events 4-9: sealed with a local LLMFORM_AUDIT_KEY (key id {key_id}), not at hand: "
        "not checked.",
        "No audit key is set (LLMFORM_AUDIT_KEY or LLMFORM_AUDIT_TRANSIT_KEY): this proves only "
        "internal consistency; anyone who can write the store could have rewritten the events "
        "and their hashes.",
        "No known head was checked: events removed from the end (with the serial rewound) "
        "would not show; check with --head SEQ:HASH (apply prints it) or --audit-file FILE.",
    ]


def test_an_edit_without_rehashing_is_caught_with_the_key(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    apply(capsys, repo, "a")
    with connect() as conn:
        conn.rows("UPDATE audit_events SET actor = 'ci:mallory' WHERE seq = 2")
    code, _, err = run(capsys, "audit", "--verify")
    assert code == 1
    assert "audit chain broken at event 2: its content does not match its seal by " in err
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", "another-key-" + "0" * 30)
    code, _, err = run(capsys, "audit", "--verify")
    assert code == 1 and "no event is sealed with LLMFORM_AUDIT_KEY" in err


def test_the_head_is_printed_after_each_apply(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = apply(capsys, repo, "a")
    with connect() as conn:
        seq, stored = conn.rows("SELECT seq, hash FROM audit_events ORDER BY seq DESC")[0]
    assert first == f"{seq}:{stored}" and re.fullmatch(r"3:sha256:[0-9a-f]{64}", first)
    assert apply(capsys, repo, "a") == first  # nothing to change: the head is still printed
    assert apply(capsys, repo, "b").startswith("6:sha256:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--head", "abc"], "--head 'abc' is not SEQ:HASH"),
        (["--head", "0:sha256:00"], "is not SEQ:HASH"),
        (["--head", "3"], "is not SEQ:HASH"),
        (["--audit-file", "missing.jsonl"], "cannot read the audit copy missing.jsonl"),
        (["--audit-file", "empty.jsonl"], "empty.jsonl holds no audit events"),
        (["--audit-file", "bad.jsonl"], "bad.jsonl:2: not a JSON audit event as apply writes it"),
        (
            ["--audit-file", "typed.jsonl"],
            "typed.jsonl:1: its 'seq' is missing or of the wrong type",
        ),
        (["--audit-file", "/dev/zero"], "/dev/zero:1: the line is longer than any audit event"),
    ],
)
def test_bad_anchors_are_clear_errors(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    apply(capsys, repo, "a")
    (repo / "empty.jsonl").write_text("\n")
    first = (repo / "audit.jsonl").read_text().splitlines()[0]
    (repo / "bad.jsonl").write_text(first + "\n{not json\n")
    (repo / "typed.jsonl").write_text(json.dumps({**json.loads(first), "seq": "1"}) + "\n")
    code, _, err = run(capsys, "audit", "--verify", *args)
    assert code == 1 and message in err, err


def test_anchors_go_with_verify(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    apply(capsys, repo, "a")
    code, _, err = run(capsys, "audit", "--head", "3:sha256:00")
    assert code == 2 and "--head and --audit-file go with --verify" in err


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # 0.1 knew no PostgreSQL
def test_a_store_of_the_previous_release_verifies_and_is_extended_keyed(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    load_dump(store_url, LEGACY_SQL.read_text(encoding="utf-8"))
    code, out, err = run(capsys, "audit", "--verify")
    assert code == 0, err  # event 9 included: its run id was the number 5 when it was hashed
    assert out.splitlines()[:2] == [
        "Audit chain intact: 11 event(s) of 3 run(s); its head is "
        "11:a89465821c93d2f0289c8a4a27fd8bed99f9269f2c9095c1fbb28ce7b2636f4f.",
        "Events 1-11: plain hashes, consistent with each other.",
    ]
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    last = int(apply(capsys, repo, "keyed").partition(":hmac-sha256:")[0])
    code, out, _ = run(capsys, "audit", "--verify")
    assert code == 0 and f"Events 12-{last}: sealed with LLMFORM_AUDIT_KEY" in out
    assert (
        "Events 1-11: plain hashes from before the key was set, sealed in turn by event 12" in out
    )
    # The unkeyed history rewritten and rehashed: it no longer leads to the keyed events.
    with connect() as conn:
        conn.rows("UPDATE audit_events SET actor = 'ci:mallory' WHERE seq = 2")
        rehash(conn, 1, legacy=True)
        conn.rows("UPDATE audit_events SET prev_hash = ? WHERE seq = 12", ("0" * 64,))
    code, _, err = run(capsys, "audit", "--verify")
    assert code == 1
    assert "audit chain broken at event 12: does not follow the previous event" in err


def test_a_keyed_trail_is_not_extended_without_the_key(
    repo: Path, store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    apply(capsys, repo, "a")
    monkeypatch.delenv("LLMFORM_AUDIT_KEY")
    before = snapshot(store_url)
    (repo / "llmform.yaml").write_text(STATE.format(team="b"))
    code, out, err = run(capsys, "apply", "--auto-approve", "llmform.yaml")
    assert code == 1
    assert "the audit trail is sealed with a local LLMFORM_AUDIT_KEY (key id " in err
    assert "up to event 3, and no audit key is set; set LLMFORM_AUDIT_KEY to that key" in err
    assert snapshot(store_url) == before
    # Another key is a rotation: allowed, and --verify with it covers the events from there.
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", "rotated-" + KEY)
    apply(capsys, repo, "b")
    code, out, _ = run(capsys, "audit", "--verify")
    assert code == 0 and "Events 4-6: sealed with LLMFORM_AUDIT_KEY, verified" in out
    assert "Events 1-3: sealed with a local LLMFORM_AUDIT_KEY (key id " in out


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"LLMFORM_AUDIT_KEY": "short-" + "x" * 25},
            "LLMFORM_AUDIT_KEY is 31 characters long; it must be at least 32",
        ),
        (
            {"LLMFORM_AUDIT_KEY": KEY, "LLMFORM_AUDIT_TRANSIT_KEY": "audit"},
            "set LLMFORM_AUDIT_KEY or LLMFORM_AUDIT_TRANSIT_KEY, not both",
        ),
    ],
)
@pytest.mark.parametrize(
    "command", [["apply", "--auto-approve", "llmform.yaml"], ["audit", "--verify"]]
)
def test_a_bad_audit_key_is_refused_before_the_store_is_touched(
    repo: Path,
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    message: str,
    command: list[str],
) -> None:
    apply(capsys, repo, "a")
    before = snapshot(store_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (repo / "llmform.yaml").write_text(STATE.format(team="b"))
    code, out, err = run(capsys, *command)
    assert code == 1 and message in err
    assert env["LLMFORM_AUDIT_KEY"] not in out + err
    assert snapshot(store_url) == before


def test_what_a_rotated_key_covers_is_said_exactly(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain events right before the first keyed one are sealed in turn by it; events sealed
    with a key not at hand cut that cover, and what they cannot vouch for is said so."""
    apply(capsys, repo, "a")  # events 1-3, plain
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", "old-" + KEY)
    apply(capsys, repo, "b")  # events 4-6, the old key
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    apply(capsys, repo, "c")  # events 7-9, the new key
    with connect() as conn:  # an edit of the plain history, relinked past the old key
        conn.rows("UPDATE audit_events SET actor = 'ci:mallory' WHERE seq = 2")
        rehash(conn, 1, end=3)
        new_3 = conn.one("SELECT hash FROM audit_events WHERE seq = 3")
        conn.rows("UPDATE audit_events SET prev_hash = ? WHERE seq = 4", (new_3,))
    code, out, _ = run(capsys, "audit", "--verify")
    assert code == 0  # as reported: neither key at hand vouches for events 1-6
    assert out.splitlines()[1:4] == [
        "Events 1-3: not covered by the key (written before it was set, and followed by events "
        "it cannot check): plain hashes, only consistent with each other.",
        "Events 4-6: sealed with a local LLMFORM_AUDIT_KEY (key id "
        f"{out.split('key id ')[1][:12]}), not at hand: not checked.",
        "Events 7-9: sealed with LLMFORM_AUDIT_KEY, verified with it: not edited.",
    ]
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", "old-" + KEY)  # the old key sees the relinking
    code, _, err = run(capsys, "audit", "--verify")
    assert code == 1 and "audit chain broken at event 4: its content does not match its seal" in err


def test_destroy_seals_like_apply_and_prints_the_head(
    repo: Path, store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    apply(capsys, repo, "a")
    monkeypatch.delenv("LLMFORM_AUDIT_KEY")
    before = snapshot(store_url)
    code, _, err = run(capsys, "destroy", "--auto-approve")
    assert code == 1 and "no audit key is set; set LLMFORM_AUDIT_KEY to that key" in err
    assert snapshot(store_url) == before
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    code, out, err = run(capsys, "destroy", "--auto-approve", "--audit-file", "audit.jsonl")
    assert code == 0, err
    head = re.findall(r"^Audit chain head: (\S+)$", out, re.MULTILINE)
    assert len(head) == 1 and head[0].startswith("6:hmac-sha256:")
    code, out, _ = run(
        capsys, "audit", "--verify", "--head", head[0], "--audit-file", "audit.jsonl"
    )
    assert code == 0 and "Events 1-6: sealed with LLMFORM_AUDIT_KEY, verified with it" in out
