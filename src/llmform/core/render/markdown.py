"""Markdown plans for a pull-request comment: the summary and a table of changed resources
first, then the text plan of each group in a collapsible ``<details>`` block whose ``diff``
fence lets GitHub colour additions and removals.

A pull request's author controls most of what a plan shows, and a provider the rest: every
string is placed through ``escape`` (``md_text`` in prose and cells, ``md_code`` in code spans,
``md_html`` inside HTML, fenced lines as the text renderer escaped them), so none can leave its
table cell, code span, fence or ``<details>`` block, nor mention anyone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ...checks.results import failure_advice
from ..diff import CREATE, DELETE, REPLACE, UPDATE, Change
from ..plan import HOW_TO_TRUST, Plan
from .drift import AFTER_PLAN, AFTER_REFRESH, HEADING, drift_blocks, drift_count, drift_summary
from .escape import md_code, md_fence, md_html, md_lines, md_text
from .policies import markdown_lines as policy_lines
from .text import (
    NO_SECRETS,
    REFUSED,
    UNTRUSTED_HEADING,
    group_lines,
    groups,
    keys_skipped,
    not_compared_heading,
    scope_text,
    summary_line,
    untrusted_endpoints,
)

_ACTION_WORDS = {CREATE: "create", UPDATE: "update", DELETE: "destroy", REPLACE: "replace"}
# the symbol of a text line, after its indentation
_SYMBOL = re.compile(r"^( *)(-/\+|[-+~])( .*)$")


def render_markdown(
    plan: Plan, color: bool = False, verbose: bool = False, errors: Sequence[str] = ()
) -> str:
    """``color`` is accepted for a uniform renderer signature; markdown has none.
    ``verbose``: catalog factories in full rather than as one summary line each. ``errors``
    end the comment, as the error document of a failed plan lists them."""
    summary = plan.summary
    if plan.refresh_only:
        lines = ["### llmform plan (refresh-only)", "", f"**{drift_summary(plan)}**", ""]
    else:
        lines = ["### llmform plan", "", f"**{summary_line(summary)}**", ""]
    lines += _drift_section(plan)
    if plan.scope:
        lines += [f"Scope: {md_text(scope_text(plan.scope))}; everything else is left alone.", ""]
    if not summary.empty:
        lines += [
            "| Add | Change | Destroy |",
            "|---:|---:|---:|",
            f"| {summary.add} | {summary.change} | {summary.destroy} |",
            "",
            "| Action | Resource |",
            "|---|---|",
        ]
        for group in groups(plan):
            lines += [
                f"| {_ACTION_WORDS[c.action]} | {md_code(c.address, table=True)} |"
                for c in group.changes
            ]
        lines.append("")
    for group in groups(plan):
        title = f"{group.title}: {_group_counts(group.changes)}"
        lines += _details(title, group_lines(group.changes, False, verbose))
    lines += _notes(plan)
    lines += policy_lines(plan)  # a section of its own (render/policies.py)
    if errors:
        lines += ["**Errors**", "", *(f"- {md_text(' '.join(e.split()))}" for e in errors), ""]
    return md_lines(lines).rstrip("\n") + "\n"


def _drift_section(plan: Plan) -> list[str]:
    """What changed outside llmform (``render.drift``), ahead of the plan's changes: a table,
    then the resources' blocks in a collapsible diff; none without drift."""
    if not plan.drift:
        return []
    title = f"Changed outside llmform: {drift_count(plan.drift)}"
    return [
        f"**{md_text(HEADING)}**",
        "",
        "| Outside llmform | Resource |",
        "|---|---|",
        *(
            f"| {'deleted' if c.action == DELETE else 'changed'} "
            f"| {md_code(c.address, table=True)} |"
            for c in plan.drift
        ),
        "",
        *_details(title, drift_blocks(plan)),
        md_text(AFTER_REFRESH if plan.refresh_only else AFTER_PLAN),
        "",
    ]


def _details(title: str, text_lines: Sequence[str]) -> list[str]:
    """Text plan lines (escaped as the text renderer escapes them) as a collapsible diff."""
    body = _diff_lines(text_lines)
    fence = md_fence(body)
    summary = f"<details><summary>{md_html(title)}</summary>"
    return [summary, "", f"{fence}diff", *body, fence, "", "</details>", ""]


def _diff_lines(lines: Sequence[str]) -> list[str]:
    """Text plan lines with the action symbol moved to the first column (where a diff has it);
    ``~`` becomes ``!``, which GitHub's diff highlighting marks as a change."""
    out = []
    for line in lines:
        match = _SYMBOL.match(line)
        if match is None:
            out.append(line)
            continue
        indent, symbol, rest = match.groups()
        out.append(("!" if symbol == "~" else symbol) + indent + rest)
    return out


def _group_counts(changes: Sequence[Change]) -> str:
    add = sum(c.action in (CREATE, REPLACE) for c in changes)
    change = sum(c.action == UPDATE for c in changes)
    destroy = sum(c.action in (DELETE, REPLACE) for c in changes)
    parts = [(add, "to add"), (change, "to change"), (destroy, "to destroy")]
    return ", ".join(f"{n} {words}" for n, words in parts if n)


def _notes(plan: Plan) -> list[str]:
    lines: list[str] = []
    if plan.warnings:
        lines += ["**Warnings**", ""]
        lines += [f"- {md_text(w)}" for w in plan.warnings]
        lines.append("")
    if plan.unmanaged:
        lines += ["**Unmanaged** (in the store, not created by llmform; left alone)", ""]
        lines += [f"- {md_code(a)}" for a in plan.unmanaged]
        lines.append("")
    if not plan.secrets_compared:
        lines += [f"**{md_text(NO_SECRETS)}**", ""]
    if not plan.keys_checked:
        lines += [f"_{md_text(keys_skipped(plan))}_", ""]
    if plan.not_compared:
        lines += [md_text(not_compared_heading(plan)), ""]
        lines += [
            f"- {md_code(address)}: {', '.join(md_code(slot) for slot in slots)}"
            for address, slots in plan.not_compared.items()
        ]
        lines.append("")
    rows = plan.key_rows
    if rows:
        counts = [(len(plan.failed_keys), "failed"), (len(plan.untrusted_keys), "not checked")]
        verdict = ", ".join(f"{n} {words}" for n, words in counts if n) or "all passed"
        lines += [
            f"**Key checks** ({verdict})",
            "",
            "| Resource | Key | Outcome |",
            "|---|---|---|",
        ]
        lines += [
            f"| {md_code(r.address, table=True)} | {md_code(r.slot, table=True)} "
            f"| {'✅' if r.passed else '⚠️' if r.untrusted else '❌'} {md_text(r.outcome_text)} |"
            for r in rows
        ]
        lines.append("")
    failed = plan.failed_keys
    if failed:  # what the error on stderr says, for whoever reads only the comment
        count = len(failed)
        lines += [
            f"**{count} key{'' if count == 1 else 's'} failed "
            f"{'its' if count == 1 else 'their'} check, so this plan cannot be applied:**",
            "",
            *(f"- {md_text(line)}" for line in failure_advice(failed, plan.key_checks)),
            "",
        ]
    untrusted = untrusted_endpoints(plan)
    if untrusted:
        lines += [f"**{md_text(UNTRUSTED_HEADING)}**", ""]
        lines += [
            f"- {md_code(url)} ({', '.join(md_code(a) for a in addresses)})"
            for url, addresses in untrusted.items()
        ]
        lines += ["", f"{md_text(HOW_TO_TRUST)}.", ""]
    if plan.refusals:
        lines += [f"**{md_text(REFUSED)}**", ""]
        lines += [f"- {md_code(r.address)} {md_text(r.reason)}" for r in plan.refusals]
        lines.append("")
    return lines
