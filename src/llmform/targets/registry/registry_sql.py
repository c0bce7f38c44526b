"""Reading the registry tables into resources and writing changes back, over DB-API cursors.

The SQL is the common subset of SQLite and PostgreSQL, with ``?`` placeholders; a dialect that
needs another style passes its cursor through ``Cursor``'s adapter.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ...core.diff import CREATE, DELETE, NOOP, REPLACE, UPDATE, Change
from ...core.resources import JSON, Resource, model_dict
from ...state.sql.sqlite_state import Cursor
from .policy_rows import read_policies, write_policy
from .row_checks import Row
from .selection import EVERYTHING, Selection


def _dumps(value: JSON) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- read ------------------------------------------------------------------------------------


def read_resources(
    cur: Cursor, only: Selection | None = None
) -> tuple[dict[str, Resource], dict[str, Resource]]:
    """(managed, unmanaged) resources by address, in the normal form of ``resources.py``;
    ``only``: those it selects (None: all). A value of the wrong type or shape raises
    DamagedRow, naming its table and row."""
    pick = only or EVERYTHING
    managed: dict[str, Resource] = {}
    unmanaged: dict[str, Resource] = {}

    def put(resource: Resource, is_managed: bool) -> None:
        (managed if is_managed else unmanaged)[resource.address] = resource

    factory_models: dict[str, list[JSON]] = defaultdict(list)
    query = "SELECT factory, name, types, max_tokens, tools FROM factory_models"
    for factory, name, types, max_tokens, tools in pick.rows(cur, query, "factory_models"):
        row = Row("factory_models", factory=factory, name=name)
        factory_models[row.text("factory", factory)].append(
            model_dict(
                row.text("name", name),
                row.strings("types", types),
                row.optional_integer("max_tokens", max_tokens),
                row.flag("tools", tools),
            )
        )
    query = "SELECT name, type, api_base, tags, managed FROM factories"
    for name, kind, api_base, tags, is_managed in pick.rows(cur, query, "factories"):
        row = Row("factories", name=name)
        attrs: dict[str, Any] = {
            "type": row.text("type", kind),
            "api_base": row.optional_text("api_base", api_base),
            "tags": sorted(row.strings("tags", tags)),
            "models": sorted(factory_models[name], key=lambda m: m["name"]),
        }
        address = f"factory.{row.text('name', name)}"
        put(Resource(address, "factory", None, attrs), row.flag("managed", is_managed))

    query = "SELECT name, description, labels, defaults, managed, protect FROM workspaces"
    for name, description, labels, defaults, is_managed, protect in pick.rows(
        cur, query, "workspaces"
    ):
        row = Row("workspaces", name=name)
        attrs = {
            "description": row.text("description", description),
            "labels": row.object("labels", labels, of_strings=True),
            "defaults": row.object("defaults", defaults, of_strings=True),
        }
        if row.flag("protect", protect):
            attrs["protect"] = True  # as resources.workspace_resource has it
        name = row.text("name", name)
        put(
            Resource(f"workspace.{name}", "workspace", name, attrs),
            row.flag("managed", is_managed),
        )

    config_models: dict[tuple[str, str], list[JSON]] = defaultdict(list)
    query = "SELECT workspace, config, name, types, max_tokens, tools, custom FROM config_models"
    for ws, config, name, types, max_tokens, tools, custom in pick.rows(
        cur, query, "config_models"
    ):
        row = Row("config_models", workspace=ws, config=config, name=name)
        config_models[(ws, config)].append(
            model_dict(
                row.text("name", name),
                row.strings("types", types),
                row.optional_integer("max_tokens", max_tokens),
                row.flag("tools", tools),
                True,
            )
            if row.flag("custom", custom)
            else {"name": row.text("name", name)}
        )
    refs: dict[tuple[str, str], list[tuple[int, str, str, str | None]]] = defaultdict(list)
    # configs with a secret row that holds no sealed value; the sealed text itself is not read
    plain: set[tuple[str, str]] = set()
    query = (
        "SELECT workspace, config, slot, position, ref, fingerprint, ciphertext IS NULL"
        " FROM config_secrets"
    )
    for ws, config, slot, position, ref, fingerprint, unsealed in pick.rows(
        cur, query, "config_secrets"
    ):
        row = Row("config_secrets", workspace=ws, config=config, slot=slot)
        refs[(ws, config)].append(
            (
                row.integer("position", position),
                row.text("slot", slot),
                row.reference("ref", ref),
                row.optional_text("fingerprint", fingerprint),
            )
        )
        if unsealed:
            plain.add((ws, config))
    query = (
        "SELECT workspace, name, factory, api_base, enabled, description, options, managed,"
        " protect FROM configs"
    )
    for (
        ws,
        name,
        factory,
        api_base,
        enabled,
        description,
        options,
        is_managed,
        protect,
    ) in pick.rows(cur, query, "configs"):
        row = Row("configs", workspace=ws, name=name)
        slots = sorted(refs[(ws, name)])
        attrs = {
            "factory": row.text("factory", factory),
            "api_base": row.optional_text("api_base", api_base),
            "enabled": row.flag("enabled", enabled),
            "description": row.text("description", description),
            "models": sorted(config_models[(ws, name)], key=lambda m: m["name"]),
            "options": row.object("options", options, of_strings=True),
            "secrets": {slot: ref for _, slot, ref, _ in slots},
        }
        if slots and (ws, name) not in plain:
            attrs["encrypted"] = True  # as resources.config_resource(encrypted=True) has it
        if row.flag("protect", protect):
            attrs["protect"] = True
        secrets = {slot: fp for _, slot, _, fp in slots if fp is not None}
        address = f"config.{row.text('workspace', ws)}/{row.text('name', name)}"
        put(Resource(address, "config", ws, attrs, secrets), row.flag("managed", is_managed))
    for resource, is_managed in read_policies(cur, pick.policies):
        put(resource, is_managed)
    return managed, unmanaged


# -- write -----------------------------------------------------------------------------------


class SealedMismatch(ValueError):
    """The sealed values handed to apply do not match what the plan says of a config."""


def apply_change(cur: Cursor, change: Change, sealed: Mapping[str, str] | None = None) -> None:
    """One change, as the plan says. Runtime columns are left alone on update.

    ``sealed`` maps the slots of the config written to their sealed values, stored in
    ``ciphertext``: every slot of a config planned ``encrypted``, none of any other (a row
    written otherwise would read back unlike the plan, and show as a change forever)."""
    if change.action == NOOP:
        return
    if change.after is not None and change.kind == "config":
        _check_sealed(change.after, sealed or {})
    if change.action in (DELETE, REPLACE):
        assert change.before is not None
        _delete(cur, change.before)
    if change.action in (CREATE, REPLACE):
        assert change.after is not None
        _insert(cur, change.after, sealed or {})
    if change.action == UPDATE:
        assert change.after is not None
        _update(cur, change.after, sealed or {})


def _check_sealed(resource: Resource, sealed: Mapping[str, str]) -> None:
    slots = set(resource.attrs["secrets"])
    if resource.attrs.get("encrypted"):
        missing = sorted(slots - set(sealed))
        if missing:
            raise SealedMismatch(
                f"{resource.address} is planned encrypted, but no sealed value was given for "
                f"{', '.join(missing)}"
            )
    elif sealed:
        raise SealedMismatch(
            f"{resource.address} is not planned encrypted, but sealed values were given for it"
        )
    extra = sorted(set(sealed) - slots)
    if extra:
        raise SealedMismatch(f"{resource.address} has no secret {', '.join(extra)} to seal")


def _delete(cur: Cursor, resource: Resource) -> None:
    if resource.kind == "factory":
        cur.execute("DELETE FROM factories WHERE name = ?", (resource.name,))
    elif resource.kind == "policy":
        cur.execute("DELETE FROM policies WHERE name = ?", (resource.name,))
    elif resource.kind == "workspace":
        cur.execute("DELETE FROM workspaces WHERE name = ?", (resource.name,))
    else:
        ws, name = resource.name.split("/", 1)
        cur.execute("DELETE FROM configs WHERE workspace = ? AND name = ?", (ws, name))


def _insert(cur: Cursor, resource: Resource, sealed: Mapping[str, str]) -> None:
    a, stamp = resource.attrs, now()
    if resource.kind == "policy":
        write_policy(cur, resource, stamp, create=True)
    elif resource.kind == "factory":
        cur.execute(
            "INSERT INTO factories (name, type, api_base, tags, managed, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 1, ?, ?)",
            (resource.name, a["type"], a["api_base"], _dumps(a["tags"]), stamp, stamp),
        )
        _factory_models(cur, resource)
    elif resource.kind == "workspace":
        cur.execute(
            "INSERT INTO workspaces (name, description, labels, defaults, protect, managed,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
            (
                resource.name,
                a["description"],
                _dumps(a["labels"]),
                _dumps(a["defaults"]),
                _protect(resource),
                stamp,
                stamp,
            ),
        )
    else:
        ws, name = resource.name.split("/", 1)
        cur.execute(
            "INSERT INTO configs (workspace, name, factory, api_base, enabled, description,"
            " options, protect, managed, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            (
                ws,
                name,
                a["factory"],
                a["api_base"],
                int(a["enabled"]),
                a["description"],
                _dumps(a["options"]),
                _protect(resource),
                stamp,
                stamp,
            ),
        )
        _config_models(cur, ws, name, resource)
        _config_secrets(cur, ws, name, resource, sealed)


def _update(cur: Cursor, resource: Resource, sealed: Mapping[str, str]) -> None:
    a, stamp = resource.attrs, now()
    if resource.kind == "policy":
        write_policy(cur, resource, stamp, create=False)
    elif resource.kind == "factory":
        cur.execute(
            "UPDATE factories SET type = ?, api_base = ?, tags = ?, updated_at = ? WHERE name = ?",
            (a["type"], a["api_base"], _dumps(a["tags"]), stamp, resource.name),
        )
        _factory_models(cur, resource)
    elif resource.kind == "workspace":
        cur.execute(
            "UPDATE workspaces SET description = ?, labels = ?, defaults = ?, protect = ?,"
            " updated_at = ? WHERE name = ?",
            (
                a["description"],
                _dumps(a["labels"]),
                _dumps(a["defaults"]),
                _protect(resource),
                stamp,
                resource.name,
            ),
        )
    else:
        ws, name = resource.name.split("/", 1)
        cur.execute(
            "UPDATE configs SET factory = ?, api_base = ?, enabled = ?, description = ?,"
            " options = ?, protect = ?, updated_at = ? WHERE workspace = ? AND name = ?",
            (
                a["factory"],
                a["api_base"],
                int(a["enabled"]),
                a["description"],
                _dumps(a["options"]),
                _protect(resource),
                stamp,
                ws,
                name,
            ),
        )
        _config_models(cur, ws, name, resource)
        _config_secrets(cur, ws, name, resource, sealed)


def _protect(resource: Resource) -> int:
    return int(resource.attrs.get("protect") is True)


def _model_row(model: JSON) -> tuple[str, str | None, int | None, int]:
    """A named catalog model ({"name": ...}) has no details of its own: NULL types."""
    types = _dumps(model["type"]) if "type" in model else None
    return (model["name"], types, model.get("max_tokens"), int(model.get("tools", False)))


def _factory_models(cur: Cursor, resource: Resource) -> None:
    models = resource.attrs["models"]
    cur.execute("DELETE FROM factory_models WHERE factory = ?", (resource.name,))
    cur.executemany(
        "INSERT INTO factory_models (factory, name, types, max_tokens, tools)"
        " VALUES (?, ?, ?, ?, ?)",
        [(resource.name, *_model_row(m)) for m in models],
    )


def _config_models(cur: Cursor, ws: str, name: str, resource: Resource) -> None:
    """Upsert, so that a kept model keeps its runtime ``used_tokens``."""
    models = resource.attrs["models"]
    keep = [m["name"] for m in models]
    cur.execute("SELECT name FROM config_models WHERE workspace = ? AND config = ?", (ws, name))
    gone = [row[0] for row in cur.fetchall() if row[0] not in keep]
    cur.executemany(
        "DELETE FROM config_models WHERE workspace = ? AND config = ? AND name = ?",
        [(ws, name, model) for model in gone],
    )
    cur.executemany(
        "INSERT INTO config_models (workspace, config, name, types, max_tokens, tools, custom)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace, config, name) DO UPDATE SET"
        " types = excluded.types, max_tokens = excluded.max_tokens, tools = excluded.tools,"
        " custom = excluded.custom",
        [(ws, name, *_model_row(m), int(m.get("custom", False))) for m in models],
    )


def _config_secrets(
    cur: Cursor, ws: str, name: str, resource: Resource, sealed: Mapping[str, str]
) -> None:
    cur.execute("DELETE FROM config_secrets WHERE workspace = ? AND config = ?", (ws, name))
    cur.executemany(
        "INSERT INTO config_secrets (workspace, config, slot, position, ref, fingerprint,"
        " ciphertext) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (ws, name, slot, position, ref, resource.secrets.get(slot), sealed.get(slot))
            for position, (slot, ref) in enumerate(resource.attrs["secrets"].items())
        ],
    )
