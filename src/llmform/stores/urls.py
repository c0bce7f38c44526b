"""Store URLs: which store a URL names, and the right URL for a near miss.

A path given where a URL is expected (``--store ./my.db``), a SQLite URL with too few slashes
(``sqlite://my.db``, ``sqlite:my.db``), a near miss of its scheme (``SQLite:``, ``sqlite3:``,
SQLAlchemy's ``sqlite+pysqlite:``, ``file:``), spaces around it, a ``~`` no shell expanded, or
a query (``?mode=ro``) is refused with the URL that was probably meant, rather than read as
something else: a typo in ``--store`` must never quietly name another store (``apply`` would
create it, a file named ``my.db?mode=ro`` or a folder named ``~``). A URL with a line break or
a terminal control in it is refused too, so that no message quoting the URL carries one.
"""

from __future__ import annotations

import os

from ..console import printable
from .base import StoreError

SQLITE_PREFIX = "sqlite:///"
_EXAMPLES = "sqlite:///relative/path.db or sqlite:////absolute/path.db"


def sqlite_url(path: str) -> str:
    """The URL of a SQLite file: ``my.db`` -> ``sqlite:///my.db``; ``/abs/my.db`` ->
    ``sqlite:////abs/my.db`` (three slashes, then the path)."""
    return SQLITE_PREFIX + path


def check_scheme(url: str, known: list[str]) -> str:
    """The scheme of ``url``; a plain path or a near miss gets the URL it probably meant."""
    if not url.strip():
        raise StoreError("the store URL is empty; write sqlite:///relative/path.db")
    if printable(url) != url:  # a line break or terminal control: in every message after this
        raise StoreError(
            f"the store URL '{printable(url)}' holds a line break or control character; "
            "write the URL of the file alone"
        )
    if url != url.strip():
        raise StoreError(
            f"the store URL {url!r} has spaces around it, which would name another file; "
            f"write {url.strip()!r}"
        )
    scheme, colon, rest = url.partition(":")
    if not colon or "/" in scheme or "\\" in scheme or (len(scheme) == 1 and scheme.isalpha()):
        raise StoreError(
            f"{url!r} is a path, not a store URL; write {sqlite_url(url)!r} ({_EXAMPLES})"
        )
    if scheme not in known:
        meant = _near_sqlite(scheme, rest)
        if meant is not None:
            raise StoreError(
                f"{url!r} is not a store URL llmform reads; write {meant!r} ({_EXAMPLES})"
            )
        listed = ", ".join(f"{s}://" for s in known)
        raise StoreError(f"unsupported store URL scheme {scheme!r} in {url!r}; use one of {listed}")
    return scheme


def _near_sqlite(scheme: str, rest: str) -> str | None:
    """The sqlite URL meant by ``SQLite:``, ``sqlite3:``, ``sqlite+DRIVER:`` or ``file:`` URLs
    (None: another scheme). ``file:`` URLs name their path as RFC 8089 does."""
    lowered = scheme.lower()
    if lowered == "file":
        path = rest
        if rest.startswith("//"):  # file://HOST/abs/path, file:///abs/path
            path = "/" + rest[2:].partition("/")[2]
        return sqlite_url(path) if path.strip("/") else None
    if lowered in ("sqlite", "sqlite3") or lowered.startswith(("sqlite+", "sqlite3+")):
        return _with_slashes(rest) if rest.strip("/") else None
    return None


def _with_slashes(rest: str) -> str:
    """What follows ``sqlite:`` with the slashes corrected: one slash (``sqlite:/abs.db``) reads
    as an absolute path, none or two as a relative one, three or more as written."""
    slashes = len(rest) - len(rest.lstrip("/"))
    if slashes >= 3:
        return "sqlite:" + rest
    path = rest.lstrip("/")
    return sqlite_url("/" + path if slashes == 1 else path)


def sqlite_path(url: str) -> str:
    """``sqlite:///rel/path.db`` -> ``rel/path.db``; ``sqlite:////abs.db`` -> ``/abs.db``."""
    if not url.startswith("sqlite:"):
        raise StoreError(f"{url!r} is not a SQLite store URL")
    rest = url[len("sqlite:") :]
    slashes = len(rest) - len(rest.lstrip("/"))
    if slashes < 3:
        if not rest.strip("/"):
            raise StoreError(f"{url!r} names no file; write sqlite:///relative/path.db")
        raise StoreError(
            f"{url!r} is not a SQLite store URL: it needs three slashes before a relative path "
            f"and four before an absolute one; write {_with_slashes(rest)!r}"
        )
    path = rest[3:]
    if not path:
        raise StoreError(f"{url!r} names no file; write sqlite:///relative/path.db")
    if path.startswith(":memory:") or path.endswith("/"):
        raise StoreError(f"{url!r} does not name a file; write sqlite:///relative/path.db")
    if "?" in path or "#" in path:
        bare = path.partition("?")[0].partition("#")[0]
        meant = repr(sqlite_url(bare)) if bare else "sqlite:///relative/path.db"
        raise StoreError(
            f"{url!r}: a store URL takes no query or fragment (llmform opens the file as it "
            f"needs); write {meant}"
        )
    if path.startswith("~") and os.path.expanduser(path) != path:
        raise StoreError(
            f"{url!r}: '~' is not expanded in a store URL (it would name a folder called "
            f"{path.partition('/')[0]!r}); write {sqlite_url(os.path.expanduser(path))!r}"
        )
    return path
