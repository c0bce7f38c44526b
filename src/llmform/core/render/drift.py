"""The drift section of a plan (``core.drift``): what changed in the target outside llmform
since it last applied, ahead of the plan's own changes, as Terraform's "Objects have changed
outside of Terraform" note is. Each drifted resource is shown as a change is, from what llmform
recorded to what the target holds now, under ``# ADDRESS changed outside llmform`` (or
``deleted outside llmform``); a changed key shows only as ``(sensitive value changed)``.

A plan without drift, or of a target that keeps its own state (the registry: ``drift`` None),
renders as before. A refresh-only plan (``plan --refresh-only``) is this section alone, with
the unmanaged objects and a last line that counts the drift.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...console import paint
from ..diff import DELETE, UPDATE, Change
from ..plan import Plan
from . import escape as esc
from .text import change_lines, notes_lines, render_text

HEADING = "Note: objects have changed outside llmform"
INTRO = (
    "llmform found these changes made outside llmform (in the target's own UI or API) since "
    "it last applied:"
)
AFTER_PLAN = (
    "The changes below make the target match the configuration again: they undo these unless "
    "the configuration was changed to match them."
)
AFTER_REFRESH = (
    "This is a refresh-only plan: it proposes no changes. llmform plan shows the changes that "
    "make the target match the configuration again."
)
NO_DRIFT = "No drift. The target holds what llmform last applied."
VERBS = {UPDATE: "changed outside llmform", DELETE: "deleted outside llmform"}


def drift_count(drift: Sequence[Change]) -> str:
    return f"{len(drift)} resource{'' if len(drift) == 1 else 's'}"


def drift_comment(change: Change) -> str:
    """The comment line over a drifted resource's block (escaped)."""
    return f"  # {esc.text(change.address)} {VERBS[change.action]}"


def drift_blocks(plan: Plan, color: bool = False) -> list[str]:
    """Each drifted resource: its comment line, then its block as a change's, from what
    llmform recorded to what the target holds; a blank line between resources."""
    lines: list[str] = []
    for change in plan.drift or ():
        if lines:
            lines.append("")
        lines += [paint(drift_comment(change), "bold", color), *change_lines(change, color)[1:]]
    return lines


def drift_lines(plan: Plan, color: bool = False) -> list[str]:
    """The section, ending with a blank line; none without drift."""
    if not plan.drift:
        return []
    closing = AFTER_REFRESH if plan.refresh_only else AFTER_PLAN
    heading = paint(HEADING, "bold", color)
    return [heading, "", INTRO, "", *drift_blocks(plan, color), "", closing, ""]


def drift_summary(plan: Plan, color: bool = False) -> str:
    """A refresh-only plan's last line."""
    if not plan.drift:
        return paint(NO_DRIFT, "bold", color)
    return f"{paint('Drift:', 'bold', color)} {drift_count(plan.drift)} changed outside llmform."


def render_text_with_drift(
    plan: Plan, color: bool = False, verbose: bool = False, errors: Sequence[str] = ()
) -> str:
    """The text plan (``text.render_text``) after its drift section; a refresh-only plan is the
    section, the notes (unmanaged objects) and ``drift_summary``."""
    if plan.refresh_only:
        lines = [*drift_lines(plan, color), *notes_lines(plan, color), drift_summary(plan, color)]
        return esc.text_lines(lines, color) + "\n"
    section = drift_lines(plan, color)
    body = render_text(plan, color, verbose, errors)
    return esc.text_lines(section, color) + "\n" + body if section else body
