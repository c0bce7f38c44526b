"""Targets, chosen by URL scheme: what llmform configures (``targets.base``). The registry is
the only one so far, and keeps its own state (a ``Store``)."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import StoreError
from ..state.urls import check_scheme, quoted
from .base import NoStoreError, OpenMode, Store

DEFAULT_STORE_URL = "sqlite:///.llmform/llmform.db"


def _sqlite(url: str, mode: OpenMode) -> Store:
    from .registry.sqlite import SqliteStore  # start-up time: sqlite3 only for a sqlite:// store

    return SqliteStore(url, mode)


def _postgresql(url: str, mode: OpenMode) -> Store:
    from .registry.postgres import PostgresStore  # start-up time: psycopg only for a server

    return PostgresStore(url, mode)


STORES: dict[str, Callable[[str, OpenMode], Store]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "postgres": _postgresql,  # libpq's other spelling
}


def shown_url(url: str) -> str:
    """``url`` as messages show it: a PostgreSQL URL without its password (a SQLite URL holds
    none: ``urls.check_scheme`` refuses one that looks like it does)."""
    if url.partition(":")[0] not in ("postgresql", "postgres"):
        return url
    from ..state.sql.pg_urls import display_url  # start-up time: psycopg only for a server

    try:
        return display_url(url)
    except StoreError:
        return quoted(url)


def open_store(url: str, mode: OpenMode = OpenMode.CREATE) -> Store:
    """Open the store at ``url`` as ``mode`` says (see OpenMode: only CREATE and APPLY ever
    create one; READ and PLAN never write). The default suits a program that sets a store up;
    every command names its mode (``cli.options.opened``)."""
    factory = STORES[check_scheme(url, sorted(STORES))]
    return factory(url, mode)


__all__ = [
    "DEFAULT_STORE_URL",
    "STORES",
    "NoStoreError",
    "OpenMode",
    "Store",
    "StoreError",
    "open_store",
    "shown_url",
]
