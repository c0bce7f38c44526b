"""Shared test setup. Keep it small: a fixture used by one test file belongs in that file."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    """The repository's top directory (where README.md and pyproject.toml are)."""
    return REPO
