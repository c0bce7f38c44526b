"""A real MLflow tracking server with its AI Gateway, for tests: ``mlflow server`` on a free port
of 127.0.0.1, a SQLite backend and an artifact folder in a temporary directory, workspaces on.

MLflow is heavy (~850 MB), so it lives in its own virtualenv, made by ``.ci/run`` at
``.venv-mlflow`` (pinned: ``MLFLOW_PIN``, with the ``auth`` extra that its basic-auth app
needs); ``LLMFORM_MLFLOW`` may name another ``mlflow`` executable. A server that is missing or
does not start raises ``MlflowStartError`` with the server's log; the fixture turns that into a
failure, never a skip.

The gateway envelope-encrypts the secrets it stores with a key-encryption key derived from
``MLFLOW_CRYPTO_KEK_PASSPHRASE``; without it MLflow uses a built-in default passphrase (and
warns), which any reader of its source knows. Each server gets a random one, so its database
holds provider keys only encrypted under a key nobody else has (``passphrase``).

``running_server(..., basic_auth=True)`` runs MLflow's basic-auth app (``--app-name
basic-auth``), configured by a file of its own (``MLFLOW_AUTH_CONFIG_PATH``): an admin with a
random password (``MLFLOW_AUTH_ADMIN_PASSWORD``; MLflow ships none) and no permission for anyone
else. ``CountingTransport`` counts the requests a target sends, by kind and workspace.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .processes import stop_group

REPO = Path(__file__).resolve().parents[2]
MLFLOW_PIN = "3.17.2"  # the version ../shared/reference/mlflow-gateway.md was checked on
EXECUTABLE_ENV = "LLMFORM_MLFLOW"
HOST = "127.0.0.1"
STARTUP_SECONDS = 180  # ~6-12 s on an idle 2-core machine; CI may be busier
# The shortest the server accepts (10-300 s): a key changed through the API takes effect in
# the gateway's invocations after at most this long.
SECRETS_CACHE_TTL = 10


WORKSPACE_LISTING = "GET /api/3.0/mlflow/workspaces"
GATEWAY_LISTINGS = tuple(
    f"GET /api/3.0/mlflow/gateway/{kind}/list"
    for kind in ("secrets", "model-definitions", "endpoints")
)


class CountingTransport(httpx.BaseTransport):
    """An httpx transport that counts each request sent by its kind (``GET /api/.../list``)
    and by its kind and workspace (MLflow's ``X-MLFLOW-WORKSPACE`` header), then sends it on:
    for ``MlflowTarget(..., transport=...)``, so that tests and benchmarks count what went on
    the wire, pages included."""

    def __init__(self) -> None:
        self._sent = httpx.HTTPTransport()
        self.by_kind: Counter[str] = Counter()
        self.by_kind_and_workspace: Counter[tuple[str, str | None]] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        kind = f"{request.method} {request.url.path}"
        self.by_kind[kind] += 1
        self.by_kind_and_workspace[kind, request.headers.get("X-MLFLOW-WORKSPACE")] += 1
        return self._sent.handle_request(request)

    def beyond_one_read_per_workspace(self, workspaces: set[str]) -> list[str]:
        """What the requests counted did beyond reading each object type once per workspace
        (the bound a plan keeps): one workspace listing, then per workspace one listing of
        each gateway object type, and nothing else. Empty: within the bound."""
        allowed = {WORKSPACE_LISTING: 1} | {kind: len(workspaces) for kind in GATEWAY_LISTINGS}
        problems = [
            f"{kind}: {count} requests, at most {allowed.get(kind, 0)} expected"
            for kind, count in sorted(self.by_kind.items())
            if count > allowed.get(kind, 0)
        ]
        problems += [
            f"{kind} in workspace {workspace}: {count} requests, not 1"
            for (kind, workspace), count in sorted(self.by_kind_and_workspace.items(), key=str)
            if kind in GATEWAY_LISTINGS and count > 1
        ]
        return problems

    def reset(self) -> None:
        self.by_kind.clear()
        self.by_kind_and_workspace.clear()

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def close(self) -> None:
        self._sent.close()


class MlflowStartError(RuntimeError):
    """The test server could not be started; the message carries its log."""


@dataclass(frozen=True)
class MlflowServer:
    """A running server: ``url`` (no trailing slash), its SQLite ``database`` and ``log``; with
    basic auth, its admin's ``username`` and ``password`` (else both empty)."""

    url: str
    database: Path
    log: Path
    passphrase: str = field(repr=False)
    username: str = ""
    password: str = field(default="", repr=False)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def executable() -> Path:
    """``LLMFORM_MLFLOW``, else the repository's ``.venv-mlflow/bin/mlflow``."""
    configured = os.environ.get(EXECUTABLE_ENV)
    path = Path(configured) if configured else REPO / ".venv-mlflow" / "bin" / "mlflow"
    if not path.is_file():
        raise MlflowStartError(
            f"MLflow not found at {path}: run .ci/run, or create it with\n"
            f"  python3 -m venv .venv-mlflow && .venv-mlflow/bin/pip install "
            f"'mlflow[auth]=={MLFLOW_PIN}'\n"
            f"or set {EXECUTABLE_ENV} to an mlflow executable"
        )
    return path


def server_environment(passphrase: str) -> dict[str, str]:
    """The server's environment: the caller's, minus MLflow client settings that are not the
    server's business, plus what the reference says the gateway needs offline."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            (
                "MLFLOW_TRACKING_",
                "MLFLOW_GATEWAY_",
                "MLFLOW_CRYPTO_",
                "MLFLOW_AUTH_",
                "MLFLOW_FLASK_",
            )
        )
    }
    env.update(
        {
            "MLFLOW_CRYPTO_KEK_PASSPHRASE": passphrase,
            # no background job workers: nothing here schedules jobs, and each is a process
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            # the gateway resolves an api_base's host and refuses private addresses and plain
            # http unless told otherwise: tests point it at providers on loopback
            "MLFLOW_GATEWAY_API_BASE_ALLOW_PRIVATE_IPS": "true",
            "MLFLOW_GATEWAY_API_BASE_ALLOWED_SCHEMES": "http,https",
            # offline, and nothing of a test run reported anywhere
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "NO_PROXY": f"{HOST},localhost",
            "no_proxy": f"{HOST},localhost",
        }
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def basic_auth_config(workdir: Path, username: str) -> Path:
    """MLflow's basic-auth app's configuration (``MLFLOW_AUTH_CONFIG_PATH``): its users in a
    SQLite file of ``workdir``, nobody allowed anything without a grant, the admin named
    ``username`` (the password comes from ``MLFLOW_AUTH_ADMIN_PASSWORD``, never a file)."""
    path = workdir / "basic_auth.ini"
    path.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{workdir / 'basic_auth.db'}\n"
        f"admin_username = {username}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
        # each request's password check is a PBKDF2 hash (~0.1 s on a busy machine): kept for
        # a minute once it passed, as the file MLflow ships suggests for busy servers
        "auth_cache_ttl_seconds = 60\n",
        encoding="utf-8",
    )
    return path


@contextmanager
def running_server(workdir: Path, basic_auth: bool = False) -> Iterator[MlflowServer]:
    """Start a server in ``workdir`` (its database, artifacts and log), wait until it answers
    ``/health``, and stop it (its whole process group) on exit. ``basic_auth``: MLflow's
    ``basic-auth`` app, whose admin (a random password) may do everything and nobody else
    anything."""
    binary = executable()
    port = free_port()
    database = workdir / "mlflow.db"
    log = workdir / "mlflow.log"
    passphrase = secrets.token_urlsafe(32)
    env = server_environment(passphrase)
    username, password = "", ""
    app: list[str] = []
    if basic_auth:
        username, password = "llmform-admin", secrets.token_urlsafe(16)
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(basic_auth_config(workdir, username))
        env["MLFLOW_AUTH_ADMIN_PASSWORD"] = password
        # the basic-auth app refuses to start without a key for its UI's CSRF tokens
        env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = secrets.token_urlsafe(32)
        app = ["--app-name", "basic-auth"]
    command = [
        str(binary),
        "server",
        *app,
        *("--host", HOST, "--port", str(port), "--workers", "1"),
        "--enable-workspaces",
        *("--secrets-cache-ttl", str(SECRETS_CACHE_TTL)),
        *("--backend-store-uri", f"sqlite:///{database}"),
        *("--default-artifact-root", str(workdir / "artifacts")),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it takes uvicorn's too
        )
    server = MlflowServer(f"http://{HOST}:{port}", database, log, passphrase, username, password)
    try:
        _wait_until_up(process, server)
        yield server
    finally:
        stop_group(process)


def _wait_until_up(process: subprocess.Popen[bytes], server: MlflowServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    with httpx.Client(timeout=2, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise MlflowStartError(
                    f"mlflow server exited with {process.returncode}:\n{_tail(server)}"
                )
            try:
                if client.get(server.url + "/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
    raise MlflowStartError(
        f"mlflow server did not answer within {STARTUP_SECONDS} s:\n{_tail(server)}"
    )


def _tail(server: MlflowServer) -> str:
    return server.log_text()[-4000:]
