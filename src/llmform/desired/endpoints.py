"""Checks of the URLs a desired state names (``api_base``): usable, and holding no secret."""

from __future__ import annotations

import re

from .secret_shapes import url_secret

_SPACE = re.compile(r"\s")  # what str.isspace() calls a space, Unicode's included
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def check_url(value: str) -> tuple[str | None, str | None]:
    """(problem, insecure host): a problem makes the URL unusable; an insecure host is plain
    http to a host that is not loopback.

    The URL is not quoted in a problem: people paste keys into URLs (user:key@host, ?key=...),
    and the location of the field is enough to find it.
    """
    # start-up time: urllib's parser (and ipaddress) only for a state that names a URL
    from urllib.parse import urlsplit

    example = "write e.g. https://api.example.com/v1"
    if _SPACE.search(value):
        return f"not a valid URL: it contains a space; {example}", None
    try:
        parts = urlsplit(value)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        # urllib's text may quote the bad part: say what is wrong in our words
        what = "the port must be a number from 1 to 65535"
        if "IPv6" in str(exc):
            what = "unbalanced '[' ']' around the host"
        elif "NFKC" in str(exc):
            what = "the host has characters Unicode normalisation turns into '/', '?', '#' or '@'"
        return f"not a valid URL: {what}; {example}", None
    if parts.scheme not in ("http", "https") or not host:
        return f"not a valid http(s) URL; {example}", None
    if port == 0:
        return f"not a valid URL: the port must be a number from 1 to 65535; {example}", None
    unsendable = _unsendable(value, host)
    if unsendable:
        return f"not a valid URL: {unsendable}; {example}", None
    secret = url_secret(parts)
    if secret is not None:
        return secret, None
    if parts.scheme == "http" and not _is_loopback(host):
        return None, host
    return None, None


def _unsendable(value: str, host: str) -> str | None:
    """Why the HTTP client the key checks use would refuse ``value`` (None if it would not),
    in our words: urllib accepts hosts that httpx cannot encode (``xn--a-.com``, a soft hyphen
    or a full-width letter in a name, ``256.1.1.1``) and control characters in the path."""
    plain_name = not host[-1:].isdigit() and ":" not in host and "xn--" not in host
    if plain_name and value.isascii() and value.isprintable():
        return None  # what httpx refuses in such a URL, urllib has refused already (the port)
    import httpx  # the CLI has it loaded; a library caller pays only for unusual URLs

    try:
        httpx.Request("GET", value)  # parsed and its Host header made, as a key check does
    except (httpx.InvalidURL, ValueError) as exc:  # UnicodeError and IDNAError are ValueErrors
        text = str(exc)
        if "IPv4" in text or "IPv6" in text:
            return "the host is not a valid IP address"
        if "non-printable" in text or (isinstance(exc, UnicodeError) and "surrogate" in text):
            return "it contains a control character or a character that is not text"
        if "IDNA" in text or isinstance(exc, UnicodeError):
            return "the host is not a valid domain name (international names included)"
        return "the HTTP client cannot parse it"
    return None


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    import ipaddress  # start-up time: see check_url

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
