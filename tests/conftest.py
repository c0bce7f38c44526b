"""Shared test setup. Keep it small: a fixture used by one test file belongs in that file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from support.postgres import PostgresServer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    """The repository's top directory (where README.md and pyproject.toml are)."""
    return REPO


@pytest.fixture(autouse=True)
def _own_cache_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Key-check verdicts and parsed files are cached under XDG_CACHE_HOME: a test must
    neither read the developer's cache nor leave entries in it, nor see another test's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.delenv("LLMFORM_CACHE_DIR", raising=False)
    monkeypatch.delenv("LLMFORM_NO_CACHE", raising=False)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (tests/support/postgres.py), started when a test of the session
    first asks for it and removed at the end. A server that cannot start fails the tests that
    need it, with its log; it never skips them."""
    from support.postgres import PostgresStartError, running_server

    with ExitStack() as stack:
        try:
            server = stack.enter_context(running_server())
        except PostgresStartError as exc:
            pytest.fail(f"the PostgreSQL test server did not start: {exc}", pytrace=False)
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A fresh database of the session's server, as the login role's URL (with its password)."""
    return postgres.url(postgres.create_database())


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a store that does not exist yet, on each database in turn: a SQLite file
    (``tmp_path/store.db``) or a fresh PostgreSQL database. ``support.store_db`` reaches into
    either."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
