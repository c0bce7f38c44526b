"""URLs split and normalised as httpx 0.28 does (``httpx._urlparse``, RFC 3986), without
importing httpx: the trust rules decide on the URL the HTTP client will send to, and a plan that
checks no key (``--no-secrets``, ``validate``) should not pay for the client's import.

Only what the trust rules read is kept: scheme, userinfo, host (lower case, IDNA-encoded, an IPv6
address without brackets), port (None when it is the scheme's default), path (dot segments
removed, then percent-encoded), query and fragment. ``tests/unit/test_trust.py`` holds a table
of URLs to the answers httpx gave.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_MAX_LENGTH = 65536
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_SUB_DELIMS = "!$&'()*+,;="


def _printable_except(*excluded: int) -> str:
    return "".join(chr(i) for i in range(0x20, 0x7F) if i not in excluded)


# The characters each component keeps as they are (besides the unreserved ones).
_PATH_SAFE = _printable_except(0x20, 0x22, 0x23, 0x3C, 0x3E, 0x3F, 0x60, 0x7B, 0x7D)
_QUERY_SAFE = _printable_except(0x20, 0x22, 0x23, 0x3C, 0x3E)
_FRAGMENT_SAFE = _printable_except(0x20, 0x22, 0x3C, 0x3E, 0x60)
_USERINFO_SAFE = _printable_except(
    *(0x20, 0x22, 0x23, 0x3C, 0x3E, 0x3F, 0x60, 0x7B, 0x7D),
    *(0x2F, 0x3B, 0x3D, 0x40, 0x5B, 0x5C, 0x5D, 0x5E, 0x7C),
)
_HOST_SAFE = _SUB_DELIMS + '"`{}%|\\'  # WHATWG's: kept in an ASCII host name

_URL = re.compile(
    r"(?:(?P<scheme>(?:[a-zA-Z][a-zA-Z0-9+.-]*)?):)?"
    r"(?://(?P<authority>[^/?#]*))?"
    r"(?P<path>[^?#]*)"
    r"(?:\?(?P<query>[^#]*))?"
    r"(?:#(?P<fragment>.*))?"
)
_AUTHORITY = re.compile(r"(?:(?P<userinfo>.*)@)?(?P<host>\[.*\]|[^:@]*):?(?P<port>.*)?")
_IPV4_STYLE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$")
_ESCAPE = re.compile("%[A-Fa-f0-9]{2}")
_DEFAULT_PORTS = {"ftp": 21, "http": 80, "https": 443, "ws": 80, "wss": 443}


class InvalidUrl(ValueError):
    """Text the HTTP client would refuse as a URL; says why."""


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str  # lower case; "" when there is none
    userinfo: str
    host: str
    port: int | None  # None: absent, or the scheme's default
    path: str
    query: str | None
    fragment: str | None

    @property
    def is_absolute(self) -> bool:
        return bool(self.scheme and self.host)

    def without_userinfo_query_fragment(self) -> str:
        """The URL as httpx prints it once userinfo, query and fragment are dropped (it parses
        the parts again: the host is lower-cased after its escapes, the port's default found
        by the lower-case scheme)."""
        port = _port(None if self.port is None else str(self.port), self.scheme)
        host = _host(f"[{self.host}]" if ":" in self.host else self.host)
        host = f"[{host}]" if ":" in host else host
        authority = host + ("" if port is None else f":{port}")
        _check_path(self.path, bool(self.scheme), bool(authority))
        return (
            (f"{self.scheme}:" if self.scheme else "")
            + (f"//{authority}" if authority else "")
            + self.path
        )


def parse_url(url: str) -> ParsedUrl:
    """``url`` split and normalised as ``httpx.URL(url)`` does; ``InvalidUrl`` where it
    raises ``httpx.InvalidURL``."""
    if len(url) > _MAX_LENGTH:
        raise InvalidUrl("URL too long")
    for position, char in enumerate(url):
        if char.isascii() and not char.isprintable():
            raise InvalidUrl(f"invalid non-printable ASCII character {char!r} at {position}")
    parts = _URL.match(url)
    assert parts is not None  # every part is optional
    authority = _AUTHORITY.match(parts["authority"] or "")
    assert authority is not None
    scheme = parts["scheme"] or ""
    userinfo = _quote(authority["userinfo"] or "", _USERINFO_SAFE)
    host = _host(authority["host"] or "")
    port = _port(authority["port"], scheme)
    path = parts["path"] or ""
    has_authority = userinfo != "" or host != "" or port is not None
    _check_path(path, scheme != "", has_authority)
    if scheme or has_authority:
        path = _without_dot_segments(path)
    query, fragment = parts["query"], parts["fragment"]
    return ParsedUrl(
        scheme.lower(),
        userinfo,
        host,
        port,
        _quote(path, _PATH_SAFE),
        None if query is None else _quote(query, _QUERY_SAFE),
        None if fragment is None else _quote(fragment, _FRAGMENT_SAFE),
    )


def _host(host: str) -> str:
    if not host:
        return ""
    if _IPV4_STYLE.match(host):
        try:
            ipaddress.IPv4Address(host)
        except ipaddress.AddressValueError:
            raise InvalidUrl(f"invalid IPv4 address: {host!r}") from None
        return host
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ipaddress.AddressValueError:
            raise InvalidUrl(f"invalid IPv6 address: {host!r}") from None
        return host[1:-1]
    if host.isascii():
        return _quote(host.lower(), _HOST_SAFE)
    import idna  # only for a host that is not ASCII; httpx's own dependency

    try:
        return str(idna.encode(host.lower()).decode("ascii"))
    except idna.IDNAError:
        raise InvalidUrl(f"invalid IDNA host name: {host!r}") from None


def _port(port: str | None, scheme: str) -> int | None:
    """The port as a number; None when absent or the default of ``scheme`` as written (httpx
    looks the default up before lower-casing the scheme)."""
    if port is None or port == "":
        return None
    try:
        number = int(port)
    except ValueError:
        raise InvalidUrl(f"invalid port: {port!r}") from None
    return None if number == _DEFAULT_PORTS.get(scheme) else number


def _check_path(path: str, has_scheme: bool, has_authority: bool) -> None:
    if has_authority and path and not path.startswith("/"):
        raise InvalidUrl("for absolute URLs, path must be empty or begin with '/'")
    if not has_scheme and not has_authority and path.startswith(("//", ":")):
        raise InvalidUrl("a relative URL's path cannot start with '//' or ':'")


def _without_dot_segments(path: str) -> str:
    components = path.split("/")
    if "." not in components and ".." not in components:
        return path
    out: list[str] = []
    for component in components:
        if component == "..":
            if out and out != [""]:
                out.pop()
        elif component != ".":
            out.append(component)
    return "/".join(out)


def _quote(text: str, safe: str) -> str:
    """Percent-encode what is neither unreserved nor ``safe``, keeping existing ``%XX``."""
    kept = _UNRESERVED + safe
    out: list[str] = []
    position = 0
    for match in _ESCAPE.finditer(text):
        out.append(_encode(text[position : match.start()], kept))
        out.append(match.group(0))
        position = match.end()
    out.append(_encode(text[position:], kept))
    return "".join(out)


def _encode(text: str, kept: str) -> str:
    if not text.rstrip(kept):
        return text
    return "".join(
        c if c in kept else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in text
    )
