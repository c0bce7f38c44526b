"""Store URLs: which store a URL names, and the right URL for a near miss.

A path given where a URL is expected (``--store ./my.db``), or a SQLite URL with too few
slashes (``sqlite://my.db``, ``sqlite:my.db``), is refused with the URL that was probably
meant, rather than read as something else: a typo in ``--store`` must never quietly name
another store.
"""

from __future__ import annotations

from .base import StoreError

SQLITE_PREFIX = "sqlite:///"


def sqlite_url(path: str) -> str:
    """The URL of a SQLite file: ``my.db`` -> ``sqlite:///my.db``; ``/abs/my.db`` ->
    ``sqlite:////abs/my.db`` (three slashes, then the path)."""
    return SQLITE_PREFIX + path


def check_scheme(url: str, known: list[str]) -> str:
    """The scheme of ``url``; a plain path gets the URL it probably meant."""
    if not url.strip():
        raise StoreError("the store URL is empty; write sqlite:///relative/path.db")
    scheme, colon, _ = url.partition(":")
    if not colon or "/" in scheme or "\\" in scheme or (len(scheme) == 1 and scheme.isalpha()):
        raise StoreError(
            f"{url!r} is a path, not a store URL; write {sqlite_url(url)!r} "
            f"(sqlite:///relative/path.db or sqlite:////absolute/path.db)"
        )
    if scheme not in known:
        listed = ", ".join(f"{s}://" for s in known)
        raise StoreError(f"unsupported store URL scheme {scheme!r} in {url!r}; use one of {listed}")
    return scheme


def sqlite_path(url: str) -> str:
    """``sqlite:///rel/path.db`` -> ``rel/path.db``; ``sqlite:////abs.db`` -> ``/abs.db``."""
    if not url.startswith("sqlite:"):
        raise StoreError(f"{url!r} is not a SQLite store URL")
    rest = url[len("sqlite:") :]
    slashes = len(rest) - len(rest.lstrip("/"))
    if slashes < 3:
        path = rest.lstrip("/")
        # one slash (sqlite:/abs.db) reads as an absolute path; none or two as a relative one
        meant = sqlite_url("/" + path if slashes == 1 else path)
        raise StoreError(
            f"{url!r} is not a SQLite store URL: it needs three slashes before a relative path "
            f"and four before an absolute one; write {meant!r}"
            if path
            else f"{url!r} names no file; write sqlite:///relative/path.db"
        )
    path = rest[3:]
    if not path:
        raise StoreError(f"{url!r} names no file; write sqlite:///relative/path.db")
    if path.startswith(":memory:") or path.endswith("/"):
        raise StoreError(f"{url!r} does not name a file; write sqlite:///relative/path.db")
    return path
