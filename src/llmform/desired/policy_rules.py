"""Policy rules compiled with CEL and evaluated on a desired state. Pure: no I/O.

Compiling reports a syntax error where it is written in the file (the rule's line:col, block
scalars included; see ``scalar_source``), and evaluates the rule once on a well-typed sample
object, so that an unknown name or an operation on the wrong types is reported at the rule too
(CEL libraries do not type-check before evaluating). Evaluating converts each object into CEL
once and runs every rule that applies on it: converting is what costs (about 20 µs a config),
a rule on a converted object about 1 µs. A rule that cannot be evaluated on an object (a key
that is not there, a null where a string was expected) is that object's failure, with the
reason, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic, Location, error
from .model import Config, DesiredState, Factory, Workspace
from .policy_model import KINDS, Evaluation, Outcome, Policy, Verdict
from .policy_objects import config_view, factory_view, sample_variables, workspace_view

if TYPE_CHECKING:
    import cel

VARIABLES = ("object", "workspace", "factory")
_POSITION = re.compile(r"ERROR: <input>:(\d+):(\d+): (?:Syntax error: )?([^\n]*)")
_UNDEFINED = re.compile(r"Undefined variable or function: '([^']*)'")


@dataclass(frozen=True)
class Rule:
    """A policy with its compiled program, and which of the variables its rule reads."""

    policy: Policy
    program: cel.Program
    reads: frozenset[str]


def compile_rule(policy: Policy, path: str) -> Rule | Diagnostic:
    """The compiled rule, or the error in it at its place (``path`` is the rule's YAML path)."""
    import cel  # only a state with policies pays its import

    try:
        program = cel.compile(policy.rule)
    except Exception as exc:  # ValueError for syntax; anything else is still the rule's fault
        found = _POSITION.search(str(exc))
        if found is None:
            return error(_rule_start(policy), path, f"not a CEL expression: {_first_line(exc)}")
        line, column, reason = int(found[1]), int(found[2]), found[3]
        return error(_in_rule(policy, line, column), path, f"CEL syntax error: {reason}")
    reads = frozenset(program.variables()) & set(VARIABLES)
    rule = Rule(policy, program, reads)
    problem = _sample_problem(rule)
    if problem is not None:
        return error(_rule_start(policy), path, problem)
    return rule


def _sample_problem(rule: Rule) -> str | None:
    """What is wrong with a rule whatever the object: evaluated on a sample with every field."""
    try:
        result = rule.program.execute(sample_variables(rule.policy.kind))
    except KeyError:  # a label or option the sample lacks: a matter of each object's data
        return None
    except TypeError as exc:
        return f"CEL type error: {_first_line(exc)}"
    except RuntimeError as exc:
        undefined = _UNDEFINED.search(str(exc))
        if undefined is None:
            return None
        return (
            f"unknown name {undefined[1]!r}: a rule sees object, workspace and factory "
            "(README: Policies) and CEL's functions"
        )
    except Exception:  # a division by zero, an index out of range: the data's matter
        return None
    if not isinstance(result, bool):
        return f"the rule gives {_cel_type(result)}, not true or false; write a condition"
    return None


def evaluate(rules: Iterable[Rule], state: DesiredState) -> Evaluation:
    """Every rule on every object it applies to in ``state``."""
    import cel

    judge = _Judge([*rules])
    for each_factory in state.factories.values() if judge.kinds["factory"] else ():
        view = factory_view(each_factory)
        context = cel.Context({"object": view, "factory": view, "workspace": None})
        selected = judge.selected("factory", None)
        judge.run(selected, context, each_factory.address, each_factory.location)
    for each_workspace in state.workspaces.values() if judge.kinds["workspace"] else ():
        view = workspace_view(each_workspace)
        context = cel.Context({"object": view, "workspace": view, "factory": None})
        selected = judge.selected("workspace", each_workspace)
        judge.run(selected, context, each_workspace.address, each_workspace.location)
    for workspace, factory, configs in _config_groups(state) if judge.kinds["config"] else ():
        selected = judge.selected("config", workspace)
        if not selected:
            continue
        reads = frozenset().union(*(rule.reads for rule in selected))
        context = cel.Context(
            {
                "workspace": workspace_view(workspace) if "workspace" in reads else None,
                "factory": factory_view(factory) if "factory" in reads and factory else None,
            }
        )
        for config in configs:
            context.add_variable("object", config_view(config, factory))
            judge.run(selected, context, config.address, config.location)
    return Evaluation(tuple(judge.outcomes), judge.judged)


class _Judge:
    """Runs rules on converted objects and keeps what did not pass."""

    def __init__(self, rules: list[Rule]) -> None:
        self.kinds = {kind: [r for r in rules if r.policy.kind == kind] for kind in KINDS}
        self.outcomes: list[Outcome] = []
        self.judged = {rule.policy.name: 0 for rule in rules}

    def selected(self, kind: str, workspace: Workspace | None) -> list[Rule]:
        return [rule for rule in self.kinds[kind] if rule.policy.selects(workspace)]

    def run(
        self, rules: list[Rule], context: cel.Context, address: str, location: Location
    ) -> None:
        for rule in rules:
            policy = rule.policy
            self.judged[policy.name] += 1
            try:
                result = rule.program.execute(context)
            except Exception as exc:  # the object's data did not fit the rule
                verdict, message = Verdict.ERROR, _reason(exc)
            else:
                if result is True:
                    continue
                verdict, message = Verdict.FAIL, policy.message
                if result is not False:
                    verdict = Verdict.ERROR
                    message = f"the rule gives {_cel_type(result)}, not true or false"
            where = location if location.line else policy.location
            outcome = Outcome(policy.name, policy.level, address, verdict, message, where)
            self.outcomes.append(outcome)


def _config_groups(
    state: DesiredState,
) -> Iterator[tuple[Workspace, Factory | None, list[Config]]]:
    """Configs by (workspace, factory): the workspace and the factory are converted once."""
    groups: dict[tuple[str, str], list[Config]] = {}
    for config in state.configs.values():
        groups.setdefault((config.workspace, config.factory), []).append(config)
    for (workspace, factory), configs in groups.items():
        found = state.workspaces.get(workspace)
        if found is not None:
            yield found, state.factories.get(factory), configs


def _rule_start(policy: Policy) -> Location:
    return _in_rule(policy, 1, 1)


def _in_rule(policy: Policy, line: int, column: int) -> Location:
    if policy.rule_source is None:
        return policy.location
    return policy.rule_source.locate(policy.rule, line, column)


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):  # the CEL map had no such key: say so, not KeyError('x')
        return f"no field or key {exc.args[0]!r}" if exc.args else "no such key"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _cel_type(value: Any) -> str:
    names: Mapping[type, str] = {str: "a string", int: "an int", float: "a double"}
    if value is None:
        return "null"
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return f"a {type(value).__name__}"
