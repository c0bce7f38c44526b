"""What a key-check run sends through: its own HTTP/1.1 transport (``wire``), or, when a proxy
is configured, httpx's client in several small pools; TLS set up only when a request may need
it."""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Sequence
from typing import Protocol

import httpx

from .answers import AnswerBody, answer_response
from .subjects import CheckTarget
from .wire import WireTransport

# httpcore matches every queued request against every pooled connection, and probes each
# connection's socket, on every assignment: quadratic in the pool size. Above a few dozen
# connections that CPU dominates (9 ms a request at 50), so large runs get several small pools.
_POOL_SIZE = 5


class Sender(Protocol):
    """Sends a request and reads its whole answer within the bounds in ``answers``; raises
    httpx's exceptions, or ``answers.AnswerTooLarge``."""

    async def send(self, request: httpx.Request) -> httpx.Response: ...

    async def aclose(self) -> None: ...


class ClientPools:
    """httpx clients, each request on the one with the fewest in flight (see ``_POOL_SIZE``).
    ``own``: the pools are closed with the run (a caller's client is not)."""

    def __init__(self, clients: Sequence[httpx.AsyncClient], own: bool = True) -> None:
        self.clients = clients
        self._busy = [0] * len(clients)
        self._own = own

    async def send(self, request: httpx.Request) -> httpx.Response:
        pick = self._busy.index(min(self._busy))  # the pool with a free connection
        self._busy[pick] += 1
        try:
            response = await self.clients[pick].send(request, stream=True)
            try:
                return await _read_bounded(response)
            finally:
                await response.aclose()  # after a bound was passed: closes the connection
        finally:
            self._busy[pick] -= 1

    async def aclose(self) -> None:
        if self._own:
            for client in self.clients:
                await client.aclose()


async def _read_bounded(response: httpx.Response) -> httpx.Response:
    """The whole answer within the bounds in ``answers``, as ``wire`` reads it: the body as sent
    (httpx would decode it whole, a gzip bomb at once) decoded here in counted pieces."""
    body = AnswerBody(response.headers)
    async for data in response.aiter_raw():
        body.feed(data)
    extensions = dict(response.extensions)
    extensions.pop("network_stream", None)  # the connection's, released with the stream
    return answer_response(
        response.request, response.status_code, response.headers, body, extensions
    )


class WireSender:
    """``wire``'s transport as a run's sender."""

    def __init__(self, transport: WireTransport) -> None:
        self.transport = transport

    async def send(self, request: httpx.Request) -> httpx.Response:
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.transport.aclose()


def default_sender(parallelism: int, targets: Sequence[CheckTarget]) -> Sender:
    """The sender of a run with at most ``parallelism`` requests in flight. httpx's client
    only when the environment names a proxy: it speaks to proxies (and honours NO_PROXY) as a
    user configured them; ``wire`` speaks to origins only, and makes its TLS context when it
    first needs one."""
    if _proxies():
        return ClientPools(pooled_clients(parallelism, ssl_context(may_use_tls(targets))))
    return WireSender(WireTransport(httpx.create_ssl_context, parallelism))


def ssl_context(tls: bool) -> ssl.SSLContext:
    # The CA bundle is loaded once, not once a pool, and only when a TLS connection may be
    # made: loading it is 30-45 ms, a run against local plain-HTTP servers never uses it.
    # Without it the context still verifies, and trusts no one: a TLS connection it was not
    # meant for fails instead of going unverified.
    return httpx.create_ssl_context() if tls else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def pooled_clients(parallelism: int, verify: ssl.SSLContext) -> list[httpx.AsyncClient]:
    count = -(-parallelism // _POOL_SIZE)
    size = -(-parallelism // count)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    # Never follow a redirect: a trusted endpoint's 3xx could hand the key to any host.
    return [
        httpx.AsyncClient(limits=limits, verify=verify, follow_redirects=False)
        for _ in range(count)
    ]


def _proxies() -> bool:
    return any(scheme != "no" for scheme in urllib.request.getproxies())  # "no": NO_PROXY


def may_use_tls(targets: Sequence[CheckTarget]) -> bool:
    """Whether any request may go over TLS: an endpoint not on plain HTTP (adapters keep the
    scheme of ``api_base``; without one they default to the provider's https URL), or a proxy
    from the environment, which httpx honours and which may itself be https."""
    if _proxies():
        return True
    return not all((t.api_base or "").lower().startswith("http://") for t in targets)
