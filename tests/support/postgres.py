"""A real PostgreSQL server for tests, started from the installed server binaries.

One temporary cluster per test session (``initdb`` and a start take about two seconds), one
database per test (``CREATE DATABASE ... TEMPLATE``, a file copy). The server listens on a free
port of 127.0.0.1 only; its unix socket lies in the cluster's own 0700 folder, never in a
world-writable one.

``initdb`` and ``postgres`` refuse to run as root. As root, the server runs as the unprivileged
system user ``llmform-pg`` (created once with ``useradd``, reused afterwards): a user of its own
rather than Debian's ``postgres``, so that a test server cannot touch the machine's real
clusters. Its processes get that user's ids and groups only (none of root's), through
subprocess's ``user=``/``group=``/``extra_groups=``. Not as root, the server runs as the caller.

Tests connect over TCP with passwords (``scram-sha-256``), as a real deployment does, so that
credential handling is exercised: the superuser ``postgres`` administers, the login role
``llmform_test`` (no superuser, the owner of each test database) is what code under test uses.
Its password holds ``@ : / %`` on purpose: a URL must percent-encode it.

A server that cannot start raises ``PostgresStartError`` with initdb's or the server's log; the
fixture in ``tests/conftest.py`` turns that into a failure, never a skip.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

HOST = "127.0.0.1"
SUPERUSER = "postgres"
LOGIN_ROLE = "llmform_test"
SERVICE_USER = "llmform-pg"  # who runs the server when the tests run as root
BINDIR_ENV = "LLMFORM_PG_BINDIR"  # the folder of initdb, pg_ctl and postgres, if not found
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"  # where Debian puts them (pg_config is libpq-dev's)
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")

# fsync=off: a test cluster need not survive the machine's crash, only the server's (a fast or
# immediate stop), which the WAL written to the kernel still covers; synchronous_commit stays
# on, so a commit a client saw survives an immediate stop. Connections: concurrent runs plus
# the tests' own sessions.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "fsync": "off",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}


class PostgresStartError(RuntimeError):
    """The test server could not be set up or started; the message carries its log."""


@dataclass(frozen=True)
class Account:
    """The unprivileged user the server runs as (when the tests run as root)."""

    name: str
    uid: int
    gid: int

    def run_as(self) -> dict[str, Any]:
        """subprocess keywords that run a program as this user, with its group only."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


@dataclass(frozen=True)
class Backend:
    """A client connection's server process, as pg_stat_activity shows it."""

    pid: int
    database: str | None
    role: str | None
    application_name: str
    state: str | None
    in_transaction: bool


def server_binaries() -> Path:
    """The folder of initdb, pg_ctl and postgres: ``LLMFORM_PG_BINDIR``, else
    ``pg_config --bindir``, else Debian's folders (the newest version first)."""
    candidates: list[str] = []
    if os.environ.get(BINDIR_ENV):
        candidates.append(os.environ[BINDIR_ENV])
    else:
        pg_config = shutil.which("pg_config")
        if pg_config:
            found = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=False
            )
            if found.returncode == 0 and found.stdout.strip():
                candidates.append(found.stdout.strip())
        debian = Path("/usr/lib/postgresql")
        versions = sorted(debian.glob("*/bin"), key=_version_of, reverse=True)
        candidates += [str(path) for path in versions]
    for candidate in candidates:
        if all((Path(candidate) / program).is_file() for program in SERVER_PROGRAMS):
            return Path(candidate)
    looked = ", ".join(candidates) or f"pg_config (not on PATH), {DEBIAN_BINDIRS} (none)"
    raise PostgresStartError(
        f"no PostgreSQL server binaries ({', '.join(SERVER_PROGRAMS)}): looked in {looked}. "
        f"Install them (Debian: apt-get install postgresql-15) or set {BINDIR_ENV}."
    )


def _version_of(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))


def service_account() -> Account | None:
    """None when not root (the server runs as the caller); as root, the unprivileged user the
    server runs as, created on first use."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        # --system: no aging, an id below 1000; no home, no login shell: it only runs postgres.
        # root's PATH may lack the sbin folders (su without -), where Debian keeps useradd
        useradd = shutil.which("useradd", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        try:
            made = subprocess.run(
                [
                    useradd or "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    SERVICE_USER,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            why = f"useradd exited {made.returncode}: {made.stderr.strip() or made.stdout.strip()}"
        except OSError as exc:
            why = f"useradd: {exc.strerror}"
        try:  # another session may have created it meanwhile (useradd then exits 9)
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise PostgresStartError(
                f"initdb and postgres refuse root, and the user {SERVICE_USER} to run them "
                f"could not be created ({why})"
            ) from None
    return Account(SERVICE_USER, entry.pw_uid, entry.pw_gid)


def free_port() -> int:
    """A loopback port free now (another process may take it before the server does: start
    then tries another)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _cluster_parent(account: Account | None) -> str:
    """A folder the server's user can pass through to reach its cluster: the temporary folder
    unless some folder above it shuts others out (a private TMPDIR), then /tmp."""
    base = Path(tempfile.gettempdir()).resolve()
    if account is None or all(os.stat(p).st_mode & 0o001 for p in (base, *base.parents)):
        return str(base)
    return "/tmp"


class PostgresServer:
    """A temporary cluster and its server; ``start()`` makes and starts it, ``remove()`` stops
    it and deletes every file."""

    host = HOST
    superuser = SUPERUSER
    role = LOGIN_ROLE

    def __init__(self, bindir: Path, account: Account | None) -> None:
        self.bindir = bindir
        self.account = account
        self.root = Path(tempfile.mkdtemp(prefix="llmform-pg-", dir=_cluster_parent(account)))
        if account is not None:
            os.chown(self.root, account.uid, account.gid)
        self.data = self.root / "data"
        self.socket_dir = self.root  # 0700, the server user's: no one else reaches the socket
        self.log_file = self.root / "server.log"
        self.port = 0
        self.superuser_password = secrets.token_urlsafe(18)
        self.password = f"{secrets.token_urlsafe(12)}@:/%"

    # -- the cluster ------------------------------------------------------------------------

    def _run(
        self, program: str, *args: str, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        # A clean environment: PGDATA, PGPORT or PGHOST of the caller must not redirect pg_ctl.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "HOME": str(self.root),
        }
        as_user = self.account.run_as() if self.account is not None else {}
        return subprocess.run(
            [str(self.bindir / program), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env=env,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            umask=0o077,
            start_new_session=True,  # the terminal's Ctrl-C reaches pytest, which stops us
            **as_user,
        )

    def init(self) -> None:
        """``initdb``: the superuser's password from a file, password logins over TCP, trust on
        the private socket only."""
        pwfile = self.root / "superuser-password"
        pwfile.write_text(self.superuser_password + "\n")
        if self.account is not None:
            os.chown(pwfile, self.account.uid, self.account.gid)
        made = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-locale",
            "-E",
            "UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        if made.returncode != 0:
            raise PostgresStartError(
                f"initdb exited {made.returncode}:\n{made.stdout}{made.stderr}".rstrip()
            )

    def _configure(self) -> None:
        """The settings above and the port, in a file of their own that postgresql.conf
        includes (rewritten when the port changes)."""
        settings = {
            **SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
        }
        ours = self.data / "llmform-test.conf"
        ours.write_text("".join(f"{name} = {value}\n" for name, value in settings.items()))
        if self.account is not None:
            os.chown(ours, self.account.uid, self.account.gid)
        conf = self.data / "postgresql.conf"
        include = f"include '{ours.name}'\n"
        if include not in conf.read_text():
            with conf.open("a") as out:
                out.write(include)

    def start(self, timeout: float = 60) -> None:
        """Start the server (on a new free port unless it has one: a restart keeps its port);
        raise PostgresStartError with the log when it does not come up."""
        choose_port = self.port == 0
        for _ in range(5 if choose_port else 1):
            if choose_port:
                self.port = free_port()
            mark = self._log_size()
            self._configure()
            started = self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(timeout)),
                "start",
                timeout=timeout + 10,
            )
            if started.returncode == 0:
                return
            log = self._log_since(mark)
            if not (choose_port and "could not bind" in log):
                break  # port taken between free_port() and the bind: try another
        raise PostgresStartError(
            f"pg_ctl start exited {started.returncode} ({started.stdout.strip()}"
            f" {started.stderr.strip()}); server log {self.log_file}:\n{log}".rstrip()
        )

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m MODE``: ``fast`` (sessions ended, a clean shutdown) or
        ``immediate`` (as a crash: the next start recovers from the WAL)."""
        stopped = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        if stopped.returncode != 0:
            raise RuntimeError(
                f"pg_ctl stop -m {mode} exited {stopped.returncode}: "
                f"{stopped.stdout}{stopped.stderr}\n{self.log_tail()}"
            )

    def restart(self, mode: str = "fast") -> None:
        """Stop (fast shutdown by default) and start again, same port, same data."""
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        """Stop the server whatever it is doing, and delete the cluster."""
        if self.running():
            try:
                self.stop("fast")
            except (RuntimeError, subprocess.TimeoutExpired):
                self._kill_postmaster()
        shutil.rmtree(self.root, ignore_errors=True)

    def running(self) -> bool:
        return self._postmaster_pid() is not None

    def _postmaster_pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def _kill_postmaster(self) -> None:
        pid = self._postmaster_pid()
        if pid is not None:
            os.kill(pid, signal.SIGQUIT)  # postgres's immediate shutdown: children go too
            deadline = time.monotonic() + 10
            while self._postmaster_pid() is not None and time.monotonic() < deadline:
                time.sleep(0.05)

    @property
    def postmaster_pid(self) -> int:
        pid = self._postmaster_pid()
        if pid is None:
            raise RuntimeError("the test server is not running")
        return pid

    # -- the log --------------------------------------------------------------------------------

    def _log_size(self) -> int:
        return self.log_file.stat().st_size if self.log_file.exists() else 0

    def _log_since(self, mark: int) -> str:
        if not self.log_file.exists():
            return "(no log written)"
        with self.log_file.open("rb") as log:
            log.seek(mark)
            return log.read().decode(errors="replace")[-4000:]

    def log_tail(self) -> str:
        return self._log_since(max(0, self._log_size() - 4000))

    # -- connections and databases ----------------------------------------------------------

    def url(self, database: str, user: str | None = None, password: str | None = None) -> str:
        """``postgresql://USER:PASSWORD@127.0.0.1:PORT/DATABASE``, the login role's by default,
        each part percent-encoded."""
        if user is None:
            user, password = LOGIN_ROLE, self.password if password is None else password
        credentials = quote(user, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        return f"postgresql://{credentials}@{HOST}:{self.port}/{quote(database, safe='')}"

    def admin(self, database: str = "postgres") -> psycopg.Connection[Any]:
        """A superuser connection (autocommit, for CREATE DATABASE and the like)."""
        return psycopg.connect(
            host=HOST,
            port=self.port,
            user=SUPERUSER,
            password=self.superuser_password,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        )

    def connect(self, database: str, **options: Any) -> psycopg.Connection[Any]:
        """A connection of the login role, over TCP with its password."""
        return psycopg.connect(self.url(database), connect_timeout=10, **options)

    def create_login_role(self) -> None:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(LOGIN_ROLE), sql.Literal(self.password)
                )
            )

    def create_database(self, name: str | None = None, template: str = "template0") -> str:
        """A fresh database owned by the login role, copied from ``template`` (a test may make
        a template of its own, an old release's schema say, and copy it per test)."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(template), sql.Identifier(LOGIN_ROLE)
                )
            )
        return name

    def backends(self, database: str | None = None) -> list[Backend]:
        """The client connections' server processes (this query's own excepted), to find the
        one to kill mid-transaction: ``os.kill(pid, SIGKILL)`` (as root, or as the server's
        user) or ``pg_terminate_backend(pid)``."""
        query = (
            "SELECT pid, datname, usename, application_name, state, xact_start IS NOT NULL"
            " FROM pg_stat_activity WHERE backend_type = 'client backend'"
            " AND pid <> pg_backend_pid() AND (%(db)s::text IS NULL OR datname = %(db)s)"
            " ORDER BY pid"
        )
        with self.admin() as conn:
            rows = conn.execute(query, {"db": database}).fetchall()
        return [Backend(*row) for row in rows]


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A started server with its login role; stopped and deleted on leaving, also when the
    start fails half-way (then PostgresStartError says why)."""
    server = PostgresServer(server_binaries(), service_account())
    try:
        server.init()
        server.start()
        server.create_login_role()
        yield server
    finally:
        server.remove()
