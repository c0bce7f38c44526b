"""Which endpoints a key may be sent to: URLs in the form the HTTP client sends to, and the
rule that decides whether one lies under a trusted one.

A key check sends a real key to a config's ``api_base``, and on a pull request that field is
written by whoever opened it. So the decision is made on the URL as httpx parses it (the URL
the request really goes to, whatever the text looked like; ``url_parse`` parses it the same way
without importing httpx), and anything whose destination is
ambiguous is never trusted: a host in a numeric form other than a plain dotted quad (``127.1``,
``2130706433``, ``0x7f.0.0.1``, which resolvers read differently), a percent-encoded host, a
trailing dot (``llm.`` is looked up without the search domains ``llm`` is, so it may be
another host). Matching compares
scheme, host (lower case, IDNA-encoded), port (the default made explicit) and whole path
segments, after decoding unreserved percent-escapes and removing dot segments: a server may
decode ``%2e%2e`` and climb out of the trusted path, so the decision assumes it does.
Userinfo, query and fragment do not change where a request goes and are ignored.

Pure: where trusted URLs come from (the catalog, the store, settings) is ``trust_sources``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from .url_parse import InvalidUrl, ParsedUrl, parse_url

DEFAULT_PORTS = {"http": 80, "https": 443}

_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


class UntrustableUrl(ValueError):
    """A URL no trust can cover (not http(s), no host, an ambiguous host); says why."""


@dataclass(frozen=True)
class NormalUrl:
    """A URL reduced to what decides where a request goes."""

    scheme: str  # http | https
    host: str  # lower case, IDNA (punycode); an IPv6 address compressed, without brackets
    port: int  # explicit, the scheme's default filled in
    segments: tuple[str, ...] = ()  # the path, normalised; () is the root

    def within(self, trusted: NormalUrl) -> bool:
        """Same scheme, host and port, and the path is ``trusted``'s path or below it."""
        return (
            self.scheme == trusted.scheme
            and self.host == trusted.host
            and self.port == trusted.port
            and self.segments[: len(trusted.segments)] == trusted.segments
        )

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        path = "".join(f"/{s}" for s in self.segments)
        return f"{self.scheme}://{host}{port}{path}"


def normal_url(url: object) -> NormalUrl:
    """``url`` as the HTTP client will send to it; ``UntrustableUrl`` when no trust may cover
    it. Besides text, an ``httpx.URL`` (read as its text) or an already parsed URL."""
    try:
        parsed = _parsed(url)
    except InvalidUrl as exc:
        raise UntrustableUrl(f"not a valid URL ({exc})") from None
    scheme = parsed.scheme
    if scheme not in DEFAULT_PORTS:
        raise UntrustableUrl("not an http:// or https:// URL")
    host = _host(parsed.host.lower())
    port = parsed.port if parsed.port is not None else DEFAULT_PORTS[scheme]
    return NormalUrl(scheme, host, port, _segments(parsed.path))


def _parsed(url: object) -> ParsedUrl:
    """``url`` split; an ``httpx.URL`` (the key checks' requests) as httpx parsed it, not
    parsed again (this module does not import httpx: a process that made one has)."""
    if isinstance(url, ParsedUrl):
        return url
    client = sys.modules.get("httpx")
    if client is not None and isinstance(url, client.URL):
        host = url.raw_host.decode("ascii", "replace")
        path = url.raw_path.decode("ascii", "replace").partition("?")[0]
        return ParsedUrl(url.scheme.lower(), "", host, url.port, path, None, None)
    return parse_url(str(url))


def _host(host: str) -> str:
    if not host:
        raise UntrustableUrl("no host")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%")).compressed
        except ValueError:
            raise UntrustableUrl(f"{host!r} is not an IPv6 address") from None
    if not _HOST.fullmatch(host):
        raise UntrustableUrl(f"the host {host!r} has characters no host name has")
    if host.endswith("."):
        raise UntrustableUrl(f"drop the trailing dot of {host!r}: it may name another host")
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # An IPv4 address, which only a plain dotted quad states unambiguously.
        try:
            canonical = str(ipaddress.IPv4Address(host))
        except ValueError:
            canonical = ""
        if canonical != host:
            raise UntrustableUrl(f"write the address {host!r} as {_dotted(host)}")
    return host


def _dotted(host: str) -> str:
    """What a resolver makes of a numeric host (``127.1`` -> ``127.0.0.1``), for the advice."""
    try:
        return socket.inet_ntoa(socket.inet_aton(host.rstrip(".")))
    except (OSError, ValueError):
        return "a dotted quad (a.b.c.d)"


def _segments(path: str) -> tuple[str, ...]:
    """Path segments as the most lenient server would read them: unreserved escapes decoded
    (``%76%31`` is ``v1``, ``%2e`` is ``.``), and ``%25`` too, until nothing changes (a server
    may decode twice); other escapes upper-cased; ``%2F``, ``%5C`` and ``\\`` taken as
    separators (servers such as nginx decode them before routing); dot segments removed
    (RFC 3986 5.2.4) and a trailing slash dropped."""

    def unescape(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        if char in "/\\":
            return "/"
        return char if char in _UNRESERVED or char == "%" else "%" + match.group(1).upper()

    for _ in range(8):
        decoded = _ESCAPE.sub(unescape, path)
        if decoded == path:
            break
        path = decoded
    out: list[str] = []
    for segment in path.replace("\\", "/").split("/")[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    while out and out[-1] == "":
        out.pop()
    return tuple(out)


def trusted_url(text: str) -> NormalUrl:
    """A URL as a setting names a trusted endpoint: an absolute http(s) URL with no user,
    query or fragment. ``ValueError`` says what is wrong and how to write it."""
    text = text.strip()
    if "*" in text:
        raise ValueError("wildcards are not supported; list each endpoint")
    try:
        parsed = parse_url(text)
    except InvalidUrl:  # its text quotes the URL
        raise ValueError("not a valid URL; write e.g. https://llm.example/v1") from None
    if not parsed.is_absolute or parsed.scheme not in DEFAULT_PORTS:
        raise ValueError("not an absolute http:// or https:// URL (e.g. https://llm.example/v1)")
    if parsed.userinfo or parsed.query or parsed.fragment or "?" in text or "#" in text:
        raise ValueError("a trusted endpoint has no user, query or fragment")
    try:
        return normal_url(parsed)
    except UntrustableUrl as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class HostPattern:
    """Hosts a provider builds from a fixed pattern (an Azure resource, an AWS region): the
    host must match ``pattern`` in full, over ``scheme`` on its default port."""

    pattern: re.Pattern[str]
    scheme: str = "https"

    def covers(self, url: NormalUrl) -> bool:
        return (
            url.scheme == self.scheme
            and url.port == DEFAULT_PORTS[self.scheme]
            and self.pattern.fullmatch(url.host) is not None
        )


@dataclass(frozen=True)
class EndpointTrust:
    """The endpoints a run may send keys to: trusted URLs (each trusting its path and below)
    and provider host patterns."""

    urls: frozenset[NormalUrl] = field(default_factory=frozenset)
    patterns: tuple[HostPattern, ...] = ()

    def allows(self, url: object) -> bool:
        try:
            target = normal_url(url)
        except UntrustableUrl:
            return False
        return any(target.within(t) for t in self.urls) or any(
            p.covers(target) for p in self.patterns
        )

    def plus(self, urls: Iterable[NormalUrl]) -> EndpointTrust:
        return EndpointTrust(self.urls | frozenset(urls), self.patterns)


def shown(url: str) -> str:
    """How a refused endpoint is named to the user: normalised when it can be, else without
    userinfo, query and fragment."""
    try:
        return str(normal_url(url))
    except UntrustableUrl:
        pass
    try:
        return parse_url(url).without_userinfo_query_fragment()
    except InvalidUrl:
        return "(an invalid URL)"
