"""A yes/no JSON Schema check in plain Python, for the few documents of a short run.

``jsonschema-rs`` answers faster per document, but its import costs a one-file ``validate`` (the
pre-commit hook) about as much as the rest of its start-up; this walks the schema as it is
(no compilation) over a document and answers yes only when ``jsonschema`` would find no error:
the same keywords with ``jsonschema``'s meaning (``pattern`` is Python's ``re.search``,
``integer`` takes 1.0). Whatever it is unsure of (a keyword it does not know, a value that is
not JSON, an ``enum`` or ``uniqueItems`` it cannot compare plainly) is a no, which sends the
document to ``jsonschema``, whose errors are the messages; a no there finds nothing. A property
test holds it to ``jsonschema``'s verdict (tests/unit/test_schema_fast_path.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sized
from functools import cache

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any

Schema = Mapping[str, "Any"]  # a string: typing is not imported (see TYPE_CHECKING)


class _Unsure(Exception):
    """The walk cannot answer yes with certainty."""


# Keywords that say nothing about validity.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"}
)
_ANNOTATIONS |= {"x-llmform-secret"}


def verdict(schema: Schema, document: Any) -> bool | None:
    """Whether ``document`` meets ``schema`` (draft 2020-12, local ``$ref`` only) as
    ``jsonschema`` decides it; None when the walk cannot tell."""
    try:
        return _valid(schema, schema, document)
    except (_Unsure, RecursionError):
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": lambda v: _is_number(v) and (isinstance(v, int) or v.is_integer()),
}


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _plain(value: Any) -> bool:
    """A value compared the same way by ``==`` here and by ``jsonschema``."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _valid(root: Schema, schema: Schema | bool, value: Any) -> bool:
    if isinstance(schema, bool):
        return schema
    for keyword, rule in schema.items():
        check = _KEYWORDS.get(keyword)
        if check is None:
            if keyword in _ANNOTATIONS:
                continue
            raise _Unsure(keyword)
        if not check(root, schema, rule, value):
            return False
    return True


def _type(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
    for name in [rule] if isinstance(rule, str) else rule:
        check = _TYPES.get(name)
        if check is None:
            raise _Unsure(f"type {name}")
        if check(value):
            return True
    return False


def _mapping(value: Any) -> bool:
    """Whether ``value`` is a mapping; one with a key that is not text is not JSON."""
    if not isinstance(value, dict):
        return False
    if not all(isinstance(key, str) for key in value):
        raise _Unsure("a key that is not text")
    return True


def _ref(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
    if not isinstance(rule, str) or not rule.startswith("#/"):
        raise _Unsure(rule)
    target: Any = root
    for step in rule[2:].split("/"):
        try:
            target = target[step.replace("~1", "/").replace("~0", "~")]
        except (KeyError, TypeError):
            raise _Unsure(rule) from None
    return _valid(root, target, value)


def _properties(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
    if not _mapping(value):
        return True
    return all(_valid(root, rule[k], v) for k, v in value.items() if k in rule)


def _additional(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
    if not _mapping(value):
        return True
    if "patternProperties" in schema:
        raise _Unsure("patternProperties")
    known = schema.get("properties", {})
    return all(_valid(root, rule, v) for k, v in value.items() if k not in known)


def _property_names(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
    return not _mapping(value) or all(_valid(root, rule, key) for key in value)


def _items(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
    return not isinstance(value, list) or all(_valid(root, rule, item) for item in value)


def _unique(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
    if not rule or not isinstance(value, list):
        return True
    if not all(_plain(item) for item in value):
        raise _Unsure("uniqueItems")
    return len({(type(item), item) for item in value}) == len(value)


def _enum(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
    if not _plain(value) or not all(_plain(choice) or choice is None for choice in rule):
        raise _Unsure("enum")
    return any(type(choice) is type(value) and choice == value for choice in rule)


def _const(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
    return _enum(root, schema, [rule], value)


def _if(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
    branch = "then" if _valid(root, rule, value) else "else"
    return branch not in schema or _valid(root, schema[branch], value)


def _sized(measure: type[Sized], compare: Callable[[int, Any], bool]) -> Callable[..., bool]:
    def check(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
        return not isinstance(value, measure) or compare(len(value), rule)

    return check


def _bound(compare: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def check(root: Schema, schema: Schema, rule: Any, value: Any) -> bool:
        return not _is_number(value) or compare(value, rule)

    return check


_KEYWORDS: dict[str, Callable[[Schema, Schema, Any, Any], bool]] = {
    "type": _type,
    "$ref": _ref,
    "properties": _properties,
    "additionalProperties": _additional,
    "propertyNames": _property_names,
    "required": lambda root, schema, rule, value: (
        not _mapping(value) or all(name in value for name in rule)
    ),
    "minProperties": _sized(dict, lambda size, rule: size >= rule),
    "items": _items,
    "minItems": _sized(list, lambda size, rule: size >= rule),
    "uniqueItems": _unique,
    "minLength": _sized(str, lambda size, rule: size >= rule),
    "maxLength": _sized(str, lambda size, rule: size <= rule),
    "pattern": lambda root, schema, rule, value: (
        not isinstance(value, str) or _pattern(rule).search(value) is not None
    ),
    "enum": _enum,
    "const": _const,
    "minimum": _bound(lambda value, rule: value >= rule),
    "maximum": _bound(lambda value, rule: value <= rule),
    "if": _if,
    "then": lambda *_: True,  # judged with "if"
    "else": lambda *_: True,
}
