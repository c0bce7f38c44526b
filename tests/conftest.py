"""Shared test setup. Keep it small: a fixture used by one test file belongs in that file."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    """The repository's top directory (where README.md and pyproject.toml are)."""
    return REPO


@pytest.fixture(autouse=True)
def _own_cache_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Key-check verdicts are cached under XDG_CACHE_HOME: a test must neither read the
    developer's cache nor leave entries in it, nor see another test's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
