"""The policies' section of a plan, in each format: a section of its own, so that the
renderers each call it once (text and markdown before the summary's end, json as its own
``policies`` array). Nothing is shown for a plan without policies, so such plans read as before.

Every verdict names its policy, level and object; policy messages and override reasons are
written by people (a pull request's author among them) and pass the same escaping as the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..plan import Plan
from ..policy_results import PolicyOverride, PolicyResult
from . import escape as esc
from .escape import md_code, md_text

POLICIES_HEADING = "Policy checks"


def word(result: PolicyResult) -> str:
    """What a verdict means for the plan, in a word."""
    if not result.failed:
        return "passed"
    if result.overridden:
        return "overridden"
    if result.level == "advisory":
        return "warning"
    return "failed" if result.verdict == "fail" else "error"


def counts(results: Sequence[PolicyResult]) -> str:
    """``6 policies: 1 failed, 1 warning(s), 4 passed`` (failures counted by object)."""
    tally: dict[str, int] = {}
    for result in results:
        tally[word(result)] = tally.get(word(result), 0) + 1
    names = len({result.rule for result in results})
    order = ("failed", "error", "overridden", "warning", "passed")
    plural = {"warning": "warning(s)", "error": "error(s)"}
    shown = ", ".join(f"{tally[w]} {plural.get(w, w)}" for w in order if w in tally)
    return f"{names} polic{'y' if names == 1 else 'ies'}: {shown}"


def _detail(result: PolicyResult) -> str:
    if not result.failed:
        return f"{result.judged} object(s)"
    text = f"{result.obj}: {result.message}"
    return (
        text if result.verdict == "fail" else f"{result.obj}: cannot be evaluated: {result.message}"
    )


def text_lines(plan: Plan, paint: Any, color: bool) -> list[str]:
    """The text section of a plan (``paint`` is the console's), followed by a blank line."""
    return result_lines(plan.policies, plan.policy_overrides, paint, color)


def result_lines(
    results: Sequence[PolicyResult],
    overrides: Sequence[PolicyOverride],
    paint: Any,
    color: bool,
) -> list[str]:
    """Verdicts as text (a plan's section, or ``policy check``'s report), then a blank line."""
    if not results:
        return []
    styles = {"failed": "red", "error": "red", "overridden": "yellow", "warning": "yellow"}
    lines = [f"{POLICIES_HEADING} ({counts(results)}):"]
    for result in results:
        verdict = word(result)
        shown = paint(verdict.upper().ljust(10), styles.get(verdict, "green"), color)
        lines.append(
            f"  {shown} {esc.text(result.rule)} ({result.level}) {esc.text(_detail(result))}"
        )
    for override in overrides:
        lines.append(
            f"  Override of {esc.text(override.policy)}: {esc.text(override.reason)} "
            f"({len(override.objects)} object(s))"
        )
    return [*lines, ""]


def markdown_lines(plan: Plan) -> list[str]:
    """The markdown section: a table of verdicts, then the overrides with their reasons."""
    if not plan.policies:
        return []
    icons = {"passed": "✅", "warning": "⚠️", "overridden": "⚠️", "failed": "❌", "error": "❌"}
    lines = [
        f"**{POLICIES_HEADING}** ({md_text(counts(plan.policies))})",
        "",
        "| Verdict | Policy | Level | Object | Message |",
        "|---|---|---|---|---|",
    ]
    for result in plan.policies:
        verdict = word(result)
        obj = md_code(result.obj, table=True) if result.obj else f"{result.judged} object(s)"
        message = (
            result.message
            if result.verdict != "error"
            else f"cannot be evaluated: {result.message}"
        )
        lines.append(
            f"| {icons[verdict]} {verdict} | {md_code(result.rule, table=True)} "
            f"| {result.level} | {obj} | {md_text(message)} |"
        )
    lines.append("")
    for override in plan.policy_overrides:
        lines.append(
            f"- Override of {md_code(override.policy)}: {md_text(override.reason)} "
            f"({len(override.objects)} object(s))"
        )
    if plan.policy_overrides:
        lines.append("")
    return lines


def json_section(plan: Plan) -> dict[str, Any]:
    """``policies`` (one entry per verdict that did not pass, one per policy that passed on
    every object) and ``policy_overrides``."""
    return results_json(plan.policies, plan.policy_overrides)


def results_json(
    results: Sequence[PolicyResult], overrides: Sequence[PolicyOverride]
) -> dict[str, Any]:
    return {
        "policies": [
            {
                "rule": r.rule,
                "object": r.obj,
                "level": r.level,
                "verdict": r.verdict,
                "message": r.message,
                "overridden": r.overridden,
                "blocking": r.blocking,
                **({"objects": r.judged} if not r.failed else {}),
            }
            for r in results
        ],
        "policy_overrides": [
            {"policy": o.policy, "reason": o.reason, "objects": list(o.objects)} for o in overrides
        ],
    }


def json_errors(plan: Plan) -> list[dict[str, Any]]:
    """The blocking verdicts, as entries of the json plan's ``errors``."""
    return [
        {"address": r.obj, "message": f"policy {r.rule} ({r.level}) {word(r)}: {r.message}"}
        for r in plan.policies
        if r.blocking
    ]
