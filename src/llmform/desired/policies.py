"""The ``policies:`` section to Policy records, every problem found on the way: duplicates
across files, a selector a factory cannot match, and each rule compiled (syntax and type errors
at the rule's line:col). And the policies' verdicts on a state as ``validate`` reports them.
Runs after the schema check, which has already refused a missing field or an unknown level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import Diagnostic, error, warning
from .items import Broken, Item, did_you_mean
from .loader import Document
from .model import DesiredState, Level, Policy, frozen_map
from .secret_shapes import shown as quoted

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:  # start-up time: CEL's rules and judge only for a state that has policies
    from typing import Any

    from .policy_model import Evaluation
    from .policy_rules import Rule


def build_policies(
    documents: Iterable[Document], broken: Broken
) -> tuple[dict[str, Rule], list[Diagnostic]]:
    """The compiled policies of the documents, by name, and the problems with them."""
    diagnostics: list[Diagnostic] = []
    items: dict[str, list[Item]] = {}
    for document in documents:
        entries = document.data.get("policies")
        for index, raw in enumerate(entries if isinstance(entries, list) else ()):
            bad = any(
                (document.file, ("policies", index, name)) in broken
                for name in (None, *(raw if isinstance(raw, dict) else ()))
            )
            if isinstance(raw, dict) and isinstance(raw.get("name"), str):
                items.setdefault(raw["name"], []).append(
                    Item(document, ("policies", index), raw, valid=not bad)
                )
    rules: dict[str, Rule] = {}
    for name, group in sorted(items.items()):
        if len(group) > 1:
            for item in group:
                others = ", ".join(str(o.at("name")) for o in group if o is not item)
                diagnostics.append(
                    error(
                        item.at("name"),
                        item.dotted("name"),
                        f"duplicate policy {quoted(name)} (also at {others}); rename or remove "
                        "one of them",
                    )
                )
            continue
        item = group[0]
        if not item.valid:
            continue
        policy, problems = _policy(item)
        diagnostics.extend(problems)
        if policy is None:
            continue
        from .policy_rules import compile_rule  # see TYPE_CHECKING above

        compiled = compile_rule(policy, item.dotted("rule"))
        if isinstance(compiled, Diagnostic):
            diagnostics.append(compiled)
        else:
            rules[name] = compiled
    return rules, diagnostics


def _policy(item: Item) -> tuple[Policy | None, list[Diagnostic]]:
    raw: Mapping[str, Any] = item.raw
    applies = raw["applies_to"]
    kind = applies["kind"]
    problems = []
    if kind == "factory":
        for selector in ("workspaces", "labels"):
            if selector in applies:
                problems.append(
                    error(
                        item.at("applies_to", selector),
                        item.dotted("applies_to", selector),
                        "a factory belongs to no workspace, so a factory policy cannot select "
                        f"by {selector}; remove it, or apply the policy to configs",
                    )
                )
    if problems:
        return None, problems
    source = item.document.sources.get(("policies", item.path[1], "rule"))
    return (
        Policy(
            name=raw["name"],
            kind=kind,
            rule=raw["rule"],
            message=raw["message"],
            level=Level(raw["level"]),
            description=raw.get("description", ""),
            workspaces=tuple(applies.get("workspaces", ())),
            labels=frozen_map(applies.get("labels")),
            location=item.at(),
            rule_source=source,
        ),
        [],
    )


def unknown_workspaces(state: DesiredState, rules: Mapping[str, Rule]) -> list[Diagnostic]:
    """Warnings for a selector naming a workspace that is not in the state (a typo selects
    nothing, so the policy would judge nothing there)."""
    found = []
    names = set(state.workspaces)
    for rule in rules.values():
        policy = rule.policy
        for pattern in policy.workspaces:
            if any(c in pattern for c in "*?[") or pattern in names:
                continue
            found.append(
                warning(
                    policy.location,
                    f"policy {policy.name!r}",
                    f"selects workspace {quoted(pattern)}, which is not in this state"
                    f"{did_you_mean(pattern, names)}; the policy judges nothing there",
                )
            )
    return found


def judged(state: DesiredState, rules: Mapping[str, Rule]) -> tuple[Evaluation, list[Diagnostic]]:
    """The policies' verdicts on ``state`` and how ``validate`` reports them: a hard failure
    is an error; a soft one a warning that plan and apply will fail unless it is overridden;
    an advisory one a warning. Each at the object judged (the policy, for a catalog factory)."""
    from .policy_judge import evaluate  # see TYPE_CHECKING above
    from .policy_model import Verdict

    evaluation = evaluate(rules.values(), state)
    diagnostics = unknown_workspaces(state, rules)
    for outcome in evaluation.outcomes:
        what = "failed" if outcome.verdict is Verdict.FAIL else "could not be evaluated (a failure)"
        text = f"policy {outcome.policy!r} ({outcome.level}) {what}: {outcome.message}"
        if outcome.level is Level.SOFT:
            text += (
                f"; plan and apply fail unless run with --override-policy {outcome.policy} "
                "--reason TEXT"
            )
        report = error if outcome.level is Level.HARD else warning
        diagnostics.append(report(outcome.location, outcome.address, text))
    return evaluation, diagnostics
