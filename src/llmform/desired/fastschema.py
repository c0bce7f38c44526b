"""A yes/no JSON Schema check compiled to plain Python closures, for the common case.

``jsonschema`` spends most of its time building a validator object per keyword and resolving
each ``$ref`` anew; on 10,000 configs that is seconds. Nearly every document a user writes is
valid, so ``schema.check_document`` first asks this predicate, and only for a document it
rejects runs ``jsonschema`` to produce the errors. Messages therefore always come from
``jsonschema``; this module only has to agree with it on valid/invalid, which a test checks.

It reads the schema, never restates it: keywords it does not implement (and any case it is
unsure of, such as ``uniqueItems`` over non-strings) are handed to ``jsonschema`` for that
subschema, so a schema change can make it slower but never wrong.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator

Check = Callable[[Any], bool]

# Keywords that never make an instance invalid (annotations, containers, extensions).
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$comment",
        "$defs",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_IMPLEMENTED = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "properties",
        "additionalProperties",
        "required",
        "minProperties",
        "propertyNames",
        "items",
        "minItems",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "if",
        "then",
        "else",
    }
)


def _is_integer(x: Any) -> bool:
    if isinstance(x, float):
        return x.is_integer()  # draft 6 and later: 1.0 is an integer
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    if type(x) is int or type(x) is float:  # the common case, without the ABC check
        return True
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


# jsonschema's draft 2020-12 type checker, type by type (checked against it when compiling).
_TYPES: dict[str, Check] = {
    "string": lambda x: isinstance(x, str),
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


_TYPE_PROBES: tuple[Any, ...] = (True, False, 0, 1, 1.0, 1.5, float("nan"), "", "1", None, [], {})


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def every(x: Any) -> bool:
        for check in checks:  # noqa: SIM110 - faster than all() over a generator
            if not check(x):
                return False
        return True

    return every


class _Compiler:
    def __init__(self, validator: Draft202012Validator) -> None:
        self.validator = validator
        self.root: Any = validator.schema
        self.refs: dict[str, Check] = {}

    def delegate(self, schema: Any) -> Check:
        return self.validator.evolve(schema=schema).is_valid

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            return self.delegate(schema)
        keywords = {k for k in schema if k not in _ANNOTATIONS and not k.startswith("x-")}
        if schema is self.root:
            keywords.discard("$id")  # the base of "#/..." references; elsewhere it moves it
        if not keywords <= _IMPLEMENTED:
            return self.delegate(schema)
        checks: list[Check] = []
        if "type" in schema:
            checks.append(self.type(schema["type"]) or self.delegate(schema))
        for name in ("enum", "const"):
            if name in schema:
                checks.append(self.choice(schema, name))
        for name in ("minLength", "maxLength", "pattern"):
            if name in schema:
                checks.append(self.string(name, schema[name]))
        if "minimum" in schema or "maximum" in schema:
            checks.append(self.bounds(schema.get("minimum"), schema.get("maximum")))
        if keywords & {"properties", "additionalProperties", "required", "minProperties"}:
            checks.append(self.object(schema))
        if "propertyNames" in schema:
            checks.append(self.property_names(schema["propertyNames"]))
        if keywords & {"items", "minItems", "uniqueItems"}:
            checks.append(self.array(schema))
        if "if" in schema:
            checks.append(self.conditional(schema))
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        return _all(checks)

    def type(self, names: Any) -> Check | None:
        wanted = [names] if isinstance(names, str) else names
        if not isinstance(wanted, list) or not all(n in _TYPES for n in wanted):
            return None
        checks = [self.type_check(n) for n in wanted]
        if len(checks) == 1:
            return checks[0]
        return lambda x: any(check(x) for check in checks)

    def type_check(self, name: str) -> Check:
        fast = _TYPES[name]
        if all(fast(x) == self.validator.is_type(x, name) for x in _TYPE_PROBES):
            return fast
        return lambda x: bool(self.validator.is_type(x, name))

    def choice(self, schema: Mapping[str, Any], name: str) -> Check:
        values = schema[name] if name == "enum" else [schema[name]]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return self.delegate({name: schema[name]})
        # jsonschema's equality: a string equals only a string
        allowed = frozenset(values)
        return lambda x: isinstance(x, str) and x in allowed

    def string(self, name: str, rule: Any) -> Check:
        if name == "pattern":
            search = re.compile(rule).search
            return lambda x: not isinstance(x, str) or search(x) is not None
        if name == "minLength":
            return lambda x: not isinstance(x, str) or len(x) >= rule
        return lambda x: not isinstance(x, str) or len(x) <= rule

    def bounds(self, low: Any, high: Any) -> Check:
        # as jsonschema words them ("not x < minimum"), so that NaN passes both
        if high is None:
            return lambda x: not _is_number(x) or not x < low
        if low is None:
            return lambda x: not _is_number(x) or not x > high
        return lambda x: not _is_number(x) or not (x < low or x > high)

    def object(self, schema: Mapping[str, Any]) -> Check:
        known = {key: self.compile(sub) for key, sub in schema.get("properties", {}).items()}
        extra_rule = schema.get("additionalProperties", True)
        extra: Check | None = None if extra_rule is False else self.compile(extra_rule)
        required = tuple(schema.get("required", ()))
        least = schema.get("minProperties", 0)

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            if len(x) < least:
                return False
            for key in required:
                if key not in x:
                    return False
            for key, value in x.items():
                sub = known.get(key)
                if sub is None:
                    if extra is None or not extra(value):
                        return False
                elif not sub(value):
                    return False
            return True

        return check

    def property_names(self, schema: Any) -> Check:
        sub = self.compile(schema)
        return lambda x: not isinstance(x, dict) or all(sub(key) for key in x)

    def array(self, schema: Mapping[str, Any]) -> Check:
        item = self.compile(schema.get("items", True))
        least = schema.get("minItems", 0)
        unique = bool(schema.get("uniqueItems", False))
        fallback = self.delegate({"uniqueItems": True}) if unique else _always

        def check(x: Any) -> bool:
            if not isinstance(x, list):
                return True
            if len(x) < least:
                return False
            for value in x:
                if not item(value):
                    return False
            if unique:
                if all(isinstance(v, str) for v in x):
                    return len(set(x)) == len(x)
                return fallback(x)
            return True

        return check

    def conditional(self, schema: Mapping[str, Any]) -> Check:
        test = self.compile(schema["if"])
        then = self.compile(schema.get("then", True))
        otherwise = self.compile(schema.get("else", True))
        return lambda x: then(x) if test(x) else otherwise(x)

    def ref(self, ref: Any) -> Check:
        if ref in self.refs:
            return self.refs[ref]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return self.delegate({"$ref": ref})
        target: Any = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                return self.delegate({"$ref": ref})
            target = target[part]
        compiled: list[Check] = []
        # registered before compiling, so that a recursive schema refers to itself
        self.refs[ref] = lambda x: compiled[0](x)
        compiled.append(self.compile(target))
        return self.refs[ref]


def compile_schema(validator: Draft202012Validator, schema: Any = None) -> Check:
    """A predicate that is True exactly when ``validator.is_valid`` would be (for ``schema``,
    a subschema of the validator's whose references are relative to it, when given)."""
    return _Compiler(validator).compile(validator.schema if schema is None else schema)
