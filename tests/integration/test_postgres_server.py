"""The PostgreSQL test server itself (tests/support/postgres.py): what issue 11's tests will stand
on. Password logins over TCP, isolated databases, a restart that keeps the data, the backends'
pids, and the property the apply lock will be built on: the server releases a session's
advisory lock when the client holding it is killed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from support.postgres import (
    BINDIR_ENV,
    LOGIN_ROLE,
    PostgresServer,
    PostgresStartError,
    server_binaries,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_login_role_logs_in_over_tcp_with_its_password(
    postgres: PostgresServer, postgres_url: str
) -> None:
    assert postgres_url.startswith(f"postgresql://{LOGIN_ROLE}:")
    assert f"@127.0.0.1:{postgres.port}/test_" in postgres_url
    with psycopg.connect(postgres_url) as conn:
        user, address, version = conn.execute(
            "SELECT current_user, host(inet_server_addr()), current_setting('server_version_num')"
        ).fetchone()  # type: ignore[misc]
        assert (user, address) == (LOGIN_ROLE, "127.0.0.1")
        assert int(version) // 10000 >= 15
        assert conn.execute("SHOW is_superuser").fetchone() == ("off",)
    with postgres.admin() as admin:
        methods = admin.execute(
            "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'"
        ).fetchall()
        stored = admin.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (LOGIN_ROLE,)
        ).fetchone()
    assert methods == [("scram-sha-256",)]
    assert stored is not None and stored[0].startswith("SCRAM-SHA-256$")


def test_the_password_needs_its_url_encoding(postgres: PostgresServer) -> None:
    """The login role's password has URL delimiters in it: a URL builder that forgets to
    percent-encode it makes a URL that does not log in."""
    assert {"@", ":", "/", "%"} <= set(postgres.password)
    with psycopg.connect(postgres.url("postgres")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_wrong_or_missing_password_is_refused(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # libpq would otherwise take a password from the environment or ~/.pgpass
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.url("postgres", LOGIN_ROLE, postgres.password + "x"))
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(postgres.url("postgres", LOGIN_ROLE))


def test_fresh_databases_are_isolated(postgres: PostgresServer) -> None:
    first, second = postgres.create_database(), postgres.create_database()
    assert first != second
    with postgres.connect(first) as conn:
        conn.execute("CREATE TABLE meta (key text PRIMARY KEY, value text)")
        conn.execute("INSERT INTO meta VALUES ('serial', '7')")
    with postgres.connect(second) as conn:
        assert conn.execute("SELECT to_regclass('meta')").fetchone() == (None,)
        conn.execute("CREATE TABLE meta (key text PRIMARY KEY, value text)")  # its own
        assert conn.execute("SELECT count(*) FROM meta").fetchone() == (0,)
    with postgres.connect(first) as conn:
        assert conn.execute("SELECT value FROM meta").fetchall() == [("7",)]


def test_the_server_listens_on_loopback_only_and_runs_unprivileged(
    postgres: PostgresServer,
) -> None:
    with postgres.admin() as admin:
        listen, sockets = admin.execute(
            "SELECT current_setting('listen_addresses'), current_setting('unix_socket_directories')"
        ).fetchone()  # type: ignore[misc]
    assert listen == "127.0.0.1"
    socket_dir = os.stat(sockets)
    assert socket_dir.st_mode & 0o777 == 0o700  # no one but the server's user reaches it
    owner = os.stat(f"/proc/{postgres.postmaster_pid}").st_uid
    if os.geteuid() == 0:
        assert postgres.account is not None
        assert owner == socket_dir.st_uid == postgres.account.uid != 0
    else:
        assert owner == os.geteuid()


def test_a_restart_keeps_the_data_and_the_port_and_ends_the_sessions(
    postgres: PostgresServer, postgres_url: str
) -> None:
    before = (postgres.port, postgres.postmaster_pid)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE runs (serial int)")
        conn.execute("INSERT INTO runs VALUES (1)")
        postgres.restart()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    assert postgres.port == before[0] and postgres.postmaster_pid != before[1]
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT serial FROM runs").fetchall() == [(1,)]


HOLDER = """
import sys, psycopg
conn = psycopg.connect(sys.argv[1], application_name="lock-holder")
conn.execute("SELECT pg_advisory_lock(%s)", (int(sys.argv[2]),))  # session-level
conn.execute("INSERT INTO applied VALUES ('half an apply')")  # its transaction left open
print(conn.info.backend_pid, flush=True)
sys.stdin.read()  # hold both until killed
"""


def test_a_killed_clients_advisory_lock_is_released_and_its_transaction_rolled_back(
    postgres: PostgresServer, postgres_url: str
) -> None:
    """What issue 11's apply lock relies on: SIGKILL of the apply frees the lock (no stale
    lock row to force-unlock) and undoes its uncommitted writes."""
    key = 0x6C6C6D66  # any 64-bit number; the apply lock will pick its own
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE applied (what text)")
    # the holder's pipes are closed on leaving, and its stdin's end lets it exit if still alive
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, postgres_url, str(key)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        backend_pid = int(holder.stdout.readline())
        with psycopg.connect(postgres_url, autocommit=True) as other:
            assert other.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (False,)
            (backend,) = [b for b in postgres.backends() if b.pid == backend_pid]
            assert (backend.application_name, backend.role) == ("lock-holder", LOGIN_ROLE)
            assert backend.in_transaction and backend.state == "idle in transaction"
            holder.kill()
            holder.wait(timeout=10)
            started = time.monotonic()
            other.execute("SET lock_timeout = '5s'")
            other.execute("SELECT pg_advisory_lock(%s)", (key,))  # waits for the server
            assert time.monotonic() - started < 5
            assert other.execute("SELECT count(*) FROM applied").fetchone() == (0,)
            other.execute("SELECT pg_advisory_unlock(%s)", (key,))
    # the backend's entry may outlive its locks by a moment while it exits
    deadline = time.monotonic() + 5
    while backend_pid in [b.pid for b in postgres.backends()] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend_pid not in [b.pid for b in postgres.backends()]


def test_a_server_that_cannot_start_is_an_error_with_its_log(postgres: PostgresServer) -> None:
    """A second cluster on the first one's port: the error quotes the server's own words."""
    clash = PostgresServer(server_binaries(), postgres.account)
    try:
        clash.init()
        clash.port = postgres.port  # a port given is kept, not swapped for a free one
        with pytest.raises(PostgresStartError) as refused:
            clash.start(timeout=20)
    finally:
        clash.remove()
    message = str(refused.value)
    assert "pg_ctl start exited 1" in message
    assert 'could not bind IPv4 address "127.0.0.1": Address already in use' in message
    assert not clash.root.exists()


def test_the_fixture_fails_rather_than_skips_without_server_binaries(tmp_path: Path) -> None:
    """Run in a session of its own, a test asking for the server fails (an error at setup),
    saying why; nothing is skipped."""
    env = {**os.environ, BINDIR_ENV: str(tmp_path / "no-postgres")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
            f"{Path(__file__).relative_to(REPO)}::test_fresh_databases_are_isolated",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 error" in run.stdout and "skipped" not in run.stdout, run.stdout
    assert "the PostgreSQL test server did not start: no PostgreSQL server binaries" in run.stdout
    assert str(tmp_path / "no-postgres") in run.stdout
