"""Connecting to a PostgreSQL registry or state store with psycopg 3, and saying in one line
what went wrong.

libpq takes the credentials and TLS options from the URL, the ``PG*`` variables and
``~/.pgpass``. A failure is a StoreError naming HOST:PORT/DBNAME and the fix, never libpq's
text with a password in it (libpq does not quote passwords; every message is scrubbed of the
URL's anyway), and never a traceback.

The connection is in autocommit mode: every transaction is begun explicitly, with its
isolation level and access mode written where it is begun.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import conninfo

from ...console import printable
from ...errors import StoreError
from .pg_urls import Endpoint

CONNECT_TIMEOUT_S = 10  # unless the URL or PGCONNECT_TIMEOUT says otherwise
APPLICATION_NAME = "llmform"


def connect(url: str, where: Endpoint, display_url: str) -> psycopg.Connection[Any]:
    options: dict[str, Any] = {"autocommit": True}
    given = conninfo.conninfo_to_dict(url)
    if "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
        options["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given and not os.environ.get("PGAPPNAME"):
        options["application_name"] = APPLICATION_NAME
    try:
        return psycopg.connect(url, **options)
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot open the store {display_url}: {connect_problem(exc, where, url)}"
        ) from None


def connect_problem(exc: psycopg.Error, where: Endpoint, url: str) -> str:
    """Why a connection failed, with the fix, in one line."""
    text = scrubbed(str(exc), url)
    if re.search(r'database "[^"]*" does not exist', text):
        return (
            f"the database {where.dbname} does not exist on {where.host}:{where.port}; llmform "
            "creates its tables in an existing database but never the database itself: ask "
            f"its administrator to create it (CREATE DATABASE {where.dbname} OWNER "
            f"{where.user}), or correct the database name in the URL"
        )
    if "password authentication failed" in text:
        return (
            f"{where}: password authentication failed for user {where.user}; check the "
            "password (in the URL, PGPASSWORD or ~/.pgpass) and the user name"
        )
    if "no password supplied" in text:
        return (
            f"{where}: the server asks user {where.user} for a password and none was given; "
            "set PGPASSWORD, add it to ~/.pgpass, or put it in the URL"
        )
    if "does not support SSL" in text or "SSL was required" in text:
        return (
            f"{where}: the server does not accept TLS, and the URL requires it (sslmode); "
            "enable TLS on the server, or, on a trusted network only, set sslmode=prefer"
        )
    if re.search(r"role \"[^\"]*\" does not exist", text):
        return f"{where}: there is no role {where.user} on the server; check the user name"
    if any(
        words in text
        for words in ("Connection refused", "timeout expired", "could not translate", "resolve")
    ):
        return (
            f"{where}: {_reason(text)}; check the host and port, and that the server is "
            "running and accepts connections from here"
        )
    return f"{where}: {_reason(text)}"


def _reason(text: str) -> str:
    """libpq's own words, on one line: the last 'failed:' part, without the hint lines."""
    first = text.strip().splitlines()[0] if text.strip() else "connection failed"
    reason = first.rpartition(" failed: ")[2] or first
    return printable(reason.replace("FATAL:  ", "").strip())


def scrubbed(text: str, url: str) -> str:
    """``text`` without the URL's password, however it is written."""
    try:
        password = conninfo.conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    if password:
        for form in {str(password), *_encodings(str(password))}:
            text = text.replace(form, "***")
    return text


def _encodings(password: str) -> Iterable[str]:
    yield quote(password, safe="")
    yield quote(password)


def error_text(exc: psycopg.Error, url: str) -> str:
    """A server error during a query, in one line, for a message: its primary text."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return printable(scrubbed(str(primary or exc).strip().splitlines()[0], url))


class QmarkCursor:
    """A psycopg cursor that takes the ``?`` placeholders of the SQL shared with SQLite
    (``registry_sql``), which has no literal ``?`` nor ``%`` of its own.

    ``read_as``: tables read as if they had more columns (``sqlite_schema.read_as_current``:
    an older registry read by a command that does not upgrade it). Each SELECT then reads
    them through a common table expression of the same name, the added columns at their
    defaults (a table added whole reads as one without rows); nothing is created, so it works
    in a READ ONLY transaction with SELECT alone.
    """

    def __init__(
        self,
        cursor: psycopg.Cursor[Any],
        read_as: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        self._cursor = cursor
        views = [
            f"{table} AS (SELECT *, {', '.join(f'{d} AS {c}' for c, d in columns)} FROM {table})"
            if columns[:1] != (("*", ""),)
            # a table the registry does not have yet: its columns, and no row
            else f"{table} AS (SELECT {', '.join(f'{d} AS {c}' for c, d in columns[1:])} "
            "WHERE 1 = 0)"
            for table, columns in (read_as or {}).items()
        ]
        self._with = f"WITH {', '.join(views)} " if views else ""

    def _sql(self, sql: str) -> str:
        if self._with and sql.lstrip().upper().startswith("SELECT"):
            sql = self._with + sql
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Any:
        return self._cursor.execute(self._sql(sql), params or None)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Any:
        rows = list(params)
        if rows:
            self._cursor.executemany(self._sql(sql), rows)

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def fetchone(self) -> Any:
        return self._cursor.fetchone()
