"""Issue 9, item 7: an audit trail that cannot be rewritten unnoticed, tested from the issue's
words. The chain is keyed (LLMFORM_AUDIT_KEY or Vault Transit), each apply prints its head,
`audit --verify` checks against a known head (--head) or a copy (--audit-file), so that
truncation is caught, and what is hashed is exactly what is stored.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from baoserver import BaoServer, unique
from independent_kit import (
    BASE_STATE,
    Cli,
    Result,
    applied,
    make_cli,
    snapshot,
    sql,
    url,
    write,
)

KEY = secrets.token_urlsafe(32)
HEAD = re.compile(r"^Audit chain head: (\d+):(\S+)$")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return make_cli(tmp_path, monkeypatch, capsys)


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    return KEY


def head_of(result: Result) -> tuple[int, str]:
    last = result.out.rstrip("\n").splitlines()[-1]
    match = HEAD.match(last)
    assert match, f"stdout does not end with the chain head: {result.out!r}"
    return int(match.group(1)), match.group(2)


class Trail:
    """A store with two applies (two runs in the trail), as CI would leave it."""

    def __init__(self, cli: Cli, *extra: str) -> None:
        self.cli = cli
        self.db = cli.cwd / "stores" / "registry.db"
        self.store = url(self.db)
        self.extra = extra
        self.heads = [self.apply(BASE_STATE), self.apply(BASE_STATE.replace("production", "p2"))]

    def apply(self, state: str) -> tuple[int, str]:
        write(self.cli.cwd / "state" / "llmform.yaml", state)
        result = self.cli(
            "apply",
            "--auto-approve",
            "--no-validate-keys",
            *self.extra,
            "--store",
            self.store,
            "state",
        )
        assert result.code == 0, result.both
        return head_of(result)

    def verify(self, *extra: str) -> Result:
        return self.cli("audit", "--verify", *extra, "--store", self.store)

    def last_run(self) -> str:
        rows = sql(self.db, "SELECT run_id FROM audit_events ORDER BY seq DESC LIMIT 1")
        return str(rows[0][0])

    def drop_last_run(self, rewind_serial: bool) -> None:
        sql(self.db, "DELETE FROM audit_events WHERE run_id = ?", self.last_run())
        if rewind_serial:
            sql(self.db, "UPDATE meta SET value = CAST(value AS INTEGER) - 1 WHERE key = 'serial'")


# -- the head after each apply -------------------------------------------------------------------


@pytest.mark.parametrize(("with_key", "prefix"), [(True, "hmac-sha256:"), (False, "sha256:")])
def test_apply_ends_with_the_chain_head(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, with_key: bool, prefix: str
) -> None:
    if with_key:
        monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    trail = Trail(cli)
    seq, hash_ = trail.heads[-1]
    assert hash_.startswith(prefix)
    assert sql(trail.db, "SELECT MAX(seq) FROM audit_events") == [(seq,)]
    assert sql(trail.db, "SELECT hash FROM audit_events WHERE seq = ?", seq) == [(hash_,)]


def test_the_head_is_printed_also_when_nothing_changed(cli: Cli, keyed: str) -> None:
    trail = Trail(cli)
    again = trail.apply(BASE_STATE.replace("production", "p2"))
    assert again[0] >= trail.heads[-1][0]


def test_destroy_and_a_saved_plan_print_the_head_too(cli: Cli, keyed: str) -> None:
    trail = Trail(cli)
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE.replace("production", "p3"))
    saved = cli("plan", "--no-validate-keys", "-o", "p.plan", "--store", trail.store, "state")
    assert saved.code == 0, saved.both
    applied = cli("apply", "--no-validate-keys", "--store", trail.store, "p.plan")
    assert applied.code == 0, applied.both
    assert head_of(applied)[1].startswith("hmac-sha256:")
    destroyed = cli("destroy", "--auto-approve", "--store", trail.store)
    assert destroyed.code == 0, destroyed.both
    assert head_of(destroyed)[1].startswith("hmac-sha256:")


def test_the_key_is_in_no_output_and_not_in_the_store(cli: Cli, keyed: str) -> None:
    trail = Trail(cli)
    outputs = [
        trail.verify(),
        cli("audit", "--store", trail.store),
        cli("audit", "--json", "--store", trail.store),
        cli("export", "--store", trail.store),
    ]
    for result in outputs:
        assert result.code == 0, result.both
        assert KEY not in result.both
    assert KEY.encode() not in trail.db.read_bytes()


# -- --verify ------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_key", [True, False])
def test_an_intact_trail_verifies(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, with_key: bool
) -> None:
    if with_key:
        monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    trail = Trail(cli)
    result = trail.verify()
    assert result.code == 0, result.both
    if not with_key:
        assert "key" in result.both.lower()  # says what a check without a key proves


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE audit_events SET actor = 'ci:someone-else' WHERE seq = 2",
        "UPDATE audit_events SET address = 'workspace.other' WHERE seq = 3",
        "UPDATE audit_events SET result = 'failed' WHERE seq = (SELECT MAX(seq) FROM audit_events)",
        "DELETE FROM audit_events WHERE seq = 3",
        "UPDATE audit_events SET seq = seq + 100 WHERE seq = 2",
    ],
    ids=["actor", "address", "last-result", "removed-event", "moved-event"],
)
@pytest.mark.parametrize("with_key", [True, False])
def test_an_edited_trail_fails(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, edit: str, with_key: bool
) -> None:
    if with_key:
        monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    trail = Trail(cli)
    sql(trail.db, edit)
    result = trail.verify()
    assert result.code == 1, result.both


def test_the_last_run_removed_is_caught(cli: Cli, keyed: str) -> None:
    trail = Trail(cli)
    trail.drop_last_run(rewind_serial=False)
    assert trail.verify().code == 1


def test_every_event_removed_is_caught(cli: Cli, keyed: str) -> None:
    trail = Trail(cli)
    sql(trail.db, "DELETE FROM audit_events")
    result = trail.verify()
    assert result.code == 1, result.both


def test_a_head_kept_elsewhere_catches_truncation_with_the_serial_rewound(
    cli: Cli, keyed: str
) -> None:
    trail = Trail(cli)
    seq, hash_ = trail.heads[-1]
    assert trail.verify("--head", f"{seq}:{hash_}").code == 0
    trail.drop_last_run(rewind_serial=True)
    result = trail.verify("--head", f"{seq}:{hash_}")
    assert result.code == 1, result.both
    assert str(seq) in result.both


@pytest.mark.parametrize("which", ["wrong-hash", "other-seq"])
def test_a_head_that_does_not_match_fails(cli: Cli, keyed: str, which: str) -> None:
    trail = Trail(cli)
    seq, hash_ = trail.heads[-1]
    head = f"{seq}:{hash_[:-4]}0000" if which == "wrong-hash" else f"{seq - 1}:{hash_}"
    assert trail.verify("--head", head).code == 1


def test_an_earlier_head_still_verifies(cli: Cli, keyed: str) -> None:
    trail = Trail(cli)
    seq, hash_ = trail.heads[0]
    assert trail.verify("--head", f"{seq}:{hash_}").code == 0


@pytest.mark.parametrize("head", ["nonsense", "12", ":abc", "-1:sha256:00", "1:"])
def test_a_malformed_head_is_a_clear_error(cli: Cli, keyed: str, head: str) -> None:
    trail = Trail(cli)
    result = trail.verify("--head", head)
    assert result.code in (1, 2), result.both
    assert result.err.strip()


def test_an_audit_file_copy_catches_truncation(cli: Cli, keyed: str) -> None:
    copy = cli.cwd / "audit.jsonl"
    trail = Trail(cli, "--audit-file", str(copy))
    assert copy.stat().st_mode & 0o777 == 0o600
    assert trail.verify("--audit-file", str(copy)).code == 0
    trail.drop_last_run(rewind_serial=True)
    result = trail.verify("--audit-file", str(copy))
    assert result.code == 1, result.both


def test_an_edited_event_is_caught_against_the_copy(cli: Cli) -> None:
    """Without a key, too: the copy outside the store holds the original."""
    copy = cli.cwd / "audit.jsonl"
    trail = Trail(cli, "--audit-file", str(copy))
    sql(trail.db, "UPDATE audit_events SET actor = 'ci:someone-else' WHERE seq = 2")
    assert trail.verify("--audit-file", str(copy)).code == 1


def test_a_missing_audit_file_is_a_clear_error(cli: Cli, keyed: str) -> None:
    trail = Trail(cli)
    result = trail.verify("--audit-file", "nope.jsonl")
    assert result.code == 1, result.both
    assert "nope.jsonl" in result.err


def test_another_key_does_not_verify(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    trail = Trail(cli)
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", secrets.token_urlsafe(32))
    assert trail.verify().code == 1


def test_a_trail_copied_into_another_store_does_not_verify(cli: Cli, keyed: str) -> None:
    trail = Trail(cli)
    other_db = cli.cwd / "stores" / "other.db"
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE)
    assert (
        cli("apply", "--auto-approve", "--no-validate-keys", "--store", url(other_db), "state").code
        == 0
    )
    assert (
        cli("apply", "--auto-approve", "--no-validate-keys", "--store", url(other_db), "state").code
        == 0
    )
    sql(other_db, "DELETE FROM audit_events")
    rows = sql(trail.db, "SELECT * FROM audit_events ORDER BY seq")
    marks = ",".join("?" * len(rows[0]))
    for row in rows:
        sql(other_db, f"INSERT INTO audit_events VALUES ({marks})", *row)
    sql(other_db, "UPDATE meta SET value = '2' WHERE key = 'serial'")
    result = cli("audit", "--verify", "--store", url(other_db))
    assert result.code == 1, result.both


# -- hash exactly what is stored -------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE audit_events SET run_id = 5 WHERE seq = 2",
        "UPDATE audit_events SET fields = CAST(fields AS BLOB) WHERE seq = 2",
        "UPDATE audit_events SET git_commit = '' WHERE seq = 2",
        "UPDATE audit_events SET actor = actor || ' ' WHERE seq = 2",
    ],
    ids=["integer-run-id", "blob-fields", "empty-not-null", "trailing-space"],
)
def test_a_value_changed_in_type_or_form_is_a_break_not_a_crash(
    cli: Cli, keyed: str, edit: str
) -> None:
    trail = Trail(cli)
    sql(trail.db, edit)
    result = trail.verify()
    assert result.code == 1, result.both
    listing = cli("audit", "--store", trail.store)
    assert listing.code == 0, listing.both
    as_json = cli("audit", "--json", "--store", trail.store)
    assert as_json.code == 0, as_json.both
    for line in as_json.out.splitlines():
        json.loads(line)


def test_a_later_apply_after_a_damaged_event_still_works(cli: Cli, keyed: str) -> None:
    """A non-string field must not break every later apply: the next one chains on."""
    trail = Trail(cli)
    sql(trail.db, "UPDATE audit_events SET run_id = 5 WHERE seq = 2")
    trail.apply(BASE_STATE.replace("production", "p4"))
    assert trail.verify().code == 1  # the damage is still reported where it is


# -- the key itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LLMFORM_AUDIT_KEY", "short"),
        ("LLMFORM_AUDIT_KEY", "x" * 31),
        ("LLMFORM_AUDIT_KEY", " " * 40),
        ("LLMFORM_AUDIT_KEY", "\n"),
        ("LLMFORM_AUDIT_TRANSIT_KEY", "  "),
    ],
    ids=["short", "31-characters", "blanks", "newline", "transit-blanks"],
)
def test_a_key_too_weak_is_refused_without_writing(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """Set, but not a key: refused, never a chain quietly left unkeyed."""
    applied_store, _ = applied(cli)
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE)
    monkeypatch.setenv(name, value)
    before = snapshot(cli.cwd)
    result = cli(
        "apply", "--auto-approve", "--no-validate-keys", "--store", "sqlite:///r.db", "state"
    )
    assert result.code == 1, result.both
    assert name in result.err
    if value.strip():
        assert value not in result.both
    assert snapshot(cli.cwd) == before
    verify = cli("audit", "--verify", "--store", applied_store)
    assert verify.code == 1, verify.both
    assert name in verify.err


def test_an_empty_key_variable_counts_as_unset(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """CI expands a secret that does not exist to an empty string."""
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", "")
    trail = Trail(cli)
    assert trail.heads[-1][1].startswith("sha256:")
    assert trail.verify().code == 0


def test_without_the_key_apply_refuses_a_keyed_trail(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", KEY)
    trail = Trail(cli)
    monkeypatch.delenv("LLMFORM_AUDIT_KEY")
    before = snapshot(cli.cwd / "stores")
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE.replace("production", "p9"))
    result = cli("apply", "--auto-approve", "--no-validate-keys", "--store", trail.store, "state")
    assert result.code == 1, result.both
    assert "LLMFORM_AUDIT_KEY" in result.err or "key" in result.err
    assert snapshot(cli.cwd / "stores") == before


# -- Vault Transit -------------------------------------------------------------------------------


@pytest.fixture
def transit(bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    mount = unique("transit")
    key = unique("audit")
    root = bao.root()
    root.sys.enable_secrets_engine("transit", path=mount)
    root.secrets.transit.create_key(name=key, mount_point=mount)
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    monkeypatch.setenv("VAULT_TOKEN", "root")
    monkeypatch.setenv("LLMFORM_TRANSIT_MOUNT", mount)
    monkeypatch.setenv("LLMFORM_AUDIT_TRANSIT_KEY", key)
    yield key


def test_a_transit_keyed_chain_verifies_and_catches_edits(
    cli: Cli, bao: BaoServer, transit: str
) -> None:
    trail = Trail(cli)
    seq, hash_ = trail.heads[-1]
    assert hash_.startswith("transit:"), hash_
    assert trail.verify().code == 0
    assert trail.verify("--head", f"{seq}:{hash_}").code == 0
    sql(trail.db, "UPDATE audit_events SET actor = 'ci:someone-else' WHERE seq = 2")
    assert trail.verify().code == 1
