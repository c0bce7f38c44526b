"""A guard on the audit table's reads: a query for the whole trail fails the test (issue 14: a
saved plan's apply reads its own run's events and the trail's last event, never the trail)."""

from __future__ import annotations

from typing import Any

import pytest

from llmform.state.sql import sqlite_state


def refuse_whole_trail(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, bool]]:
    """Every read of the audit table (the registry's and the state stores', SQLite's and
    PostgreSQL's) goes through ``read_audit``: from now on one without a run id or
    ``last_only`` fails. Returns the (run_id, last_only) of each read, as they come."""
    reads: list[tuple[str | None, bool]] = []
    real = sqlite_state.read_audit

    def guarded(cur: Any, *args: Any, run_id: str | None = None, last_only: bool = False) -> Any:
        reads.append((run_id, last_only))
        assert run_id is not None or last_only, "the whole audit trail was read"
        return real(cur, *args, run_id=run_id, last_only=last_only)

    monkeypatch.setattr(sqlite_state, "read_audit", guarded)
    return reads
