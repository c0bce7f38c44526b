"""The registry's ``policies`` table (schema version 3): policies applied like any other
resource, so that the policies in force judge the next change."""

from __future__ import annotations

import json
from collections.abc import Collection

from ...core.resources import Resource
from ...state.sql.sqlite_state import Cursor
from .row_checks import Row
from .selection import matching

_LEVELS = ("advisory", "soft", "hard")
_APPLIES_TO = ("factory", "workspace", "config")


def read_policies(cur: Cursor, names: Collection[str] | None = None) -> list[tuple[Resource, bool]]:
    """Every policy row (``names``: those of these names) as a resource, and whether llmform
    manages it."""
    query = (
        "SELECT name, description, applies_to, workspaces, labels, rule, message, level, managed"
        " FROM policies"
    )
    found = []
    for (
        name,
        description,
        applies,
        workspaces,
        labels,
        rule,
        message,
        level,
        managed,
    ) in matching(cur, query, "name", names):
        row = Row("policies", name=name)
        attrs = {
            "description": row.text("description", description),
            "applies_to": row.choice("applies_to", applies, _APPLIES_TO),
            "workspaces": row.strings("workspaces", workspaces),
            "labels": row.object("labels", labels, of_strings=True),
            "rule": row.text("rule", rule),
            "message": row.text("message", message),
            "level": row.choice("level", level, _LEVELS),
        }
        address = f"policy.{row.text('name', name)}"
        found.append((Resource(address, "policy", None, attrs), row.flag("managed", managed)))
    return found


def write_policy(cur: Cursor, resource: Resource, stamp: str, *, create: bool) -> None:
    a = resource.attrs
    values = (
        a["description"],
        a["applies_to"],
        _dumps(a["workspaces"]),
        _dumps(a["labels"]),
        a["rule"],
        a["message"],
        a["level"],
    )
    if create:
        cur.execute(
            "INSERT INTO policies (description, applies_to, workspaces, labels, rule, message,"
            " level, name, managed, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            (*values, resource.name, stamp, stamp),
        )
    else:
        cur.execute(
            "UPDATE policies SET description = ?, applies_to = ?, workspaces = ?, labels = ?,"
            " rule = ?, message = ?, level = ?, name = ?, updated_at = ? WHERE name = ?",
            (*values, resource.name, stamp, resource.name),
        )


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
