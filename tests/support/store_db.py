"""Reaching into a store behind llmform's back, as an application, a person or an attacker
would, whatever the store: a SQLite file or a PostgreSQL database (the ``store_url`` fixture).

SQL is written once, with ``?`` placeholders, in the subset both databases speak.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from llmform.state.urls import sqlite_path
from llmform.targets.registry.postgres_migrate import TABLES
from llmform.targets.registry.sqlite_schema import POSTGRESQL


class StoreDb:
    """One connection to the store's database, each statement committed on its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgresql:", "postgres:"))
        if self.postgres:
            self._pg: psycopg.Connection[Any] = psycopg.connect(url, autocommit=True)
        else:
            self._lite = sqlite3.connect(sqlite_path(url), isolation_level=None)

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.postgres:
            cur = self._pg.execute(statement.replace("?", "%s"), params or None)
            return [tuple(row) for row in cur.fetchall()] if cur.description else []
        return self._lite.execute(statement, params).fetchall()

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.rows(statement, params)

    def one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        """The single value of a single row."""
        (row,) = self.rows(statement, params)
        (value,) = row
        return value

    def close(self) -> None:
        (self._pg if self.postgres else self._lite).close()


@contextmanager
def store_db(url: str) -> Iterator[StoreDb]:
    db = StoreDb(url)
    try:
        yield db
    finally:
        db.close()


def serial(url: str) -> int:
    with store_db(url) as db:
        return int(db.one("SELECT value FROM meta WHERE key = 'serial'"))


def store_exists(url: str) -> bool:
    """The store is there: its file, or llmform's tables in the database."""
    if not url.startswith(("postgresql:", "postgres:")):
        return Path(sqlite_path(url)).exists()
    with store_db(url) as db:
        return bool(db.one("SELECT to_regclass('meta') IS NOT NULL"))


def snapshot(url: str) -> object:
    """Everything the store holds, to compare before and after: the file's bytes, or every
    row of every table (and which tables there are) of the database."""
    if not url.startswith(("postgresql:", "postgres:")):
        path = Path(sqlite_path(url))
        return path.read_bytes() if path.exists() else None
    with store_db(url) as db:
        tables = [t for t in TABLES if db.one("SELECT to_regclass(?) IS NOT NULL", (t,))]
        return {t: sorted(map(repr, db.rows(f"SELECT * FROM {t}"))) for t in tables}


def load_dump(url: str, dump: str) -> None:
    """A store built from a dump of a SQLite registry (sqlite3's iterdump): run as it is on
    SQLite; on PostgreSQL translated (``postgres_statements``), in one transaction."""
    if not url.startswith(("postgresql:", "postgres:")):
        with sqlite3.connect(sqlite_path(url)) as conn:
            conn.executescript(dump)
        return
    with psycopg.connect(url) as conn, conn.transaction():
        for statement in postgres_statements(dump):
            conn.execute(statement.encode())  # no parameters: a '%' is the dump's own


def postgres_statements(dump: str) -> list[str]:
    """A SQLite dump as PostgreSQL runs it: the dump's own transaction dropped (the caller's
    holds it), each table created and filled before the tables that reference it (iterdump
    goes by name), SQLite's 64-bit counter in the dialect's word for it; indexes last."""
    statements, pending = [], ""
    for line in dump.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    tables: dict[str, list[str]] = {}
    last: list[str] = []
    for statement in statements:
        if statement in ("BEGIN TRANSACTION;", "COMMIT;"):
            continue
        created = re.match(r'CREATE TABLE "?(\w+)"?', statement)
        filled = re.match(r'INSERT INTO "?(\w+)"?', statement)
        if created:
            statement = re.sub(
                r"used_tokens INTEGER\b", f"used_tokens {POSTGRESQL.int64}", statement
            )
            tables[created.group(1)] = [statement]
        elif filled:
            tables[filled.group(1)].append(statement)
        else:
            last.append(statement)
    ordered = sorted(tables.values(), key=lambda table: "REFERENCES" in table[0])
    return [statement for table in ordered for statement in table] + last


def columns(url: str, table: str) -> list[str]:
    with store_db(url) as db:
        if db.postgres:
            rows = db.rows(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
                " AND table_schema = current_schema() ORDER BY ordinal_position",
                (table,),
            )
        else:
            rows = [(row[1],) for row in db.rows(f"PRAGMA table_info({table})")]
    return [row[0] for row in rows]
