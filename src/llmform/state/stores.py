"""State stores, chosen by the scheme of ``--state``: where llmform keeps its state of a target
that keeps none of its own (``targets.base.SteppedTarget``: MLflow's gateway).

One state store may hold the state of several targets, each keyed by the target's URL as shown
(without credentials), so the default ``sqlite:///.llmform/state.db`` serves every gateway a
repository manages.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import OpenMode, SteppedStateStore
from .urls import check_scheme


def _sqlite(url: str, mode: OpenMode, target_url: str) -> SteppedStateStore:
    from .sql.sqlite_store import SqliteStateStore  # start-up time: sqlite3 only when used

    return SqliteStateStore(url, mode, target_url)


def _postgres(url: str, mode: OpenMode, target_url: str) -> SteppedStateStore:
    from .sql.postgres_store import PostgresStateStore  # start-up time: psycopg only when used

    return PostgresStateStore(url, mode, target_url)


STATES: dict[str, Callable[[str, OpenMode, str], SteppedStateStore]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def open_state(url: str, mode: OpenMode, target_url: str) -> SteppedStateStore:
    """The state of the target ``target_url`` (as shown) in the state store at ``url``, opened
    as ``mode`` says (``OpenMode``: only CREATE and APPLY create; PLAN and READ never write)."""
    return STATES[check_scheme(url, sorted(STATES))](url, mode, target_url)
