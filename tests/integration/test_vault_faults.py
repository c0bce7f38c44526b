"""What a run meets when Vault is not well: sealed, unreachable, TLS trouble, rate limits; the
canary (no value anywhere it should not be); and the chain of env and Vault resolvers."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from baoserver import BaoServer, free_port_pair, unique

from llmform.desired.model import EnvRef, VaultRef
from llmform.secrets.base import SecretValue
from llmform.secrets.chain import chain_from_env
from llmform.secrets.errors import VaultAuthError, VaultConfigError, VaultUnavailable
from llmform.secrets.settings import VaultSettings, settings_from_env
from llmform.secrets.vault import VaultResolver


def settings(addr: str, token: str = "root", **options: object) -> VaultSettings:
    return VaultSettings(addr=addr, token=SecretValue(token), **options)  # type: ignore[arg-type]


def one_secret(bao: BaoServer) -> VaultRef:
    mount = bao.kv_mount(2)
    bao.put(mount, "llm", {"api_key": "fine"})
    return VaultRef(path=f"{mount}/llm", key="api_key")


def test_a_sealed_server_says_to_unseal_it(bao_to_seal: BaoServer) -> None:
    ref = one_secret(bao_to_seal)
    assert VaultResolver(settings(bao_to_seal.addr)).resolve([ref]).problems == ()
    bao_to_seal.root().sys.seal()
    slept: list[float] = []
    with pytest.raises(VaultUnavailable) as caught:
        VaultResolver(settings(bao_to_seal.addr), sleep=slept.append).resolve([ref])
    assert str(caught.value) == (
        f"Vault at {bao_to_seal.addr} is sealed; unseal it (`vault operator unseal` or "
        "`bao operator unseal`, or ask its operator) and run again"
    )
    assert slept == []  # sealed is not worth retrying


def test_unreachable_and_misaddressed(bao: BaoServer) -> None:
    ref = VaultRef(path="secret/llm", key="api_key")
    nobody = f"http://127.0.0.1:{free_port_pair()}"
    with pytest.raises(VaultUnavailable, match="connection refused") as caught:
        VaultResolver(settings(nobody)).resolve([ref])
    assert f"cannot reach Vault at {nobody}" in str(caught.value)
    assert "check VAULT_ADDR" in str(caught.value)
    # https:// to a plain-HTTP listener
    wrong_scheme = bao.addr.replace("http://", "https://")
    with pytest.raises(VaultUnavailable, match="is the address http:// rather than https://"):
        VaultResolver(settings(wrong_scheme)).resolve([ref])
    with pytest.raises(VaultConfigError, match="VAULT_ADDR is not set"):
        VaultResolver(VaultSettings()).resolve([ref])
    with pytest.raises(VaultConfigError, match="has no scheme; write https://vault:8200"):
        VaultResolver(settings("vault:8200")).resolve([ref])


def test_tls_private_ca(bao_tls: BaoServer, tmp_path: Path) -> None:
    ref = one_secret(bao_tls)
    base = {"VAULT_ADDR": bao_tls.addr, "VAULT_TOKEN": "root"}
    with pytest.raises(VaultUnavailable) as caught:
        VaultResolver(settings_from_env(base, home=tmp_path)).resolve([ref])
    assert str(caught.value) == (
        f"TLS failure talking to Vault at {bao_tls.addr}: the certificate is signed by a CA this "
        "machine does not trust; if the server uses a private CA, set "
        "VAULT_CACERT=/path/to/ca.pem (VAULT_SKIP_VERIFY=true only for local testing)"
    )
    for extra in ({"VAULT_CACERT": str(bao_tls.ca_cert)}, {"VAULT_SKIP_VERIFY": "true"}):
        result = VaultResolver(settings_from_env({**base, **extra}, home=tmp_path)).resolve([ref])
        assert result.problems == ()
        assert result.values[ref].reveal() == "fine"


def test_rate_limit_quota_is_waited_out(bao: BaoServer) -> None:
    mount = bao.kv_mount(2)
    refs = []
    for i in range(8):
        bao.put(mount, f"s{i}", {"api_key": f"v{i}"})
        refs.append(VaultRef(path=f"{mount}/s{i}", key="api_key"))
    quota = unique("quota")
    root = bao.root()
    root.adapter.post(
        f"/v1/sys/quotas/rate-limit/{quota}",
        json={"path": f"{mount}/", "rate": 2, "interval": "1s"},
    )
    try:
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            time.sleep(seconds)

        resolver = VaultResolver(settings(bao.addr, concurrency=4), sleep=sleep)
        mark = bao.audit_mark()
        result = resolver.resolve(refs)
        # Answers refused by the quota never reach the audit device: it saw one read each.
        reads = [r["path"] for r in bao.audit_requests(mark) if r["path"].startswith(mount)]
        assert sorted(reads) == sorted(f"{mount}/data/s{i}" for i in range(8))
        assert result.problems == ()
        assert {r: v.reveal() for r, v in result.values.items()} == {
            r: f"v{i}" for i, r in enumerate(refs)
        }
        assert slept, "the quota should have answered 429 at least once"
        assert slept[0] == 0.25  # the first backoff step

        # Out of patience: one retry, no real waiting, the quota still closed.
        impatient = VaultResolver(settings(bao.addr, max_retries=1), sleep=lambda s: None)
        with pytest.raises(VaultUnavailable, match="kept answering 429 Too Many Requests"):
            impatient.resolve(refs)
    finally:
        root.adapter.delete(f"/v1/sys/quotas/rate-limit/{quota}")


@pytest.fixture
def quota_headers(bao: BaoServer) -> Iterator[None]:
    """Rate-limit response headers on (Retry-After among them), as an operator turns them on;
    a server-wide setting, so it is turned off again for the tests that follow."""
    root = bao.root()
    root.adapter.post("/v1/sys/quotas/config", json={"enable_rate_limit_response_headers": True})
    try:
        yield
    finally:
        root.adapter.post(
            "/v1/sys/quotas/config", json={"enable_rate_limit_response_headers": False}
        )


def test_a_quota_retry_after_is_what_the_wait_is(bao: BaoServer, quota_headers: None) -> None:
    mount = bao.kv_mount(2)
    refs = []
    for i in range(3):
        bao.put(mount, f"s{i}", {"api_key": f"v{i}"})
        refs.append(VaultRef(path=f"{mount}/s{i}", key="api_key"))
    quota = unique("quota")
    root = bao.root()
    interval = 2
    root.adapter.post(
        f"/v1/sys/quotas/rate-limit/{quota}",
        json={"path": f"{mount}/", "rate": 1, "interval": f"{interval}s"},
    )
    try:
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            time.sleep(seconds)

        result = VaultResolver(settings(bao.addr, concurrency=2), sleep=sleep).resolve(refs)
        assert result.problems == ()
        assert {r: v.reveal() for r, v in result.values.items()} == {
            r: f"v{i}" for i, r in enumerate(refs)
        }
        assert slept, "the quota should have answered 429 at least once"
        # The server's whole seconds until its window reopens (and one more, as it truncates),
        # never the backoff's first step of 0.25 s.
        assert all(s == int(s) and 1 <= s <= interval + 1 for s in slept), slept
    finally:
        root.adapter.delete(f"/v1/sys/quotas/rate-limit/{quota}")

    # A quota that blocks for a minute: no waiting, no retrying into it; the run says so.
    root.adapter.post(
        f"/v1/sys/quotas/rate-limit/{quota}",
        json={"path": f"{mount}/", "rate": 1, "interval": "1s", "block_interval": "60s"},
    )
    try:
        slept.clear()
        with pytest.raises(VaultUnavailable) as caught:
            VaultResolver(settings(bao.addr, concurrency=1), sleep=slept.append).resolve(refs)
        assert slept == []
        text = str(caught.value)
        assert "answered 429 Too Many Requests (a rate-limit quota) to read" in text
        assert "longer than llmform waits (30s); run again later, or lower" in text
    finally:
        root.adapter.delete(f"/v1/sys/quotas/rate-limit/{quota}")


def test_canary_value_appears_nowhere(
    bao: BaoServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    canary = "sk-canary-" + unique("c")
    mount = bao.kv_mount(2)
    bao.put(mount, "good", {"api_key": canary})
    bao.put(mount, "sibling", {"api_key": canary, "label": "x"})
    bao.put(mount, "nested", {"api_key": {"inner": canary}, "list": [canary]})
    bao.put(mount, "versions", {"api_key": canary})
    bao.put(mount, "versions", {"api_key": "newer"})
    bao.root().secrets.kv.v2.delete_secret_versions(
        path="versions", versions=[1], mount_point=mount
    )
    bao.put(mount, "denied", {"api_key": canary})
    token = bao.token(
        f'path "{mount}/data/*" {{ capabilities = ["read"] }}\n'
        f'path "{mount}/data/denied" {{ capabilities = ["deny"] }}'
    )
    refs = [
        VaultRef(path=f"{mount}/good", key="api_key"),
        VaultRef(path=f"{mount}/sibling", key="missing"),
        VaultRef(path=f"{mount}/nested", key="api_key"),
        VaultRef(path=f"{mount}/nested", key="list"),
        VaultRef(path=f"{mount}/versions", key="api_key", version=1),
        VaultRef(path=f"{mount}/denied", key="api_key"),
        VaultRef(path=f"{mount}/data/good", key="api_key"),
    ]
    caplog.set_level(logging.DEBUG)
    result = VaultResolver(settings(bao.addr, token)).resolve(refs)
    assert result.values[refs[0]].reveal() == canary  # it was really read
    assert len(result.problems) == len(refs) - 1
    bao.root().auth.token.revoke(token)
    with pytest.raises(VaultAuthError) as caught:
        VaultResolver(settings(bao.addr, token)).resolve(refs)
    out = capsys.readouterr()
    texts = {
        "log": caplog.text,
        "result": repr(result) + str(result),
        "values": repr(dict(result.values)) + str(list(result.values.values())),
        "problems": "\n".join(f"{p} {p.message}" for p in result.problems),
        "exception": f"{caught.value} {caught.value!r}",
        "stdout": out.out + out.err,
    }
    for where, text in texts.items():
        assert canary not in text, where
        assert token not in text, where


def test_chain_sends_each_kind_to_its_resolver(bao: BaoServer, tmp_path: Path) -> None:
    vault_ref = one_secret(bao)
    env_ref = EnvRef("OPENAI_API_KEY")
    environ = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": "root", "OPENAI_API_KEY": "from-env"}
    result = chain_from_env(environ, home=tmp_path).resolve([env_ref, vault_ref, env_ref])
    assert result.problems == ()
    assert {r: v.reveal() for r, v in result.values.items()} == {
        env_ref: "from-env",
        vault_ref: "fine",
    }
    # Without vault references, Vault is neither configured nor contacted.
    env_only = chain_from_env({"OPENAI_API_KEY": "x", "VAULT_SKIP_VERIFY": "maybe"})
    assert env_only.resolve([env_ref]).problems == ()
    with pytest.raises(VaultConfigError, match="VAULT_SKIP_VERIFY='maybe' is not a boolean"):
        env_only.resolve([vault_ref])


class FlakyVault(BaseHTTPRequestHandler):
    """Just enough of Vault's API to answer one KV v2 read, after ``failures`` 503s that a real
    server cannot be made to give on demand (a standby or an overloaded node), or ``delay``."""

    failures = 0
    delay = 0.0
    retry_after: ClassVar[list[str]] = []  # Retry-After of each 503 in turn, while any are left
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        if self.path.startswith("/v1/auth/token/lookup-self"):
            self._send(200, {"data": {"ttl": 0, "renewable": False}})
        elif self.path.startswith("/v1/sys/internal/ui/mounts/"):
            self._send(
                200, {"data": {"path": "secret/", "type": "kv", "options": {"version": "2"}}}
            )
        elif type(self).failures > 0:
            type(self).failures -= 1
            wait = type(self).retry_after.pop(0) if type(self).retry_after else None
            self._send(503, {"errors": ["node is not active"]}, wait)
        else:
            time.sleep(type(self).delay)
            self._send(200, {"data": {"data": {"api_key": "flaky"}, "metadata": {"version": 1}}})

    def _send(self, status: int, body: object, retry_after: str | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (the timeout test)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    FlakyVault.failures, FlakyVault.delay = 0, 0.0
    FlakyVault.seen.clear()
    FlakyVault.retry_after.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyVault)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_503_is_retried_with_growing_backoff(flaky: str) -> None:
    ref = VaultRef(path="secret/llm", key="api_key")
    FlakyVault.failures = 3
    slept: list[float] = []
    result = VaultResolver(settings(flaky), sleep=slept.append).resolve([ref])
    assert result.values[ref].reveal() == "flaky"
    assert slept == [0.25, 0.5, 1.0]
    assert FlakyVault.seen.count("/v1/secret/data/llm") == 4

    FlakyVault.failures = 10
    with pytest.raises(VaultUnavailable, match="kept answering 503 Service Unavailable"):
        VaultResolver(settings(flaky, max_retries=2), sleep=slept.append).resolve([ref])


def test_a_server_too_slow_to_answer(flaky: str) -> None:
    FlakyVault.delay = 0.6
    ref = VaultRef(path="secret/llm", key="api_key")
    with pytest.raises(VaultUnavailable, match=r"did not answer read secret/data/llm within 0.2s"):
        VaultResolver(settings(flaky, timeout=0.2)).resolve([ref])


def test_503_retry_after_in_both_forms(flaky: str) -> None:
    """A real server's quota gives only delta-seconds; a proxy or a standby may give an HTTP
    date, measured against the answer's own Date (BaseHTTPRequestHandler sends one)."""
    ref = VaultRef(path="secret/llm", key="api_key")
    in_three = formatdate(time.time() + 3, usegmt=True)
    FlakyVault.failures = 4
    FlakyVault.retry_after[:] = ["2", in_three, "0", "soon"]
    slept: list[float] = []
    result = VaultResolver(settings(flaky), sleep=slept.append).resolve([ref])
    assert result.values[ref].reveal() == "flaky"
    # as asked and a second more (Vault truncates); a date against the answer's Date, which
    # has whole seconds too; "0" (within the second); the backoff's third step for an
    # unreadable value
    assert slept[0] == 3
    assert 3 <= slept[1] <= 4
    assert slept[2:] == [1, 2.0]

    FlakyVault.failures = 1
    FlakyVault.retry_after[:] = ["3600"]
    with pytest.raises(VaultUnavailable, match="asks to wait 3600s before retrying") as caught:
        VaultResolver(settings(flaky), sleep=slept.append).resolve([ref])
    assert "check the server's health" in str(caught.value)
