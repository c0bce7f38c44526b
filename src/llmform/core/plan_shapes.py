"""The types of a saved plan's fields, checked as it is read (``plan.plan_from_json``).

A plan file is data from disk: every value that llmform reads from it is checked to have the
shape llmform wrote, so a damaged or edited file is an error naming the field, never a crash
further on. Resource attributes are checked per kind as ``resources.py`` builds them; an
attribute this llmform does not know may be any JSON (apply's re-validation, ``plan_check``,
refuses anything llmform would not write).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..secrets.refs import RefSyntaxError, ref_from_string
from .diff import CREATE, DELETE, KIND_ORDER, NOOP, REPLACE, UPDATE
from .resources import Resource
from .typed_json import (
    Check,
    Fields,
    ShapeError,
    any_json,
    boolean,
    integer,
    list_of,
    map_of,
    matching,
    object_with,
    one_of,
    optional,
    scalar,
    text,
)

KINDS = tuple(KIND_ORDER)
ACTIONS = (CREATE, UPDATE, DELETE, REPLACE, NOOP)
PLAN_ID = matching(r"[A-Za-z0-9._-]{1,64}", "a plan id (letters, digits, '.', '_' or '-')")
_SLOT = re.compile(r"api_key|backup_keys\[(0|[1-9][0-9]{0,5})\]|[a-z][a-z0-9_]{0,63}")


def timestamp(value: Any, where: str) -> str:
    try:
        datetime.fromisoformat(text(value, where))
    except ValueError:
        raise ShapeError(where, "expected an ISO 8601 time") from None
    return value  # type: ignore[no-any-return]


TIMESTAMP: Check[str] = timestamp


def reference(value: Any, where: str) -> str:
    """A secret reference as stores and plans write it (``env:NAME``, ``vault:path#key``)."""
    try:
        ref_from_string(text(value, where))
    except (RefSyntaxError, ValueError):
        wanted = "expected a secret reference (env:NAME or vault:path#key)"
        raise ShapeError(where, wanted) from None
    return value  # type: ignore[no-any-return]


def fingerprint_map(value: Any, where: str) -> dict[str, str]:
    """A plan's fingerprints: reference -> fingerprint."""
    fingerprints = map_of(text)(value, where)
    for ref in fingerprints:
        try:
            ref_from_string(ref)
        except (RefSyntaxError, ValueError):
            wanted = "a key is not a secret reference (env:NAME or vault:path#key)"
            raise ShapeError(where, wanted) from None
    return fingerprints


def _secret_map(value: Any, where: str) -> dict[str, str]:
    """A config's secrets: slot -> reference."""
    slots = map_of(reference)(value, where)
    for slot in slots:
        if _SLOT.fullmatch(slot) is None:
            raise ShapeError(f"{where}.{slot}", "not a secret slot (api_key, backup_keys[N], ...)")
    return slots


def _model(fields: Fields, *, typed: bool) -> dict[str, Any]:
    """A model in normal form (``resources.model_dict``); ``typed``: its types are required."""
    fields.get("name", text)
    if typed:
        fields.get("type", list_of(text))
    else:
        fields.get_or("type", list_of(text), None)
    fields.get_or("max_tokens", integer, None)
    fields.get_or("tools", boolean, False)
    return dict(fields.value)


def _factory_model(fields: Fields) -> dict[str, Any]:
    return _model(fields, typed=True)


def _config_model(fields: Fields) -> dict[str, Any]:
    """A catalog model by name ({"name"}), or a custom one with its types and custom: true."""
    custom = fields.get_or("custom", boolean, False)
    return _model(fields, typed=custom)


# attribute -> its check, per kind; every one is required except those in _OPTIONAL
_ATTRS: Mapping[str, Mapping[str, Check[Any]]] = {
    "factory": {
        "type": text,
        "api_base": optional(text),
        "tags": list_of(text),
        "models": list_of(object_with(_factory_model)),
    },
    "workspace": {
        "description": text,
        "labels": map_of(text),
        "defaults": map_of(text),
        "protect": boolean,
    },
    "config": {
        "factory": text,
        "api_base": optional(text),
        "enabled": boolean,
        "description": text,
        "models": list_of(object_with(_config_model)),
        "options": map_of(scalar),
        "secrets": _secret_map,
        "encrypted": boolean,
        "protect": boolean,
    },
    "policy": {
        "description": text,
        "applies_to": one_of("factory", "workspace", "config"),
        "workspaces": list_of(text),
        "labels": map_of(text),
        "rule": text,
        "message": text,
        "level": one_of("advisory", "soft", "hard"),
    },
}
_OPTIONAL = frozenset({"encrypted", "protect"})  # present only when true (resources.FLAGS)


def resource_attrs(kind: str) -> Check[dict[str, Any]]:
    checks = _ATTRS[kind]

    def check(value: Any, where: str) -> dict[str, Any]:
        fields = Fields(value, where)
        for name, check_attr in checks.items():
            if name in _OPTIONAL:
                fields.get_or(name, check_attr, None)
            else:
                fields.get(name, check_attr)
        for name in set(fields.value) - set(checks):
            fields.get(name, any_json)
        return dict(fields.value)

    return check


def address_problem(resource: Resource) -> str | None:
    """Why ``resource``'s address does not fit its kind and workspace, if it does not."""
    kind, _, name = resource.address.partition(".")
    if kind != resource.kind or not name:
        return f"expected '{resource.kind}.NAME'"
    if resource.kind in ("factory", "policy"):
        return None if resource.workspace is None else f"a {resource.kind} belongs to no workspace"
    if resource.kind == "workspace":
        return None if name == resource.workspace else "does not name its workspace"
    parts = name.split("/")
    if len(parts) != 2 or not all(parts) or parts[0] != resource.workspace:
        return "expected 'config.WORKSPACE/NAME' naming its workspace"
    return None


def _key_result(fields: Fields) -> None:
    fields.get("slot", text)
    fields.get("outcome", text)
    fields.get_or("detail", text, "")
    fields.get_or("passed", boolean, False)  # absent: counted as failed
    for name in set(fields.value) - fields.read:
        fields.get(name, any_json)


def _key_check(fields: Fields) -> dict[str, Any]:
    """One config's key-check result (``checks.results.ConfigResult.to_dict``): what the plan
    and its renderers read is type-checked, the rest may be any JSON."""
    fields.get("address", text)
    fields.get("keys", list_of(object_with(_key_result)))
    for name in set(fields.value) - fields.read:
        fields.get(name, any_json)
    return dict(fields.value)


KEY_CHECK: Check[dict[str, Any]] = object_with(_key_check)


def _slots(value: Any, where: str) -> tuple[str, ...]:
    return tuple(list_of(text)(value, where))


NOT_COMPARED: Check[tuple[str, ...]] = _slots  # a config's slots whose value was not read
