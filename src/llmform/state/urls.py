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
import re
from urllib.parse import urlsplit

from ..console import printable
from ..desired.secret_shapes import looks_like_key, url_secret
from ..errors import StoreError

SQLITE_PREFIX = "sqlite:///"
# Here rather than beside what opens them, so that the command line's help names them without
# importing the engine and the targets (start-up time of the commands that use no store).
DEFAULT_STORE_URL = "sqlite:///.llmform/llmform.db"
DEFAULT_STATE_URL = "sqlite:///.llmform/state.db"  # for targets that keep no state
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
            f"the store URL {quoted(url)} has spaces around it, which would name another "
            f"file; write {_meant(url, url.strip())}"
        )
    scheme, colon, rest = url.partition(":")
    if not colon or "/" in scheme or "\\" in scheme or (len(scheme) == 1 and scheme.isalpha()):
        raise StoreError(
            f"{quoted(url)} is a path, not a store URL; write {_meant(url, sqlite_url(url))} "
            f"({_EXAMPLES})"
        )
    if scheme not in known:
        meant = _near_sqlite(scheme, rest)
        if meant is not None:
            raise StoreError(
                f"{quoted(url)} is not a store URL llmform reads; write {_meant(url, meant)} "
                f"({_EXAMPLES})"
            )
        listed = ", ".join(f"{s}://" for s in known)
        raise StoreError(
            f"unsupported store URL scheme {scheme!r} in {quoted(url)}; use one of {listed}"
        )
    return scheme


def quoted(url: str) -> str:
    """A store URL as an error quotes it: not at all when it may carry a password (a
    ``user:password@``, a credential in its query, a key-shaped part), as database URLs do."""
    authority = url.partition("://")[2].partition("/")[0]
    try:
        secret = url_secret(urlsplit(url))
    except ValueError:
        secret = None
    parts = re.split(r"[/:@?#&=;]", url)
    if "@" in authority or secret or any(looks_like_key(part) for part in parts):
        return "(the URL, not shown: it may hold a password)"
    return repr(url)


def _meant(url: str, suggestion: str) -> str:
    """The URL meant, quoted, unless it is made of a URL that is not quoted."""
    return repr(suggestion) if quoted(url) == repr(url) else _EXAMPLES


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
        raise StoreError(f"{quoted(url)} is not a SQLite store URL")
    rest = url[len("sqlite:") :]
    slashes = len(rest) - len(rest.lstrip("/"))
    if slashes < 3:
        if not rest.strip("/"):
            raise StoreError(f"{quoted(url)} names no file; write sqlite:///relative/path.db")
        raise StoreError(
            f"{quoted(url)} is not a SQLite store URL: it needs three slashes before a relative "
            f"path and four before an absolute one; write {_meant(url, _with_slashes(rest))}"
        )
    path = rest[3:]
    if not path:
        raise StoreError(f"{quoted(url)} names no file; write sqlite:///relative/path.db")
    if path.startswith(":memory:") or path.endswith("/"):
        raise StoreError(f"{quoted(url)} does not name a file; write sqlite:///relative/path.db")
    if "?" in path or "#" in path:
        bare = path.partition("?")[0].partition("#")[0]
        meant = _meant(url, sqlite_url(bare)) if bare else "sqlite:///relative/path.db"
        raise StoreError(
            f"{quoted(url)}: a store URL takes no query or fragment (llmform opens the file as "
            f"it needs); write {meant}"
        )
    if path.startswith("~") and os.path.expanduser(path) != path:
        meant = _meant(url, sqlite_url(os.path.expanduser(path)))
        raise StoreError(
            f"{quoted(url)}: '~' is not expanded in a store URL (it would name a folder called "
            f"{path.partition('/')[0]!r}); write {meant}"
        )
    return path
