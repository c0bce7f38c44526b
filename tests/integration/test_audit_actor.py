"""Who the audit trail and the lock name, and how the listing and lock messages print it: one
actor for both, whatever the environment (no $USER, a non-UTF-8 git email, a CI variable with a
newline or a terminal escape), stored as given and escaped wherever it is printed. On each store
(``store_url``), but for the lock row written behind llmform's back, which only SQLite takes
for a live holder (PostgreSQL's lock is the server's, and a row without its session is stale)."""

from __future__ import annotations

import json
import os
import pwd
import socket
from pathlib import Path

import pytest
from support.cli import run
from support.store_db import store_db

from llmform.state.actor import CI_ACTORS, CI_COMMITS
from llmform.targets import open_store

STATE = "apiVersion: llmform/v1\nworkspaces:\n  - name: {name}\n"
HOST = socket.gethostname()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Path:
    """No CI variables, no $USER, and a git that knows no user.email (an empty global config,
    no system config, no repository above)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    for name in (*CI_ACTORS, *CI_COMMITS, "USER", "LOGNAME", "USERNAME", "LNAME"):
        monkeypatch.delenv(name, raising=False)
    for name in ("LLMFORM_AUDIT_KEY", "LLMFORM_AUDIT_TRANSIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "gitconfig").write_bytes(b"")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    (tmp_path / "llmform.yaml").write_text(STATE.format(name="prod"))
    return tmp_path


def stored_actors(url: str) -> set[str]:
    with store_db(url) as db:
        return {row[0] for row in db.rows("SELECT actor FROM audit_events")}


def test_the_lock_names_the_same_actor_as_the_audit_trail_without_user(
    repo: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    actor = f"os:{pwd.getpwuid(os.getuid()).pw_name}"
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    assert stored_actors(store_url) == {actor}
    holder = open_store(store_url)
    try:
        with holder.lock("apply", 1) as mine:
            assert mine.holder == f"{actor}@{HOST}"
            (repo / "llmform.yaml").write_text(STATE.format(name="staging"))
            code, _, err = run(
                capsys, "apply", "--auto-approve", "--lock-timeout", "0.2", "llmform.yaml"
            )
    finally:
        holder.close()
    assert code == 1
    assert f"the store is locked by {actor}@{HOST} (pid {os.getpid()})" in err


@pytest.mark.parametrize(
    ("who", "actor"),
    [
        ("a CI variable", "ci:octo cat"),
        ("git's user.email", "git:dev@example.com"),
        ("a uid without a passwd entry", f"os:{os.getuid()}"),
    ],
)
def test_every_kind_of_actor_is_the_same_in_the_lock_message_and_the_trail(
    repo: Path,
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    who: str,
    actor: str,
) -> None:
    if who == "a CI variable":
        monkeypatch.setenv("GITLAB_USER_LOGIN", "  octo cat \n")  # kept, but for the blanks
    elif who == "git's user.email":
        (repo / "gitconfig").write_text("[user]\n\temail = dev@example.com\n")
    else:  # a bare container: no $USER, and no passwd entry for the uid

        def no_entry(uid: int) -> pwd.struct_passwd:
            raise KeyError(f"getpwuid(): uid not found: {uid}")

        monkeypatch.setattr(pwd, "getpwuid", no_entry)
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    assert stored_actors(store_url) == {actor}
    holder = open_store(store_url)
    try:
        with holder.lock("apply", 1):
            (repo / "llmform.yaml").write_text(STATE.format(name="staging"))
            code, _, err = run(capsys, "destroy", "--auto-approve", "--lock-timeout", "0.2")
    finally:
        holder.close()
    assert code == 1
    assert f"the store is locked by {actor}@{HOST} (pid {os.getpid()})" in err


def test_a_non_utf8_git_email_is_recorded_escaped(
    repo: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "gitconfig").write_bytes(b"[user]\n\temail = caf\xe9@example.com\n")
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    assert stored_actors(store_url) == {"git:caf\\xe9@example.com"}
    holder = open_store(store_url)
    try:
        with holder.lock("apply", 1) as mine:
            assert mine.holder == f"git:caf\\xe9@example.com@{HOST}"
    finally:
        holder.close()


def test_a_non_utf8_ci_actor_is_recorded_escaped(
    repo: Path, store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "caf\udce9")  # the byte 0xE9, as os.environ decodes it
    monkeypatch.setenv("GITHUB_SHA", "abc\udcff")
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    with store_db(store_url) as db:
        rows = set(db.rows("SELECT actor, git_commit FROM audit_events"))
    assert rows == {("ci:caf\\xe9", "abc\\xff")}
    assert run(capsys, "audit", "--verify")[0] == 0


HOSTILE = "evil\n    2 forged line\x1b[2J\x1b]0;title\x07\u202e"
ESCAPED = "evil\\x0a    2 forged line\\x1b[2J\\x1b]0;title\\x07\\u202e"


@pytest.mark.parametrize("variable", CI_ACTORS)
def test_ci_identity_is_stored_as_given_and_escaped_in_the_listing(
    repo: Path,
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, HOSTILE)
    monkeypatch.setenv("GITHUB_SHA", "\x1b[31m")
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    assert stored_actors(store_url) == {f"ci:{HOSTILE}"}
    code, out, _ = run(capsys, "audit")
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    lines = out.splitlines()
    assert len(lines) == 4  # the header and three events: no forged line
    assert all(f"ci:{ESCAPED}" in line for line in lines[1:])
    code, out, _ = run(capsys, "audit", "--json")
    assert "\x1b" not in out and len(out.splitlines()) == 3
    assert {json.loads(line)["actor"] for line in out.splitlines()} == {f"ci:{HOSTILE}"}


def test_the_listing_has_a_header_and_the_run_id(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    (repo / "llmform.yaml").write_text(STATE.format(name="prod") + "    description: d\n")
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    events = [json.loads(line) for line in run(capsys, "audit", "--json")[1].splitlines()]
    runs = [e["run_id"] for e in events]
    code, out, _ = run(capsys, "audit")
    assert code == 0
    header, *rows = out.splitlines()
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
    assert [row.split()[:6] for row in rows] == [
        [str(e["seq"]), e["time"], e["run_id"], "ci:octocat", e["action"], e["address"] or "-"]
        for e in events
    ]
    assert rows[4].split()[6:] == ["description", "ok"]
    assert len(set(runs)) == 2
    # Columns line up: every row starts each column where the header does.
    starts = [header.index(name) for name in ("TIME", "RUN", "ACTOR", "ACTION")]
    for row in rows:
        assert all(row[start - 2 : start] == "  " and row[start] != " " for start in starts)
    code, out, _ = run(capsys, "audit", "-w", "nowhere")
    assert (code, out) == (0, "")  # nothing matched: no lone header


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_lock_messages_and_force_unlock_escape_the_holder(
    repo: Path, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    with store_db(store_url) as db:
        db.execute(
            "INSERT INTO locks VALUES ('apply', 'id\x1b[2J', ?, 1, 'apply\x1b[1m', '2026\n-01')",
            (f"ci:{HOSTILE}@elsewhere",),
        )
    (repo / "llmform.yaml").write_text(STATE.format(name="staging"))  # a change takes the lock
    code, out, err = run(capsys, "apply", "--auto-approve", "--lock-timeout", "0.2", "llmform.yaml")
    assert code == 1
    assert f"the store is locked by ci:{ESCAPED}@elsewhere (pid 1) since 2026\\x0a-01" in err
    assert "(lock id\\x1b[2J, apply\\x1b[1m)" in err and "force-unlock id\\x1b[2J" in err
    assert "\x1b" not in out + err and "\u202e" not in out + err
    code, out, err = run(capsys, "force-unlock", "id\x1b[2J")
    assert code == 0
    assert (
        out
        == f"Released lock id\\x1b[2J held by ci:{ESCAPED}@elsewhere (pid 1) since 2026\\x0a-01.\n"
    )
