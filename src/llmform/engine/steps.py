"""The stepped apply: a plan's changes to a target that cannot apply them together with
llmform's state (``targets.base.SteppedTarget``, an external API), one at a time.

The changes come in the plan's apply order (deletes first, configs before workspaces before
factories; then creates and updates, factories before workspaces before configs: ``core.diff``).
Each step lands in the target, then is recorded in the state in a write of its own (the
resources last applied, its audit event, the serial): a run stopped at step k leaves steps
before k applied and recorded, says so, and a re-plan shows only what is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..console import printable
from ..core.diff import Change
from ..errors import LlmformError
from ..state.audit import POLICY_OVERRIDE, AuditEvent
from ..state.audit_keys import ChainKey
from ..state.base import SteppedStateStore
from ..targets.base import SteppedTarget

# How many addresses a report of a stopped apply names of those applied or left (the rest are
# counted): the audit trail and a new plan list them all.
NAMED = 5


class PartialApplyError(LlmformError):
    """A stepped apply stopped at a change: those before it are applied and recorded."""

    def __init__(self, changes: Sequence[Change], applied: int, reason: Exception) -> None:
        self.applied = applied
        self.failed = failed = changes[applied]
        landed = _named(changes[:applied], " (", ")")
        left = _named(changes[applied + 1 :], "; not applied after it: ", "")
        super().__init__(
            f"apply stopped at {failed.address} ({failed.action}): {printable(str(reason))}; "
            f"{applied} of {len(changes)} change(s) were applied and recorded before it"
            f"{landed}{left}; run llmform plan to see what is left"
        )


def _named(changes: Sequence[Change], before: str, after: str) -> str:
    """Up to NAMED addresses of ``changes`` between ``before`` and ``after``; none: ''."""
    if not changes:
        return ""
    names = [printable(c.address) for c in changes[:NAMED]]
    more = f" and {len(changes) - NAMED} more" if len(changes) > NAMED else ""
    return f"{before}{', '.join(names)}{more}{after}"


def apply_in_steps(
    target: SteppedTarget,
    state: SteppedStateStore,
    changes: Sequence[Change],
    expected: tuple[str, int],
    audit_drafts: Sequence[Mapping[str, Any]],
    sealed: Mapping[str, Mapping[str, str]] | None = None,
    chain_key: ChainKey | None = None,
) -> list[AuditEvent]:
    """Apply ``changes`` in order, recording each in ``state`` as it lands. ``audit_drafts``
    are ``audit.drafts_for``'s: the start, the policy overrides, one per change, the end; the
    start and the overrides go with the first step and the end with the last (or, on a
    failure, with the failure's result)."""
    start, end = audit_drafts[0], audit_drafts[-1]
    overrides = [d for d in audit_drafts[1:-1] if d["action"] == POLICY_OVERRIDE]
    per_change = audit_drafts[1 + len(overrides) : -1]
    start_drafts = [start, *overrides]
    events: list[AuditEvent] = []
    at = expected
    for index, change in enumerate(changes):
        try:
            if change.kind != "policy":  # a policy lives in the state's record alone
                target.apply_change(change, (sealed or {}).get(change.address))
        except LlmformError as exc:
            failed = {**end, "result": f"failed at {change.address}: {index} change(s) applied"}
            drafts = (start_drafts if index == 0 else []) + [failed]
            events += state.record_step((), at, drafts, chain_key)
            raise PartialApplyError(changes, index, exc) from None
        drafts = list(start_drafts) if index == 0 else []
        drafts.append(per_change[index])
        if index == len(changes) - 1:
            drafts.append(end)
        events += state.record_step((change,), at, drafts, chain_key)
        at = (at[0], at[1] + 1)
    return events
