"""What only the PostgreSQL store has, against the real test server: its password never shown,
read-only roles, TLS and connection errors, the advisory lock, concurrent applies in separate
processes and an apply killed mid-transaction. What both stores share runs on both
(``store_url``, e.g. test_cli_plan_apply.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from support.postgres import LOGIN_ROLE, PostgresServer
from support.store_db import serial, snapshot, store_db
from support.stores import OFFLINE, cli, write_state

from llmform.state.sql.postgres_lock import APPLY_LOCK_KEY

READER = "llmform_reader"
READER_PASSWORD = "reader-CANARY-pw"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    # only what the URL says: nothing from the developer's PG* variables or ~/.pgpass
    for name in ("PGPASSWORD", "PGUSER", "PGHOST", "PGPORT", "PGDATABASE", "PGSSLMODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    write_state(tmp_path)
    return tmp_path


def leaks(text: str, password: str) -> bool:
    return any(form in text for form in {password, quote(password, safe=""), quote(password)})


def test_the_password_is_never_shown(
    here: Path, postgres: PostgresServer, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The login role's password (with URL delimiters in it) appears in no output, saved
    plan, audit event, lock row nor error, whatever the command."""
    store = ["--store", postgres_url]
    outputs = [
        cli(capsys, "plan", OFFLINE, *store),
        cli(capsys, "init", *store),
        cli(capsys, "init", *store),
        cli(capsys, "plan", OFFLINE, "-o", "p.plan", *store),
        cli(capsys, "show", "p.plan", *store),
        cli(capsys, "apply", OFFLINE, "--auto-approve", "p.plan", *store),
        cli(capsys, "audit", *store),
        cli(capsys, "audit", "--verify", *store),
        cli(capsys, "export", *store),
        cli(capsys, "force-unlock", "0123456789ab", *store),
        cli(capsys, "apply", OFFLINE, "--auto-approve", "p.plan", *store),  # stale
        cli(capsys, "plan", OFFLINE, "--store", postgres_url.replace("/test_", "/nope_")),
        cli(capsys, "destroy", "--auto-approve", *store),
    ]
    shown = postgres_url.replace(":" + quote(postgres.password, safe=""), "")
    assert shown != postgres_url and f"@127.0.0.1:{postgres.port}/" in shown
    assert any(shown in out + err for _, out, err in outputs)
    for _, out, err in outputs:
        assert not leaks(out + err, postgres.password), out + err
    assert "p.plan" in os.listdir(here)
    assert not leaks((here / "p.plan").read_text(), postgres.password)
    with store_db(postgres_url) as db:
        for table in ("meta", "audit_events", "locks"):
            assert not leaks(repr(db.rows(f"SELECT * FROM {table}")), postgres.password)
    wrong = postgres.url(postgres_url.rsplit("/", 1)[1], LOGIN_ROLE, "wrong-CANARY@:/pw")
    code, out, err = cli(capsys, "export", "--store", wrong)
    assert code == 1 and not leaks(out + err, "wrong-CANARY@:/pw")
    assert f"127.0.0.1:{postgres.port}/" in err and "password authentication failed" in err


def _reader(postgres: PostgresServer, database: str) -> str:
    """A role that may only read the registry's tables: what a plan-only CI job gets."""
    with postgres.admin() as admin:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER,)).fetchone()
        if not exists:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(READER), sql.Literal(READER_PASSWORD)
                )
            )
    with postgres.admin(database) as admin:
        admin.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(
                sql.Identifier(READER)
            )
        )
    return postgres.url(database, READER, READER_PASSWORD)


def test_a_read_only_role_plans_exports_and_audits(
    here: Path, postgres: PostgresServer, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    reader = _reader(postgres, database)
    # no registry yet: plans the creates, writes nothing (it could not)
    code, out, _ = cli(capsys, "plan", OFFLINE, "--detailed-exitcode", "--store", reader)
    assert code == 2 and "Plan: 3 to add" in out
    assert snapshot(postgres_url) == {}
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", postgres_url)[0] == 0
    reader = _reader(postgres, database)  # the tables exist now
    before = snapshot(postgres_url)
    code, out, _ = cli(capsys, "plan", OFFLINE, "--detailed-exitcode", "--store", reader)
    assert code == 0 and "No changes." in out
    code, out, _ = cli(capsys, "export", "--store", reader)
    assert code == 0 and "name: prod" in out
    assert cli(capsys, "audit", "--verify", "--store", reader)[0] == 0
    assert cli(capsys, "plan", OFFLINE, "-o", "p.plan", "--store", reader)[0] == 0
    assert cli(capsys, "show", "p.plan", "--store", reader)[0] == 0
    assert snapshot(postgres_url) == before
    # and it cannot apply: the server says why, nothing changes
    write_state(here, "second")
    code, _, err = cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", reader)
    assert code == 1 and "permission denied" in err, err
    assert snapshot(postgres_url) == before


def test_plans_do_not_wait_on_an_apply_holding_the_lock(
    here: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", postgres_url)[0] == 0
    with psycopg.connect(postgres_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (APPLY_LOCK_KEY,))
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT value FROM meta WHERE key = 'serial' FOR UPDATE")
        started = time.monotonic()
        code, _out, _ = cli(capsys, "plan", OFFLINE, "--detailed-exitcode", "--store", postgres_url)
        assert (code, time.monotonic() - started < 5) == (0, True)
        holder.execute("ROLLBACK")


def test_sslmode_require_against_a_server_without_tls_is_a_clear_error(
    here: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = cli(capsys, "plan", OFFLINE, "--store", postgres_url + "?sslmode=require")
    assert code == 1
    assert err.count("\n") == 1, err
    assert "the server does not accept TLS, and the URL requires it (sslmode)" in err
    assert "?sslmode=require" in err  # the URL as shown keeps its TLS options


def test_a_missing_database_is_a_clear_error(
    here: Path, postgres: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres.url("no_such_db")
    for command in (["plan", OFFLINE], ["apply", OFFLINE, "--auto-approve"], ["init"]):
        code, _, err = cli(capsys, *command, "--store", url)
        assert code == 1
        assert (
            f"the database no_such_db does not exist on 127.0.0.1:{postgres.port}; llmform "
            "creates its tables in an existing database but never the database itself: ask its "
            f"administrator to create it (CREATE DATABASE no_such_db OWNER {LOGIN_ROLE})"
        ) in err


def test_a_newer_registry_is_refused(
    here: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "init", "--store", postgres_url)[0] == 0
    with store_db(postgres_url) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    for command in (["plan", OFFLINE], ["apply", OFFLINE, "--auto-approve"], ["export"]):
        code, _, err = cli(capsys, *command, "--store", postgres_url)
        assert code == 1
        assert "has schema version 99, newer than this llmform knows (4); upgrade llmform" in err


def test_a_live_holder_is_named_and_waited_for(
    here: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "init", "--store", postgres_url)[0] == 0
    with psycopg.connect(postgres_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (APPLY_LOCK_KEY,))
        holder.execute(
            "INSERT INTO locks VALUES ('apply', 'abc123', 'ci@elsewhere', 1, 'apply', '2026-01-01')"
        )
        started = time.monotonic()
        code, _, err = cli(
            capsys,
            "apply",
            OFFLINE,
            "--auto-approve",
            "--lock-timeout",
            "0.5",
            "--store",
            postgres_url,
        )
        assert code == 1 and 0.5 <= time.monotonic() - started < 5
        assert "locked by ci@elsewhere (pid 1)" in err and "force-unlock abc123" in err
        # force-unlock clears the row, ends no session, and says the lock is still held
        code, _, err = cli(capsys, "force-unlock", "abc123", "--store", postgres_url)
        assert code == 1
        assert "cleared the lock row abc123 of ci@elsewhere (pid 1)" in err
        assert f"pg_terminate_backend({holder.info.backend_pid})" in err
        with store_db(postgres_url) as db:
            assert db.rows("SELECT * FROM locks") == []
    # the holder's session has ended: its lock went with it
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", postgres_url)[0] == 0


def test_a_dead_holders_row_is_taken_over_or_force_unlocked(
    here: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "init", "--store", postgres_url)[0] == 0
    row = "INSERT INTO locks VALUES ('apply', 'dead01', 'ci@gone', 1, 'apply', '2026-01-01')"
    with store_db(postgres_url) as db:
        db.execute(row)
    code, out, err = cli(capsys, "force-unlock", "dead01", "--store", postgres_url)
    assert code == 0, err
    assert "Released lock dead01 held by ci@gone (pid 1) since 2026-01-01." in out
    with store_db(postgres_url) as db:
        db.execute(row)
    code, _, err = cli(
        capsys, "apply", OFFLINE, "--auto-approve", "--lock-timeout", "0", "--store", postgres_url
    )
    assert code == 0, err
    assert "took over the lock left by ci@gone (pid 1) since 2026-01-01 (lock dead01" in err
    with store_db(postgres_url) as db:
        assert db.rows("SELECT * FROM locks") == []


def _apply_process(here: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmform.cli",
            "--no-color",
            "apply",
            OFFLINE,
            "--auto-approve",
            "--lock-timeout",
            "60",
            "--store",
            url,
            *args,
        ],
        cwd=here,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


TWO_WORKSPACES = """\
apiVersion: llmform/v1
workspaces:
  - name: a
    description: A
  - name: b
    description: B
"""


def test_concurrent_applies_serialise(
    here: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "llmform.yaml").write_text(TWO_WORKSPACES)
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", postgres_url)[0] == 0
    (here / "llmform.yaml").write_text(TWO_WORKSPACES.replace("A\n", "A2\n").replace("B\n", "B2\n"))
    runs = [_apply_process(here, postgres_url, "-w", name) for name in ("a", "b")]
    results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
    for code, out, err in results:
        assert code == 0, out + err
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in out
    assert serial(postgres_url) == 3
    with store_db(postgres_url) as db:
        assert db.rows("SELECT name, description FROM workspaces ORDER BY name") == [
            ("a", "A2"),
            ("b", "B2"),
        ]
        assert db.rows("SELECT * FROM locks") == []
    assert cli(capsys, "audit", "--verify", "--store", postgres_url)[0] == 0


@contextmanager
def _apply_stopped_mid_transaction(
    here: Path, postgres: PostgresServer, url: str
) -> Iterator[subprocess.Popen[str]]:
    """An apply process that has written its changes and waits, inside its transaction, to
    append its audit events (another session holds that table until the block ends)."""
    database = url.rsplit("/", 1)[1]
    blocker = psycopg.connect(url, autocommit=True)
    try:
        blocker.execute("BEGIN")
        blocker.execute("LOCK TABLE audit_events IN EXCLUSIVE MODE")
        run = _apply_process(here, url)
        deadline = time.monotonic() + 60
        with postgres.admin() as admin:
            while not admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type ="
                " 'Lock' AND application_name = 'llmform'",
                (database,),
            ).fetchall():
                assert time.monotonic() < deadline, run.communicate()
                time.sleep(0.05)
        yield run
    finally:
        blocker.close()  # its transaction rolled back, if the server still runs


@pytest.mark.parametrize("fault", ["kill", "restart"])
def test_an_apply_cut_off_mid_transaction_changes_nothing_and_the_next_takes_over(
    here: Path,
    postgres: PostgresServer,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    """The apply SIGKILLed, or the server restarted (fast shutdown: every session ended, its
    transaction rolled back), while the apply is inside its transaction."""
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", postgres_url)[0] == 0
    write_state(here, "second")
    before = snapshot(postgres_url)
    assert isinstance(before, dict)
    with _apply_stopped_mid_transaction(here, postgres, postgres_url) as run:
        if fault == "kill":
            run.kill()
        else:
            postgres.restart()
    code, out, err = run.wait(timeout=60), *run.communicate()
    if fault == "kill":
        assert code == -signal.SIGKILL
    else:  # the run saw it and says so
        assert code == 1 and "Traceback" not in out + err, out + err
        assert "apply failed and was rolled back, nothing changed" in err, err
        assert "was lost" in err, err
    after = snapshot(postgres_url)
    assert isinstance(after, dict)
    # as it was, but for the cut-off run's lock row, which the next run takes over
    assert {**after, "locks": []} == {**before, "locks": []}
    (left,) = after["locks"]
    # the server ends the dead client's session, and its advisory lock with it
    with psycopg.connect(postgres_url, autocommit=True) as probe:
        deadline = time.monotonic() + 20
        while not probe.execute("SELECT pg_try_advisory_lock(%s)", (APPLY_LOCK_KEY,)).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the cut-off apply's lock was never freed"
            time.sleep(0.1)
        probe.execute("SELECT pg_advisory_unlock(%s)", (APPLY_LOCK_KEY,))
    code, out, err = cli(
        capsys, "apply", OFFLINE, "--auto-approve", "--lock-timeout", "0", "--store", postgres_url
    )
    assert code == 0, err
    assert "1 changed" in out
    assert "took over the lock left by" in err and "its session ended" in err, err
    assert "landed whole or not at all" in err, err
    assert left.split(", ")[1].strip("'") in err  # the lock id of the run that was cut off
    assert serial(postgres_url) == 2
    assert cli(capsys, "audit", "--verify", "--store", postgres_url)[0] == 0
    with store_db(postgres_url) as db:
        assert db.rows("SELECT * FROM locks") == []
