"""What a key check that got no HTTP answer means, in fixed words.

The text of an exception raised while a request is built or sent may hold the request itself:
httpx's "Illegal header value b'Bearer sk-…'" quotes the key, an invalid URL is quoted whole.
So no exception text is ever shown: each kind of failure maps to a fixed description that names
only the host that was tried (from the URL llmform built, never from the message) and what to
look at.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator

import h11
import httpx

from .answers import CAUSES, AnswerTooLarge
from .providers import Outcome, Reply


def host_of(url: httpx.URL | str | None) -> str:
    """``host[:port]`` of a URL, or ``the endpoint`` when there is no usable one."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url or "")
        host = parsed.host
        port = parsed.port
    except (httpx.InvalidURL, TypeError, ValueError, UnicodeError):
        return "the endpoint"
    if not host:
        return "the endpoint"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def transport_reply(exc: BaseException, url: httpx.URL | str | None, timeout: float) -> Reply:
    """The outcome of a request that raised ``exc`` instead of answering (``url``: where it was
    going, when known)."""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # anyio wraps some
        return transport_reply(exc.exceptions[0], url, timeout)
    where = host_of(url)
    too_large = exc.cause if isinstance(exc, AnswerTooLarge) else _head_too_large(exc)
    if too_large:
        # An answer, but not one a key check reads: what the endpoint sends is wrong (an
        # api_base that points elsewhere, a broken or hostile server), as with one that cannot
        # be decoded; retried alike, with a backoff, on the next key.
        return Reply(Outcome.ERROR, f"the answer from {where} {CAUSES[too_large]}", transient=True)
    if isinstance(exc, httpx.ConnectTimeout):
        return Reply(Outcome.UNREACHABLE, f"no connection to {where} within {timeout:g} s")
    if isinstance(exc, httpx.TimeoutException):
        return Reply(Outcome.UNREACHABLE, f"no answer from {where} within {timeout:g} s")
    if isinstance(exc, httpx.ProxyError):
        return Reply(Outcome.UNREACHABLE, f"the proxy failed the connection to {where}")
    if isinstance(exc, httpx.ConnectError):
        return Reply(Outcome.UNREACHABLE, f"cannot connect to {where}: {_connect_reason(exc)}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return Reply(Outcome.ERROR, "api_base must start with http:// or https://")
    if isinstance(exc, httpx.LocalProtocolError | UnicodeError):
        # A header the HTTP library refused: a key with a line break, a control or non-ASCII
        # character (refused when secrets are resolved, so only a caller's own values get here).
        return Reply(
            Outcome.ERROR,
            f"the request to {where} could not be sent: a key or header value holds a "
            "character HTTP does not allow",
        )
    if isinstance(exc, httpx.RemoteProtocolError):
        return Reply(
            Outcome.UNREACHABLE,
            f"{where} broke the HTTP protocol (closed the connection, or answered something "
            "that is not HTTP: is the port or the scheme wrong?)",
        )
    if isinstance(exc, httpx.DecodingError):
        return Reply(Outcome.ERROR, f"the answer from {where} could not be decoded", transient=True)
    if isinstance(exc, httpx.TransportError):  # ReadError, WriteError, ...
        return Reply(Outcome.UNREACHABLE, f"the connection to {where} broke")
    if isinstance(exc, httpx.InvalidURL | ValueError | OverflowError):  # port 99999: Overflow
        return Reply(Outcome.ERROR, "api_base is not a valid URL")
    return Reply(Outcome.ERROR, f"the request to {where} failed ({type(exc).__name__})")


def deadline_reply(url: httpx.URL | str | None, deadline: float) -> Reply:
    """The outcome of a request whose whole exchange passed ``deadline`` seconds (each step
    within its timeout): no answer in time, as when a step times out."""
    return Reply(
        Outcome.UNREACHABLE,
        f"the answer from {host_of(url)} did not end within {deadline:g} s; llmform stops "
        "waiting there",
    )


def _head_too_large(exc: BaseException) -> str:
    """``"head"`` when h11 refused a head (or a chunk's framing line) longer than its bound:
    httpcore's h11 error (under httpx's) says so by its status hint, 431, never by its text."""
    for cause in _causes(exc):
        if isinstance(cause, h11.RemoteProtocolError) and cause.error_status_hint == 431:
            return "head"
    return ""


def _connect_reason(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _tls_reason(cause)
        if isinstance(cause, ssl.SSLError):
            return "the TLS handshake failed (is the port or the scheme wrong?)"
        if isinstance(cause, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "no route to the host"
    # httpcore wraps some as text only: read the kind, never quote it
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate not trusted (CERTIFICATE_VERIFY_FAILED)"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "the host name does not resolve"
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return "the connection failed"


def _tls_reason(error: ssl.SSLCertVerificationError) -> str:
    verify = str(getattr(error, "verify_message", "") or "")
    if "hostname" in verify or "IP address mismatch" in verify:
        why = "it does not name this host"
    elif "self-signed" in verify or "local issuer" in verify:
        why = "it is signed by a CA this machine does not trust"
    elif "expired" in verify:
        why = "it has expired"
    else:
        why = "it is not trusted"
    return f"TLS certificate refused, {why} (CERTIFICATE_VERIFY_FAILED)"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
