"""Targets, chosen by URL scheme: what llmform configures (``targets.base``). The registry keeps
its own state (a ``Store``); MLflow's AI Gateway (``mlflow+http://``, ``mlflow+https://``) is a
``SteppedTarget`` whose state is in a state store (``engine.backend``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from ..errors import StoreError
from ..state.urls import DEFAULT_STORE_URL, check_scheme, quoted
from .base import NoStoreError, OpenMode, SteppedTarget, Store, Target


def _sqlite(url: str, mode: OpenMode) -> Store:
    from .registry.sqlite import SqliteStore  # start-up time: sqlite3 only for a sqlite:// store

    return SqliteStore(url, mode)


def _postgresql(url: str, mode: OpenMode) -> Store:
    from .registry.postgres import PostgresStore  # start-up time: psycopg only for a server

    return PostgresStore(url, mode)


def _mlflow(url: str, mode: OpenMode) -> Target:
    from .mlflow.target import MlflowTarget  # start-up time: httpx only for a gateway

    return MlflowTarget(url, mode)


STORES: dict[str, Callable[[str, OpenMode], Target]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "postgres": _postgresql,  # libpq's other spelling
    "mlflow+http": _mlflow,
    "mlflow+https": _mlflow,
}


def shown_url(url: str) -> str:
    """``url`` as messages show it: a PostgreSQL or MLflow URL without its credentials (a
    SQLite URL holds none: ``urls.check_scheme`` refuses one that looks like it does)."""
    scheme = url.partition(":")[0]
    if scheme in ("mlflow+http", "mlflow+https"):
        from .mlflow.wire import display_url as mlflow_display_url  # start-up time: httpx

        return mlflow_display_url(url)
    if scheme not in ("postgresql", "postgres"):
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
    target = STORES[check_scheme(url, sorted(STORES))](url, mode)
    if isinstance(target, SteppedTarget):  # its state is elsewhere: engine.backend pairs them
        target.close()
        raise StoreError(f"{shown_url(url)} keeps no state of its own; open it with its state")
    return cast(Store, target)


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
