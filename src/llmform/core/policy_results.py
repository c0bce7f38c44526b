"""Policies' verdicts as a plan records them, overrides of soft failures, and what blocks a
plan. Pure: the evaluation is ``desired/policy_judge.py``'s; the plan saves these records (its
MAC covers them) and every renderer shows them.

A plan is blocked by a hard failure, and by a soft one that no ``--override-policy NAME
--reason TEXT`` overrides; advisory failures only warn. An override names a soft policy and
gives a reason; one that names a hard policy, a policy that does not exist, or no reason is
refused, so that nobody can override by mistake or in silence (apply writes each override,
who, why and which objects, into the audit trail).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..desired.model import DesiredState, Level, Policy
from ..desired.policy_judge import evaluate
from ..desired.policy_model import Evaluation, Verdict
from ..desired.policy_rules import Rule, compile_rule
from ..errors import Diagnostic, InputError, LlmformError
from .typed_json import Fields, boolean, count, list_of, object_with, one_of, optional, text

LEVELS = tuple(level.value for level in Level)
VERDICTS = tuple(verdict.value for verdict in Verdict)


class PolicyError(LlmformError):
    """A plan that policies block, or an override that is refused."""


@dataclass(frozen=True)
class PolicyResult:
    """A policy's verdict on one object (``obj``: its address) that did not pass; or, with
    ``obj`` None and ``verdict`` pass, a policy every one of its ``judged`` objects passed."""

    rule: str
    obj: str | None
    level: str
    verdict: str
    message: str = ""
    judged: int = 0  # for a pass: how many objects the policy judged
    overridden: bool = False

    @property
    def failed(self) -> bool:
        return self.verdict != Verdict.PASS

    @property
    def blocking(self) -> bool:
        if not self.failed:
            return False
        return self.level == Level.HARD or (self.level == Level.SOFT and not self.overridden)


@dataclass(frozen=True)
class PolicyOverride:
    """``--override-policy NAME --reason TEXT``: the soft policy, why, and the objects whose
    failure it let through."""

    policy: str
    reason: str
    objects: tuple[str, ...]


# The name a policy in force in the store judges under when the change proposes another version
# of it (or its deletion): both judge, so weakening a policy cannot let a violation through in
# the same apply.
IN_FORCE = " (in force)"


def judging(state: DesiredState, in_force: Mapping[str, Policy]) -> dict[str, Policy]:
    """The policies that judge a change to ``state``: the proposed ones, and each one in force
    in the store that the change would alter or delete (under its name + IN_FORCE)."""
    policies = dict(state.policies)
    for name, policy in in_force.items():
        if state.policies.get(name) != policy:
            policies[name + IN_FORCE] = replace(policy, name=name + IN_FORCE)
    return policies


def judge_state(
    state: DesiredState,
    scope: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    in_force: Mapping[str, Policy] | None = None,
) -> tuple[tuple[PolicyResult, ...], tuple[PolicyOverride, ...]]:
    """The policies of ``state`` and those ``in_force`` in the store (see ``judging``) judging
    ``state``, with ``overrides`` (policy name -> reason) applied: what a plan records."""
    policies = judging(state, in_force or {})
    rules: list[Rule] = []
    problems: list[Diagnostic] = []
    for name, policy in policies.items():
        compiled = compile_rule(policy, f"policy {name}")
        if isinstance(compiled, Diagnostic):  # validate refused it already; a library caller
            problems.append(compiled)
        else:
            rules.append(compiled)
    if problems:
        raise InputError(problems)
    results = policy_results(evaluate(rules, state), policies, scope)
    return with_overrides(results, overrides or {})


def policy_results(
    evaluation: Evaluation, policies: Mapping[str, Policy], scope: Sequence[str] = ()
) -> tuple[PolicyResult, ...]:
    """The records of an evaluation, by policy name then object; with ``scope`` (plan -w),
    only the verdicts on objects of those workspaces (and factories)."""
    results: list[PolicyResult] = []
    for name in sorted(policies):
        level = policies[name].level.value
        failed = [o for o in evaluation.failed(name) if _in_scope(o.address, scope)]
        if not failed:
            judged = evaluation.judged.get(name, 0)
            results.append(PolicyResult(name, None, level, Verdict.PASS.value, judged=judged))
        for outcome in sorted(failed, key=lambda o: o.address):
            results.append(
                PolicyResult(name, outcome.address, level, outcome.verdict.value, outcome.message)
            )
    return tuple(results)


def _in_scope(address: str, scope: Sequence[str]) -> bool:
    if not scope or address.startswith("factory."):
        return True
    kind, _, name = address.partition(".")
    workspace = name.partition("/")[0] if kind == "config" else name
    return workspace in scope


def with_overrides(
    results: Sequence[PolicyResult], overrides: Mapping[str, str]
) -> tuple[tuple[PolicyResult, ...], tuple[PolicyOverride, ...]]:
    """``results`` with the soft failures of each overridden policy marked, and the overrides
    as records; a refused override raises PolicyError (see the module's docstring)."""
    levels: dict[str, str] = {}  # by the name given: the strictest of the versions judging
    for result in results:
        base = result.rule.removesuffix(IN_FORCE)
        if levels.get(base) != Level.HARD:
            levels[base] = result.level
    problems = []
    for name, reason in overrides.items():
        if name not in levels:
            known = ", ".join(sorted(levels)) or "none"
            problems.append(f"--override-policy {name}: no such policy (policies: {known})")
        elif levels[name] == Level.HARD:
            problems.append(
                f"--override-policy {name}: the policy is hard; it cannot be overridden"
            )
        elif not reason.strip():
            problems.append(
                f"--override-policy {name}: say why with --reason TEXT (it goes into the audit "
                "trail)"
            )
    if problems:
        raise PolicyError(*problems, "nothing was planned")
    marked = tuple(
        replace(r, overridden=True)
        if r.failed and r.rule.removesuffix(IN_FORCE) in overrides
        else r
        for r in results
    )
    records = tuple(
        PolicyOverride(
            name,
            reason.strip(),
            tuple(
                sorted(
                    {
                        r.obj
                        for r in marked
                        if r.rule.removesuffix(IN_FORCE) == name and r.overridden and r.obj
                    }
                )
            ),
        )
        for name, reason in sorted(overrides.items())
    )
    return marked, records


def policy_error(results: Sequence[PolicyResult], consequence: str) -> PolicyError | None:
    """The error for results that block (None when none does): each policy with its level
    and failures, ``consequence`` (what was not done), and how to go on."""
    blocking = [r for r in results if r.blocking]
    if not blocking:
        return None
    by_policy: dict[str, list[PolicyResult]] = {}
    for result in blocking:
        by_policy.setdefault(result.rule, []).append(result)
    lines = [f"{len(blocking)} policy failure(s) block this plan; {consequence}:"]
    for name, failed in by_policy.items():
        objects = ", ".join(r.obj or "" for r in failed)
        fix = (
            "fix the configuration"
            if failed[0].level == Level.HARD
            else f"fix the configuration, or override with --override-policy {name} --reason TEXT"
        )
        lines.append(f"  {name} ({failed[0].level}): {objects}; {fix}")
    return PolicyError(*lines)


# -- the saved form (core/plan.py's plan_to_json and plan_from_json) --------------------------


def result_to_json(result: PolicyResult) -> dict[str, object]:
    return {
        "rule": result.rule,
        "object": result.obj,
        "level": result.level,
        "verdict": result.verdict,
        "message": result.message,
        "judged": result.judged,
        "overridden": result.overridden,
    }


def result_from_json(data: Fields) -> PolicyResult:
    return PolicyResult(
        rule=data.get("rule", text),
        obj=data.get("object", optional(text)),
        level=data.get("level", one_of(*LEVELS)),
        verdict=data.get("verdict", one_of(*VERDICTS)),
        message=data.get("message", text),
        judged=data.get("judged", count),
        overridden=data.get("overridden", boolean),
    )


def override_to_json(override: PolicyOverride) -> dict[str, object]:
    return {"policy": override.policy, "reason": override.reason, "objects": list(override.objects)}


def override_from_json(data: Fields) -> PolicyOverride:
    return PolicyOverride(
        policy=data.get("policy", text),
        reason=data.get("reason", text),
        objects=tuple(data.get("objects", list_of(text))),
    )


RESULTS = list_of(object_with(result_from_json))
OVERRIDES = list_of(object_with(override_from_json))
