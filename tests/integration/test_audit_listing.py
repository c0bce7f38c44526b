"""``llmform audit``'s filters and what it says when nothing is listed (issue 9, item 20; the
header row and the run id are in test_audit_actor.py): ``--since`` compares times, not text,
and refuses what is not a time. Through the CLI, on each store (``store_url``)."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pytest
from support.stores import OFFLINE, cli, write_state


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    for name in ("LLMFORM_AUDIT_KEY", "LLMFORM_AUDIT_TRANSIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    write_state(tmp_path)
    return tmp_path


def applied(capsys: pytest.CaptureFixture[str], repo: Path, description: str) -> None:
    write_state(repo, description)
    code, out, err = cli(capsys, "apply", OFFLINE, "--auto-approve", "llmform.yaml")
    assert code == 0, out + err


def events(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    code, out, err = cli(capsys, "audit", "--json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize(
    "args",
    [["--since", "2000-01-01"], ["--since", "2000-01-01T00:00:00Z"], ["-w", "prod"], []],
    ids=str,
)
def test_filters_that_keep_events(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    applied(capsys, repo, "first")
    listed = events(capsys, *args)
    assert listed
    if "-w" in args:
        assert {e["address"] for e in listed} == {"workspace.prod", "config.prod/local"}


@pytest.mark.parametrize(
    "since",
    [
        "2999-01-01",
        "2999-01-01T00:00:00+00:00",
        "2999-01-01 00:00",
        # an hour from now, written in a zone 14 hours behind UTC: later than every event,
        # although as text it sorts before them
        "SOON",
    ],
)
def test_since_compares_times_not_text(
    repo: Path, capsys: pytest.CaptureFixture[str], since: str
) -> None:
    from datetime import datetime, timedelta, timezone

    applied(capsys, repo, "first")
    if since == "SOON":
        zone = timezone(timedelta(hours=-14))
        since = (datetime.now(UTC) + timedelta(hours=1)).astimezone(zone).isoformat()
    assert events(capsys, "--since", since) == []
    # an hour ago, written in a zone 14 hours ahead: earlier than every event, although as
    # text it sorts after them
    zone = timezone(timedelta(hours=14))
    earlier = (datetime.now(UTC) - timedelta(hours=1)).astimezone(zone).isoformat()
    assert len(events(capsys, "--since", earlier)) == 5


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01", "01/02/2026", ""])
def test_a_since_that_is_not_a_time_is_an_error(
    repo: Path, capsys: pytest.CaptureFixture[str], since: str
) -> None:
    applied(capsys, repo, "first")
    for args in (["audit"], ["audit", "--json"]):
        code, out, err = cli(capsys, *args, "--since", since)
        assert (code, out) == (1, "")
        assert f"--since {since!r} is not an ISO 8601 time" in err
        assert "2026-01-31" in err  # an example of what to write


def test_nothing_to_list_is_said(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "init")[0] == 0
    # said on stderr: stdout stays empty for a script that reads the table
    assert cli(capsys, "audit") == (0, "", "No audit events: nothing was applied to this store.\n")
    assert cli(capsys, "audit", "--json") == (0, "", "")  # JSON Lines: no line
    applied(capsys, repo, "first")
    assert cli(capsys, "audit", "-w", "staging") == (
        0,
        "",
        "No audit event matches the filters (5 events in the store).\n",
    )
