"""Policies judging a desired state: every rule on every object it selects. Pure: no I/O.

What costs is converting an object into CEL's values (tens of µs for a config with its models
and keys), not running a rule on it (about 1 µs). So a factory or workspace is converted once
per group of configs, and only when a rule reads it; a config is converted with only the fields
its rules read; and since CEL is pure, a rule's verdict on a config is kept by what it read (the
same keys, models or factory give the same verdict): a rule on the vendor runs once per vendor,
not once per config. A rule that cannot be evaluated on an object (a key that is not there, a
null where a string was expected) is that object's failure, with the reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import TYPE_CHECKING

from ..errors import Location
from . import cel_core
from .model import Config, DesiredState, Factory, Workspace
from .policy_model import KINDS, Evaluation, Outcome, Verdict
from .policy_objects import CONFIG_FIELDS, config_view, factory_view, workspace_view
from .policy_rules import Rule, cel_type, reason

if TYPE_CHECKING:
    import cel

# a verdict that did not pass, and its message; None: passed
Found = tuple[Verdict, str] | None


def evaluate(rules: Iterable[Rule], state: DesiredState) -> Evaluation:
    """Every rule on every object it applies to in ``state``."""
    cel = cel_core.load()  # only a state with policies pays its import

    judge = _Judge([*rules])
    for each in state.factories.values() if judge.kinds["factory"] else ():
        view = factory_view(each)
        context = cel.Context({"object": view, "factory": view, "workspace": None})
        for rule in judge.selected("factory", None):
            judge.judge(rule, _run(rule, context), each.address, each.location)
    for workspace in state.workspaces.values() if judge.kinds["workspace"] else ():
        view = workspace_view(workspace)
        context = cel.Context({"object": view, "workspace": view, "factory": None})
        for rule in judge.selected("workspace", workspace):
            judge.judge(rule, _run(rule, context), workspace.address, workspace.location)
    for workspace, factory, configs in _config_groups(state) if judge.kinds["config"] else ():
        selected = judge.selected("config", workspace)
        if selected:
            _ConfigGroup(judge, workspace, factory).run(selected, configs)
    return Evaluation(tuple(judge.outcomes), judge.judged)


class _Judge:
    """The rules by kind, and what they found."""

    def __init__(self, rules: list[Rule]) -> None:
        self.kinds = {kind: [r for r in rules if r.policy.kind == kind] for kind in KINDS}
        self.outcomes: list[Outcome] = []
        self.judged = {rule.policy.name: 0 for rule in rules}
        # rule name -> what it read -> its verdict (config rules that read known fields)
        self.kept: dict[str, dict[tuple[Hashable, ...], Found]] = {
            rule.policy.name: {} for rule in rules
        }
        # a field's stand-in -> a small number, for short keys (one per evaluation: keys kept
        # across groups must number the same stand-in the same)
        self.stand_ins: dict[Hashable, int] = {}

    def selected(self, kind: str, workspace: Workspace | None) -> list[Rule]:
        return [rule for rule in self.kinds[kind] if rule.policy.selects(workspace)]

    def judge(self, rule: Rule, found: Found, address: str, location: Location) -> None:
        self.judged[rule.policy.name] += 1
        self.record(rule, found, address, location)

    def record(self, rule: Rule, found: Found, address: str, location: Location) -> None:
        """``found`` on an object, not counted as judged (the caller counted it)."""
        policy = rule.policy
        if found is not None:
            where = location if location.line else policy.location
            verdict, message = found
            self.outcomes.append(
                Outcome(policy.name, policy.level, address, verdict, message, where)
            )


class _ConfigGroup:
    """The configs of one workspace on one factory: one CEL context, filled as rules need."""

    def __init__(self, judge: _Judge, workspace: Workspace, factory: Factory | None) -> None:
        self.judge = judge
        self.workspace = workspace
        self.factory = factory
        self.context: cel.Context | None = None
        self.holds: set[str] = set()  # the variables set in the context, but object

    def run(self, rules: list[Rule], configs: list[Config]) -> None:
        judge, factory = self.judge, self.factory
        # what each rule reads of the group (its workspace, its factory), for its keys
        shared = {
            rule.policy.name: (
                self.workspace.name if "workspace" in rule.reads else None,
                config_factory if "factory" in rule.reads else None,
            )
            for rule in rules
            for config_factory in [configs[0].factory]
        }
        stand_ins = judge.stand_ins
        for rule in rules:
            judge.judged[rule.policy.name] += len(configs)
        for config in configs:
            read: dict[str, int] = {}  # field -> its stand-in's number, for this config
            found: list[Found] = []
            missing: list[tuple[int, Rule, tuple[Hashable, ...] | None]] = []
            for rule in rules:
                key: tuple[Hashable, ...] | None = None
                if rule.fields is not None:
                    parts: list[Hashable] = [shared[rule.policy.name]]
                    for name in rule.fields:
                        number = read.get(name)
                        if number is None:
                            stand_in = (name, CONFIG_FIELDS[name][1](config, factory))
                            number = read[name] = stand_ins.setdefault(stand_in, len(stand_ins))
                        parts.append(number)
                    key = tuple(parts)
                    kept = judge.kept[rule.policy.name]
                    if key in kept:
                        found.append(kept[key])
                        continue
                missing.append((len(found), rule, key))
                found.append(None)
            if missing:  # converted once, with what every rule that has to run reads
                context = self.context_for([rule for _, rule, _ in missing], config)
                for index, rule, key in missing:
                    found[index] = _run(rule, context)
                    if key is not None:
                        judge.kept[rule.policy.name][key] = found[index]
            for rule, verdict in zip(rules, found, strict=True):
                if verdict is not None:
                    judge.record(rule, verdict, config.address, config.location)

    def context_for(self, rules: list[Rule], config: Config) -> cel.Context:
        cel = cel_core.load()

        if self.context is None:
            self.context = cel.Context({"workspace": None, "factory": None})
        reads = frozenset().union(*(rule.reads for rule in rules))
        if "workspace" in reads and "workspace" not in self.holds:
            self.context.add_variable("workspace", workspace_view(self.workspace))
            self.holds.add("workspace")
        if "factory" in reads and "factory" not in self.holds and self.factory:
            self.context.add_variable("factory", factory_view(self.factory))
            self.holds.add("factory")
        if "object" in reads:
            fields: set[str] = set()
            for rule in rules:
                fields.update(CONFIG_FIELDS if rule.fields is None else rule.fields)
            self.context.add_variable("object", config_view(config, self.factory, fields))
        return self.context


def _run(rule: Rule, context: cel.Context) -> Found:
    try:
        result = rule.program.execute(context)
    except Exception as exc:  # the object's data did not fit the rule
        return Verdict.ERROR, reason(exc)
    if result is True:
        return None
    if result is False:
        return Verdict.FAIL, rule.policy.message
    return Verdict.ERROR, f"the rule gives {cel_type(result)}, not true or false"


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
