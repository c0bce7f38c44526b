"""Reading concurrent applies back from the audit trail."""

from __future__ import annotations

from collections.abc import Sequence

from llmform.state.audit import AuditEvent


def runs_in_order(events: Sequence[AuditEvent]) -> list[str]:
    """The run ids in the order their events appear, asserting that no run's events are
    interleaved with another's and that each run is bracketed by its start and end."""
    order: list[str] = []
    for event in events:
        if not order or order[-1] != event.run_id:
            assert event.run_id not in order, f"run {event.run_id} interleaved: {events}"
            assert event.action == "apply-start", event
            order.append(event.run_id)
    for run in order:
        mine = [e for e in events if e.run_id == run]
        assert (mine[0].action, mine[-1].action) == ("apply-start", "apply-end")
    return order
