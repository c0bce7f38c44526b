"""The key checks' own HTTP/1.1 transport (llmform.checks.wire), against real servers on
127.0.0.1 that count connections: kept-alive connections shared by the keys of one endpoint, the
bound on connections over all endpoints, a dropped kept-alive connection replaced, answers
framed every way HTTP/1.1 allows, and which sender a run uses.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from support.checking import SENDERS, run, self_signed_tls, target
from support.provider_servers import ProviderServer

from llmform.checks import pools
from llmform.checks.providers import Outcome
from llmform.checks.run import CheckTarget, RetryPolicy, run_checks
from llmform.checks.wire import WireTransport

MODELS = json.dumps({"object": "list", "data": [{"id": "gpt-test", "object": "model"}]}).encode()
KEYS = [f"sk-wire-{i:04d}-xxxxxxxxxxxxxxxx" for i in range(12)]

# What the server does with the n-th request (from 1) of a connection: the bytes to send, and
# whether to close the connection afterwards. None: close without answering.
Script = Callable[[int], tuple[bytes, bool] | None]


def answer(body: bytes = MODELS, *, close: bool = False, extra: str = "") -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{extra}"
    if close:
        head += "connection: close\r\n"
    return f"{head}content-length: {len(body)}\r\n\r\n".encode() + body


def keep_alive(n: int) -> tuple[bytes, bool]:
    return answer(), False


@dataclass
class CountingServer:
    """A threaded HTTP/1.1 server that answers each request by ``script`` and counts the
    connections it accepted and the requests it read."""

    script: Script = keep_alive
    connections: int = 0
    requests: list[str] = field(default_factory=list)  # the Authorization header of each
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @contextmanager
    def running(self) -> Iterator[CountingServer]:
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with server.lock:
                    server.connections += 1
                for n in range(1, 1000):
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = self.rfile.readline()
                        if not line:
                            return
                        head += line
                    auth = next(
                        (
                            line.split(b":", 1)[1].strip().decode()
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"authorization:")
                        ),
                        "",
                    )
                    with server.lock:
                        server.requests.append(auth)
                    step = server.script(n)
                    if step is None:
                        return
                    data, close = step
                    self.wfile.write(data)
                    self.wfile.flush()
                    if close:
                        return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        with Server(("127.0.0.1", 0), Handler) as httpd:
            self.port = httpd.server_address[1]
            thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
            thread.start()
            try:
                yield self
            finally:
                httpd.shutdown()


def targets(base: str, keys: list[str]) -> list[CheckTarget]:
    return [target("openai", base, [k], address=f"config.ws/c{i}") for i, k in enumerate(keys)]


def test_the_keys_of_one_endpoint_share_kept_alive_connections() -> None:
    """Authentication is per request: twelve keys at parallelism 3 need 3 connections, not 12."""
    with CountingServer().running() as server:
        report = run_checks(targets(server.api_base, KEYS), parallelism=3)
    assert report.passed and report.requests == len(KEYS)
    assert sorted(server.requests) == sorted(f"Bearer {k}" for k in KEYS)
    assert server.connections <= 3


def test_https_with_a_ca_the_environment_names_reuses_its_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TLS context is httpx's (SSL_CERT_FILE honoured), made when the first https
    connection is; the keys of the endpoint share its verified connection."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "server.pem"))
    keys = KEYS[:4]

    async def go(base: str) -> int:
        transport = WireTransport(max_connections=2)
        for key in keys:
            request = httpx.Request(
                "GET", base + "/models", headers={"authorization": f"Bearer {key}"}
            )
            assert (await transport.handle_async_request(request)).status_code == 200
        await transport.aclose()
        return transport.connections_made

    server = ProviderServer("openai", dict.fromkeys(keys, "valid"), tls=self_signed_tls(tmp_path))
    with server:
        assert server.api_base.startswith("https://")
        report = run_checks(targets(server.api_base, keys), parallelism=2)
        assert asyncio.run(go(server.api_base)) == 1
    assert report.passed and report.requests == len(keys)


def test_connections_are_bounded_over_all_endpoints() -> None:
    """Idle connections to one endpoint are closed before another's are opened beyond the
    bound, so that many endpoints do not open parallelism each."""

    async def go(bases: list[str]) -> list[int]:
        transport = WireTransport(max_connections=2)
        open_after = []
        for base in bases:
            response = await transport.handle_async_request(httpx.Request("GET", base + "/models"))
            assert response.status_code == 200
            open_after.append(transport.open_connections)
        await transport.aclose()
        assert transport.open_connections == 0
        return open_after

    with (
        CountingServer().running() as a,
        CountingServer().running() as b,
        CountingServer().running() as c,
    ):
        bases = [a.api_base, b.api_base, c.api_base, a.api_base, a.api_base]
        open_after = asyncio.run(go(bases))
    assert open_after == [1, 2, 2, 2, 2]
    assert (a.connections, b.connections, c.connections) == (2, 1, 1)  # a's first was closed


def test_a_kept_alive_connection_the_server_dropped_is_replaced() -> None:
    """A server that closes a kept-alive connection (its idle timeout) as the next request
    arrives: the request goes again on a new connection, and every key gets its answer."""

    def first_only(n: int) -> tuple[bytes, bool] | None:
        return (answer(), False) if n == 1 else None

    keys = KEYS[:4]
    with CountingServer(first_only).running() as server:
        report = run(targets(server.api_base, keys), parallelism=1)
    assert [c.keys[0].outcome for c in report.configs] == [Outcome.VALID] * 4
    assert [c.keys[0].attempts for c in report.configs] == [1] * 4  # not a retry of the check
    assert server.connections == 4
    assert server.requests.count(f"Bearer {keys[1]}") == 2  # once dropped, once answered


@pytest.mark.parametrize(
    "framing",
    [
        pytest.param(lambda n: (answer(close=True), True), id="connection-close"),
        pytest.param(
            lambda n: (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (MODELS[:9], MODELS[9:]))
                + b"0\r\n\r\n",
                False,
            ),
            id="chunked",
        ),
        pytest.param(lambda n: (b"HTTP/1.0 200 OK\r\n\r\n" + MODELS, True), id="until-close"),
        pytest.param(
            lambda n: (answer(gzip.compress(MODELS), extra="content-encoding: gzip\r\n"), False),
            id="gzip",
        ),
        pytest.param(
            lambda n: (b"HTTP/1.1 100 Continue\r\n\r\n" + answer(), False), id="informational"
        ),
    ],
)
def test_answers_are_read_whole_however_they_are_framed(framing: Script) -> None:
    with CountingServer(framing).running() as server:
        report = run(targets(server.api_base, KEYS[:3]), parallelism=1)
    assert [c.keys[0].outcome for c in report.configs] == [Outcome.VALID] * 3
    assert len(server.requests) == 3


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize(
    "script",
    [
        pytest.param(lambda n: (b"SSH-2.0-OpenSSH_9.6\r\n", True), id="not-http"),
        pytest.param(lambda n: None, id="closed-unanswered"),
    ],
)
def test_a_server_that_breaks_http_is_unreachable_in_fixed_words(
    sender: str, script: Script
) -> None:
    with CountingServer(script).running() as server:
        report = run(
            targets(server.api_base, KEYS[:1]), sender=sender, retry=RetryPolicy(max_retries=0)
        )
    key = report.configs[0].keys[0]
    assert key.outcome is Outcome.UNREACHABLE
    assert key.detail.startswith(f"127.0.0.1:{server.port} broke the HTTP protocol")


def test_a_run_sends_through_httpx_only_with_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx's client speaks to proxies as the environment configures them; without one, the
    run's own transport."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        for spelling in (name, name.upper()):
            monkeypatch.delenv(spelling, raising=False)
    plain = targets("http://127.0.0.1:1/v1", KEYS[:1])
    monkeypatch.setenv("NO_PROXY", "localhost")
    assert isinstance(pools.default_sender(5, plain), pools.WireSender)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert isinstance(pools.default_sender(5, plain), pools.ClientPools)


def test_a_slow_server_times_out_per_read() -> None:
    def slow(n: int) -> tuple[bytes, bool]:
        time.sleep(0.5)
        return answer(), False

    with CountingServer(slow).running() as server:
        report = run(
            targets(server.api_base, KEYS[:1]), timeout=0.1, retry=RetryPolicy(max_retries=0)
        )
    key = report.configs[0].keys[0]
    assert (key.outcome, key.detail) == (
        Outcome.UNREACHABLE,
        f"no answer from 127.0.0.1:{server.port} within 0.1 s",
    )
