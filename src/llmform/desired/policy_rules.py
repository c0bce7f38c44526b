"""Policy rules compiled with CEL. Pure: no I/O (``policy_judge.py`` evaluates them).

Compiling reports a syntax error where it is written in the file (the rule's line:col, block
scalars included; see ``scalar_source``), and evaluates the rule once on a well-typed sample
object, so that an unknown name or an operation on the wrong types is reported at the rule too
(CEL libraries do not type-check before evaluating). It also notes what the rule reads (which
variables, which fields of a config), so that the judge converts and evaluates no more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic, Location, error
from . import cel_core
from .model import Policy
from .policy_objects import CONFIG_FIELDS, sample_variables

if TYPE_CHECKING:
    import cel

VARIABLES = ("object", "workspace", "factory")
_POSITION = re.compile(r"ERROR: <input>:(\d+):(\d+): (?:Syntax error: )?([^\n]*)")
# every "object" not after a dot (a field of that name), with the field read after it, if any
_OBJECT_USE = re.compile(r"(?<![\w.])object\b(?:\s*\.\s*([A-Za-z_]\w*))?")
_UNDEFINED = re.compile(r"Undefined variable or function: '([^']*)'")


@dataclass(frozen=True)
class Rule:
    """A policy with its compiled program, the variables its rule reads and, for a config
    rule, the fields of ``object`` it reads (None: it may read any)."""

    policy: Policy
    program: cel.Program
    reads: frozenset[str]
    fields: tuple[str, ...] | None = None


def object_fields(rule: str, known: Iterable[str]) -> tuple[str, ...] | None:
    """The fields of ``object`` that ``rule`` reads, when every use of ``object`` in it is
    ``object.FIELD`` with a known FIELD; else None (any use we cannot follow reads it all)."""
    known = set(known)
    fields = set()
    for use in _OBJECT_USE.finditer(rule):
        if use[1] not in known:
            return None
        fields.add(use[1])
    return tuple(sorted(fields))


def compile_rule(policy: Policy, path: str) -> Rule | Diagnostic:
    """The compiled rule, or the error in it at its place (``path`` is the rule's YAML path)."""
    cel = cel_core.load()  # only a state with policies pays its import

    try:
        program = cel.compile(policy.rule)
    except Exception as exc:  # ValueError for syntax; anything else is still the rule's fault
        found = _POSITION.search(str(exc))
        if found is None:
            return error(_rule_start(policy), path, f"not a CEL expression: {_first_line(exc)}")
        line, column, reason = int(found[1]), int(found[2]), found[3]
        return error(_in_rule(policy, line, column), path, f"CEL syntax error: {reason}")
    reads = frozenset(program.variables()) & set(VARIABLES)
    fields = object_fields(policy.rule, CONFIG_FIELDS) if policy.kind == "config" else None
    rule = Rule(policy, program, reads, fields)
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
        return f"the rule gives {cel_type(result)}, not true or false; write a condition"
    return None


def _rule_start(policy: Policy) -> Location:
    return _in_rule(policy, 1, 1)


def _in_rule(policy: Policy, line: int, column: int) -> Location:
    if policy.rule_source is None:
        return policy.location
    return policy.rule_source.locate(policy.rule, line, column)


def reason(exc: Exception) -> str:
    """Why a rule could not be evaluated, in a line."""
    if isinstance(exc, KeyError):  # the CEL map had no such key: say so, not KeyError('x')
        return f"no field or key {exc.args[0]!r}" if exc.args else "no such key"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def cel_type(value: Any) -> str:
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
