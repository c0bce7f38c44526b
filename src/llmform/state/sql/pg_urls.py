"""``postgresql://`` (and ``postgres://``) store URLs: the URL as it may be shown, and where it
points, for messages.

libpq reads the URL itself (``user[:password]@host[:port]/dbname?sslmode=...``), and fills in
what it leaves out from the ``PG*`` variables and ``~/.pgpass``: llmform never parses
credentials. It only takes the password out of every URL it shows (``display_url``), so that
messages, saved plans, the audit trail and the lock's holder never carry it.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from psycopg import conninfo

from ...errors import StoreError
from ..urls import quoted

SCHEMES = ("postgresql", "postgres")
# query parameters libpq reads that hold a secret (a password in the URL's query is legal)
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
EXAMPLE = "postgresql://USER@HOST:5432/DBNAME?sslmode=verify-full"


def display_url(url: str) -> str:
    """``url`` without its password (``user:secret@`` -> ``user@``, ``?password=`` dropped);
    everything else as written, TLS options included."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed '[' of an IPv6 address
        raise _unreadable(url) from None
    # the last '@': a password with a bare '@' in it (libpq would misread such a URL) is
    # still left out whole
    userinfo, at, hosts = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hosts}" if user else hosts
    query = "&".join(
        piece
        for piece in parts.query.split("&")
        if piece and unquote(piece.partition("=")[0]) not in _SECRET_PARAMETERS
    )
    # by hand: urlunsplit would turn postgresql:///db (the local socket) into postgresql:/db
    return f"{parts.scheme}://{netloc}{parts.path}{'?' if query else ''}{query}"


@dataclass(frozen=True)
class Endpoint:
    """Where a URL points, as libpq will read it (the URL, else the ``PG*`` variables, else
    libpq's defaults): for messages only."""

    host: str
    port: str
    dbname: str
    user: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"


def endpoint(url: str) -> Endpoint:
    """Raises StoreError (naming no part of the URL that may hold a password) when libpq
    cannot read ``url``."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except Exception:  # psycopg.ProgrammingError; libpq's words may quote the password
        raise _unreadable(url) from None
    user = str(params.get("user") or os.environ.get("PGUSER") or _login_name())
    return Endpoint(
        host=str(params.get("host") or os.environ.get("PGHOST") or "localhost"),
        port=str(params.get("port") or os.environ.get("PGPORT") or "5432"),
        dbname=str(params.get("dbname") or os.environ.get("PGDATABASE") or user),
        user=user,
    )


def _unreadable(url: str) -> StoreError:
    return StoreError(
        f"{quoted(url)} is not a PostgreSQL URL libpq can read; write {EXAMPLE} (the "
        "password, if any, percent-encoded, or in PGPASSWORD or ~/.pgpass)"
    )


def _login_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return "(your login name)"
