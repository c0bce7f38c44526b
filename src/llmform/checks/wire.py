"""HTTP/1.1 for key checks: h11 over asyncio streams, with one pool of kept-alive connections.

httpx's own stack (its client, httpcore's pool, anyio's cancel scopes, sniffio's look-ups) made
a key check cost about 1.1 ms of CPU a request, against 0.1 ms for a minimal client: on the one
event loop of a run, the time past the round trips (``benchmarks/checks.py``). A key check needs
little of that stack: one body-less request, a small answer read whole (within a bound), no
redirect, no cookie, no HTTP/2. So runs without a proxy send through this transport (about
0.5 ms a request, the checker's own work included); a run with a proxy in the environment
keeps httpx's client, which speaks to proxies (``pools``).

What it keeps of httpx: requests and responses are httpx's (the adapters build and read them),
the TLS context is the one httpx would use (made when the first https connection is), failures
are httpx's exception types or ``answers.AnswerTooLarge`` (which ``transport`` turns into fixed
words: no exception text is shown, and none here quotes a header), a request's connect, read
and write timeouts are its own. An answer is read within the bounds in ``answers`` (its head;
its body as sent and as decoded), as on the httpx path. Connections are reused across keys to
the same origin (authentication is per request); at most ``max_connections`` are open at
once, over all origins; a kept-alive connection the server closed meanwhile is replaced, and a
request that met such a connection before any answer came is sent once more on a new one
(every check is a GET: sending it again changes nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import h11
import httpx

from .answers import HEAD_CAP, AnswerBody, AnswerTooLarge, answer_response

T = TypeVar("T")

_READ_SIZE = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int


class _Stale(Exception):
    """A reused connection turned out closed before any byte of the answer: send again."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_CAP)
        self.used = False  # whether it has carried an exchange already

    @property
    def closed(self) -> bool:
        return self.reader.at_eof() or self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class WireTransport(httpx.AsyncBaseTransport):
    """An httpx transport for key checks' requests; see the module docstring."""

    def __init__(
        self,
        tls: Callable[[], ssl.SSLContext] = httpx.create_ssl_context,
        max_connections: int = 10,
    ) -> None:
        """``tls`` makes the TLS context, when the first https connection is opened: loading
        the CA bundle costs 30-45 ms, which a run against plain-HTTP servers never pays."""
        self._tls = tls
        self._ssl: ssl.SSLContext | None = None
        self._max = max(1, max_connections)
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._open = 0
        self.connections_made = 0  # for tests: how many connections were opened in all

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or carrying a request."""
        return self._open

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = _origin(request.url)
        timeouts: Mapping[str, float | None] = request.extensions.get("timeout", {})
        body = await request.aread()
        for retry in (False, True):  # after a stale kept-alive connection, a new one
            connection = None if retry else self._idle_connection(origin)
            if connection is None:
                connection = await self._connect(origin, timeouts.get("connect"))
            try:
                response = await _exchange(connection, request, body, timeouts)
            except _Stale:
                self._discard(connection)
                continue
            except BaseException:  # cancelled or failed halfway: its state is unknown
                self._discard(connection)
                raise
            self._release(origin, connection)
            return response
        raise httpx.RemoteProtocolError("the server closed the connection without answering")

    async def aclose(self) -> None:
        idle = [c for connections in self._idle.values() for c in connections]
        self._idle.clear()
        for connection in idle:
            self._discard(connection)
        closing = asyncio.gather(*(c.writer.wait_closed() for c in idle), return_exceptions=True)
        # Closing is what matters; a peer slow to answer a TLS close changes nothing.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing, 1.0)

    def _idle_connection(self, origin: _Origin) -> _Connection | None:
        connections = self._idle.get(origin)
        while connections:
            connection = connections.pop()  # the latest used: the least likely to be stale
            if not connection.closed:
                return connection
            self._discard(connection)
        return None

    async def _connect(self, origin: _Origin, timeout: float | None) -> _Connection:
        if self._open >= self._max:
            self._evict()
        tls = origin.scheme == "https"
        if tls and self._ssl is None:
            self._ssl = self._tls()
            self._ssl.set_alpn_protocols(["http/1.1"])  # as httpcore offers it
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    origin.host,
                    origin.port,
                    ssl=self._ssl if tls else None,
                    server_hostname=origin.host if tls else None,
                    limit=_READ_SIZE,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("no connection within the timeout") from None
        except OSError as exc:  # refused, DNS, TLS (ssl.SSLError is an OSError): the cause says
            raise httpx.ConnectError(str(exc)) from exc
        self._open += 1
        self.connections_made += 1
        return _Connection(reader, writer)

    def _release(self, origin: _Origin, connection: _Connection) -> None:
        protocol = connection.protocol
        if protocol.our_state is h11.DONE and protocol.their_state is h11.DONE:
            protocol.start_next_cycle()
            self._idle.setdefault(origin, []).append(connection)
        else:  # the server asked to close, or the answer was not framed for reuse
            self._discard(connection)

    def _evict(self) -> None:
        """Close an idle connection (its endpoint's oldest), whatever its endpoint: the bound
        is on all connections, so that many endpoints cannot open parallelism each."""
        for connections in self._idle.values():
            if connections:
                self._discard(connections.pop(0))
                return

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._open -= 1


def _origin(url: httpx.URL) -> _Origin:
    scheme = url.scheme
    if scheme not in _DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol("the URL is not http:// or https://")
    host = url.raw_host.decode("ascii")
    if not host:
        raise httpx.UnsupportedProtocol("the URL has no host")
    return _Origin(scheme, host, url.port or _DEFAULT_PORTS[scheme])


async def _exchange(
    connection: _Connection,
    request: httpx.Request,
    body: bytes,
    timeouts: Mapping[str, float | None],
) -> httpx.Response:
    """One request and its whole answer on ``connection``."""
    reused, connection.used = connection.used, True
    protocol = connection.protocol
    try:
        head = h11.Request(
            method=request.method, target=request.url.raw_path, headers=request.headers.raw
        )
        data = protocol.send(head) or b""
        if body:
            data += protocol.send(h11.Data(data=body)) or b""
        data += protocol.send(h11.EndOfMessage()) or b""
    except h11.LocalProtocolError:  # its text quotes the header, the key with it
        raise httpx.LocalProtocolError("a header value HTTP does not allow") from None
    connection.writer.write(data)
    drained = connection.writer.drain()
    await _io(drained, timeouts.get("write"), httpx.WriteTimeout, httpx.WriteError, reused)
    answer: h11.Response | None = None
    headers = httpx.Headers()
    answer_body: AnswerBody | None = None
    received = False
    while True:
        try:
            event = protocol.next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:  # a head (or chunk line) past HEAD_CAP
                raise AnswerTooLarge("head") from None
            raise httpx.RemoteProtocolError(str(exc)) from None
        if event is h11.NEED_DATA:
            first = reused and not received
            read = connection.reader.read(_READ_SIZE)
            chunk = await _io(read, timeouts.get("read"), httpx.ReadTimeout, httpx.ReadError, first)
            if not chunk and first:
                raise _Stale
            received = True
            protocol.receive_data(chunk)
        elif isinstance(event, h11.Response):
            answer = event
            headers = httpx.Headers(answer.headers.raw_items())
            answer_body = AnswerBody(headers)  # refuses a length announced over the cap
        elif isinstance(event, h11.Data) and answer_body is not None:
            answer_body.feed(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            raise httpx.RemoteProtocolError("the server closed the connection mid-answer")
        # an InformationalResponse (1xx) is followed by the real one: read on
    if answer is None or answer_body is None:  # h11 ends a message only after its head; for mypy
        raise httpx.RemoteProtocolError("an answer without a head")
    extensions = {"http_version": b"HTTP/1.1", "reason_phrase": bytes(answer.reason)}
    # decodes a content-encoding within the cap (httpx.DecodingError when it cannot)
    return answer_response(request, answer.status_code, headers, answer_body, extensions)


async def _io(
    step: Awaitable[T],
    timeout: float | None,
    timed_out: type[httpx.TimeoutException],
    failed: type[httpx.TransportError],
    stale: bool,
) -> T:
    """``step`` (a write or a read) within ``timeout``, its failures as httpx's; a failure of
    the first step on a reused connection is ``_Stale`` (the server had closed it)."""
    try:
        async with asyncio.timeout(timeout):
            return await step
    except TimeoutError:
        raise timed_out(f"no progress within {timeout} s") from None
    except OSError as exc:
        if stale:
            raise _Stale from exc
        raise failed(str(exc)) from exc
