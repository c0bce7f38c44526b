"""JSON Schema checks of loaded documents, reported as diagnostics with file:line:col.

The schema file shipped in the package is the same file as ``schema/llmform.schema.json`` in the
repository (a test keeps them identical); nothing here restates what it says.

Two validators read it. Nearly every document a user writes is valid, so ``check_document``
first asks ``jsonschema-rs`` (Rust, draft 2020-12) for a yes or no; only a document it rejects
goes to ``jsonschema``, whose errors (keyword, subschema, path) the messages below are made
from. ``jsonschema`` is imported only then, so a commit of valid files does not pay its import.
A property test holds the two to the same verdict (tests/unit/test_schema_fast_path.py).

A short run (the pre-commit hook's one file, and the built-in catalog) does not pay for
``jsonschema-rs`` either: its import is about as long as the rest of a one-file ``validate``.
The first documents of a process, up to ``WALK_ENTRIES`` items and models, are walked in plain
Python instead (``schema_walk``, ~20 µs an entry against ~15 ms for the import); the same
property test holds the walk to ``jsonschema``.

This replaced a hand-written yes/no compiler (``fastschema.py``, 278 lines) when measured
faster (issue 10; figures in the README's Performance section): about 6x less time per document,
``benchmarks/validate.py`` a few per cent faster, and 34 ms less import. Its errors are not
``jsonschema``'s (a ``propertyNames`` error wraps the name's own, another order, no subschema,
other wording), so the messages stay with ``jsonschema``. A no where ``jsonschema`` says yes is
harmless (``jsonschema`` then finds nothing); the one known case is a name ending in a newline,
which Python's ``$`` lets through and Rust's does not.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache

from ..errors import Diagnostic, error
from . import schema_walk
from .loader import Document
from .secret_shapes import (
    NOT_SHOWN,
    SECRET_FIELDS,
    format_path,
    looks_like_key,
)

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any

    import jsonschema_rs
    from jsonschema import Draft202012Validator, ValidationError

REFERENCE_FORMS = 'a reference is {vault: "path/to/secret#key"} or {env: VARIABLE_NAME}'
UNKNOWN_REF_KEY_MESSAGE = (
    "unknown key in a reference (not shown in case it is the secret itself); " + REFERENCE_FORMS
)
LITERAL_SECRET_MESSAGE = (
    "a literal secret is not allowed here; write a reference instead: "
    '{vault: "path/to/secret#key"} or {env: VARIABLE_NAME}'
)


def schema_text() -> str:
    """The JSON Schema of the llmform format, as shipped in the package."""
    # beside this module (package-data), read without importlib.resources: see catalog
    with open(
        os.path.join(os.path.dirname(__file__), "llmform.schema.json"), encoding="utf-8"
    ) as f:
        return f.read()


@cache
def schema() -> dict[str, Any]:
    import json  # start-up time: a run whose files all come from the parsed-file cache has none

    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # only for rejected documents: see the docstring

    return Draft202012Validator(schema())


@cache
def _fast_validator() -> jsonschema_rs.Validator:
    import jsonschema_rs  # start-up time: see the docstring

    return jsonschema_rs.Draft202012Validator(schema())


# Entries (items and their models) the walk takes in one process before jsonschema-rs is
# imported: about 10 ms of walking, less than the import (the catalog alone is ~160).
WALK_ENTRIES = 500


class _Walked:
    entries = 0  # walked so far in this process


def passes_fast_check(data: Any) -> bool:
    """The yes/no answer of the walk while a run is short, then of ``jsonschema-rs``. A value
    ``jsonschema-rs`` cannot convert to JSON (a mapping key that is not a string; loaded YAML
    has none, but a caller's data may), or one the walk is unsure of, is a no, so that
    ``jsonschema`` decides."""
    size = _entries(data)
    if _Walked.entries + size <= WALK_ENTRIES:
        _Walked.entries += size
        return schema_walk.verdict(schema(), data) is True
    _Walked.entries = WALK_ENTRIES  # jsonschema-rs from now on: imported, it is the faster
    return passes_rust_check(data)


def passes_rust_check(data: Any) -> bool:
    """The yes/no answer of ``jsonschema-rs``; no for a value it cannot convert to JSON."""
    try:
        return _fast_validator().is_valid(data)
    except ValueError:
        return False


def _entries(data: Any) -> int:
    """A document's size for the walk's budget: its sections' items, and their models."""
    sections = [v for v in data.values() if isinstance(v, list)] if isinstance(data, dict) else []
    items = [item for section in sections for item in section]
    models = [i.get("models") if isinstance(i, dict) else None for i in items]
    return len(items) + sum(len(m) for m in models if isinstance(m, list))


def _suggest(word: str, choices: Iterable[str]) -> str:
    import difflib  # start-up time: for an error's hint only

    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _shown(value: Any) -> str:
    if isinstance(value, str) and looks_like_key(value):
        return NOT_SHOWN  # a key pasted into the wrong field is not quoted back
    import json  # see schema()

    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "number": "a number",
}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    for name, kind in (("a string", str), ("an integer", int), ("a number", float)):
        if isinstance(value, kind):
            return name
    return "a mapping" if isinstance(value, dict) else "a list"


def _diagnostics_for(document: Document, err: ValidationError) -> Iterator[Diagnostic]:
    path: list[str | int] = list(err.absolute_path)
    secret = any(step in SECRET_FIELDS for step in path)
    where = document.locate(path)
    dotted = format_path(path)
    kind = err.validator
    rule: Any = err.validator_value
    sub: Any = err.schema
    instance: Any = err.instance

    if kind == "additionalProperties" and isinstance(instance, dict):
        known = sub.get("properties", {})
        for key in instance:
            if key not in known:
                hint = _suggest(key, known)
                if secret and not hint:  # `api_key: {sk-...}` is a mapping with the key as key
                    yield error(
                        document.locate([*path, key], key=True), dotted, UNKNOWN_REF_KEY_MESSAGE
                    )
                    continue
                if looks_like_key(key):
                    yield error(
                        document.locate([*path, key], key=True),
                        dotted,
                        f"unknown key {NOT_SHOWN}; remove it",
                    )
                    continue
                yield error(
                    document.locate([*path, key], key=True),
                    format_path([*path, key]),
                    f"unknown key {key!r}{hint}",
                )
        return
    if secret and kind == "type":
        yield error(where, dotted, _secret_type_message(sub, instance))
        return
    if secret:  # never echo what may be a secret
        yield error(where, dotted, _secret_safe_message(err))
        return
    if kind == "required":
        missing = [name for name in rule if name not in instance]
        for name in missing:
            yield error(where, dotted, f"missing required key {name!r}")
        return
    if kind == "type":
        names = [rule] if isinstance(rule, str) else list(rule)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        hint = ""
        config_model = path[:1] == ["configs"] and path[-2:-1] == ["models"]
        if config_model:  # the schema's if/else of a name or a custom model reports the else
            wanted = "a model name or a custom model {name, type}"
        if (names == ["string"] or config_model) and isinstance(instance, bool):
            hint = "; quote it (YAML reads yes, no, on, off, true and false as booleans)"
        elif (names == ["string"] or config_model) and isinstance(instance, int | float):
            hint = f"; quote it: '{instance}'"  # YAML read 42 or 1.5 as a number
        yield error(where, dotted, f"expected {wanted}, got {_type_name(instance)}{hint}")
        return
    if kind == "enum" and "propertyNames" in err.absolute_schema_path:
        where = document.locate([*path, instance], key=True)
        dotted = format_path([*path, instance])
    if kind == "enum":
        choices = [str(c) for c in rule]
        hint = _suggest(str(instance), choices) or f" (one of: {', '.join(choices)})"
        yield error(where, dotted, f"{_shown(instance)} is not allowed{hint}")
        return
    if kind == "pattern":
        wanted = str(sub.get("description", f"text matching {rule}")).rstrip(".")
        wanted = wanted if wanted[1:2].isupper() else wanted[0].lower() + wanted[1:]  # not URL
        yield error(where, dotted, f"{_shown(instance)} is not valid; write {wanted}")
        return
    yield error(
        where, dotted, _LIMIT_MESSAGES.get(str(kind), _default_message)(rule, instance, err)
    )


def _default_message(rule: Any, instance: Any, err: ValidationError) -> str:
    if isinstance(instance, str) and looks_like_key(instance):
        return f"{NOT_SHOWN} is not valid here ({err.validator})"
    return err.message


# jsonschema's own wording ("-1 is less than the minimum of 0") says what but not how to fix it
_LIMIT_MESSAGES: dict[str, Callable[[Any, Any, ValidationError], str]] = {
    "minimum": lambda rule, value, _: f"must be at least {rule}, not {_shown(value)}",
    "maximum": lambda rule, value, _: f"must be at most {rule}, not {_shown(value)}",
    "minLength": lambda rule, value, _: (
        "must not be empty" if rule == 1 else f"must be at least {rule} characters long"
    ),
    "maxLength": lambda rule, value, _: f"is {len(value)} characters long; the limit is {rule}",
    "uniqueItems": lambda rule, value, _: "lists the same item more than once; remove repeats",
    "minItems": lambda rule, value, _: f"needs at least {rule} item(s)",
}


def _secret_type_message(sub: Any, instance: Any) -> str:
    literal = isinstance(instance, str | int | float)
    if isinstance(sub, dict) and sub.get("x-llmform-secret"):
        if literal:
            return LITERAL_SECRET_MESSAGE
        return f"expected a reference, got {_type_name(instance)}; {REFERENCE_FORMS}"
    if isinstance(sub, dict) and sub.get("type") == "array" and literal:  # backup_keys: sk-...
        return (
            "a literal secret is not allowed here; write a list of references: "
            '[{vault: "path/to/secret#key"}, {env: VARIABLE_NAME}]'
        )
    expected = sub.get("type") if isinstance(sub, dict) else None
    wanted = _TYPE_NAMES.get(expected, "something else") if isinstance(expected, str) else "?"
    return f"expected {wanted}, got {_type_name(instance)}; {REFERENCE_FORMS}"


def _secret_safe_message(err: ValidationError) -> str:
    kind = err.validator
    expected: Any = err.validator_value
    if kind == "type":
        wanted = _TYPE_NAMES.get(expected, expected) if isinstance(expected, str) else expected
        return f"expected {wanted}"
    if kind == "minProperties":
        return 'an empty reference; write {vault: "path#key"} or {env: NAME}'
    if kind == "minimum":
        return f"must be at least {expected}"
    if kind == "maximum":  # a version number, never the secret: safe to say what it is
        return f"must be at most {expected}"
    return f"invalid secret reference ({kind})"


# (section, index, field): a field of an item the schema rejected; field None: the whole item
ItemPath = tuple[str, int, str | None]


def _broken_items(document: Document, path: Sequence[str | int]) -> Iterator[ItemPath]:
    """What a schema error at ``path`` makes untrustworthy: one field, one item, or sections."""
    if len(path) >= 2 and isinstance(path[0], str) and isinstance(path[1], int):
        field = path[2] if len(path) >= 3 and isinstance(path[2], str) else None
        yield (path[0], path[1], field)
        return
    sections = [str(path[0])] if path else ["factories", "workspaces", "configs", "policies"]
    for section in sections:
        items = document.data.get(section)
        if isinstance(items, list):
            yield from ((section, index, None) for index in range(len(items)))


def check_document(document: Document) -> tuple[list[Diagnostic], set[ItemPath]]:
    """Every schema problem of one document, and the items they concern."""
    diagnostics: list[Diagnostic] = []
    broken: set[ItemPath] = set()
    if passes_fast_check(document.data):
        return diagnostics, broken
    for err in _validator().iter_errors(document.data):
        diagnostics.extend(_diagnostics_for(document, err))
        path = list(err.absolute_path)
        if err.validator == "additionalProperties" and len(path) == 2:
            # unknown keys of an item: the keys it does know can still be checked
            known = err.schema.get("properties", {})
            broken.update(
                (str(path[0]), int(path[1]), key) for key in err.instance if key not in known
            )
        else:
            broken.update(_broken_items(document, path))
    return diagnostics, broken
