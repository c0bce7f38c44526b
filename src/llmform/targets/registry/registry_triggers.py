"""Why a stored digest can be trusted: triggers that forget it when a row changes behind
llmform's back.

Each managed resource's row (``factories``, ``workspaces``, ``configs``, ``policies``) holds in
``digest`` the ``core.resources.resource_digest`` of the resource as llmform read it back right
after writing it, in the same transaction (``registry_digests.write_digests``). A plan that finds
a desired resource's digest equal to the stored one takes it as unchanged without reading it.

A digest is only worth that while nothing else has changed what it digests. So every write that
does not itself set ``digest`` sets it back to NULL (not known: the plan reads the row and diffs
it, as it would without digests): an UPDATE of any column the resource is made of (not the
runtime ones applications write, ``used_tokens``, ``created_at``, ``updated_at``, so that their
traffic keeps the digests), and any INSERT, DELETE or UPDATE of a model or secret row, which
clears its config's (or factory's) digest. A hand edit in ``sqlite3`` or ``psql`` is such a
write, so it shows in the next plan. llmform's own apply writes the rows first (the triggers
clear the digest) and the digest last.

What the triggers cannot see: a writer that sets ``digest`` itself, one that drops or disables
the triggers (``ALTER TABLE ... DISABLE TRIGGER``, PostgreSQL's ``session_replication_role =
replica``). The plan checks that every trigger is there and enabled before it trusts any digest
(``TRIGGER_CHECK``); it does not guard against a forged digest.
"""

from __future__ import annotations

# The migration (0-based, as ``sqlite_schema.migration`` numbers them) that adds the digests.
DIGESTS_ADDED = 3

# A resource's table: its key columns, and the columns the resource is made of.
PARENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "factories": (("name",), ("type", "api_base", "tags", "managed")),
    "workspaces": (("name",), ("description", "labels", "defaults", "managed", "protect")),
    "configs": (
        ("workspace", "name"),
        ("factory", "api_base", "enabled", "description", "options", "managed", "protect"),
    ),
    "policies": (
        ("name",),
        ("description", "applies_to", "workspaces", "labels", "rule", "message", "level"),
    ),
}
# A table of a resource's parts: its parent, the parent's key in its own columns, and the
# columns the resource is made of (a model's ``used_tokens`` is not one).
CHILDREN: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "factory_models": ("factories", ("factory",), ("name", "types", "max_tokens", "tools")),
    "config_models": (
        "configs",
        ("workspace", "config"),
        ("name", "types", "max_tokens", "tools", "custom"),
    ),
    "config_secrets": (
        "configs",
        ("workspace", "config"),
        ("slot", "position", "ref", "fingerprint", "ciphertext"),
    ),
}
PREFIX = "llmform_digest_"
# How many triggers there are once the migration ran: one per resource table, and in SQLite
# three per parts table (insert, update, delete), in PostgreSQL one.
TRIGGER_COUNT = {
    "sqlite": len(PARENTS) + 3 * len(CHILDREN),
    "postgresql": len(PARENTS) + len(CHILDREN),
}


def _columns(parent: str) -> tuple[str, ...]:
    key, columns = PARENTS[parent]
    return key + columns


def _clear_parent(parent: str, keys: tuple[str, ...], row: str) -> str:
    """The statement that clears the digest of ``row``'s (``new``/``old``) parent."""
    where = " AND ".join(
        f"{column} = {row}.{own}" for column, own in zip(PARENTS[parent][0], keys, strict=True)
    )
    return f"UPDATE {parent} SET digest = NULL WHERE {where};"


def _sqlite() -> str:
    statements = []
    for table in PARENTS:
        key = PARENTS[table][0]
        statements.append(
            f"CREATE TRIGGER {PREFIX}{table} AFTER UPDATE OF {', '.join(_columns(table))} "
            f"ON {table} WHEN new.digest IS old.digest BEGIN UPDATE {table} SET digest = NULL "
            f"WHERE {' AND '.join(f'{c} = new.{c}' for c in key)}; END;"
        )
    for table, (parent, keys, columns) in CHILDREN.items():
        every = ", ".join(keys + columns)
        statements += [
            f"CREATE TRIGGER {PREFIX}{table}_insert AFTER INSERT ON {table} "
            f"BEGIN {_clear_parent(parent, keys, 'new')} END;",
            f"CREATE TRIGGER {PREFIX}{table}_delete AFTER DELETE ON {table} "
            f"BEGIN {_clear_parent(parent, keys, 'old')} END;",
            f"CREATE TRIGGER {PREFIX}{table}_update AFTER UPDATE OF {every} ON {table} BEGIN "
            f"{_clear_parent(parent, keys, 'old')} {_clear_parent(parent, keys, 'new')} END;",
        ]
    return "\n".join(statements) + "\n"


def _postgresql() -> str:
    statements = [
        # one function for every resource table: each has ``digest``
        f"CREATE FUNCTION {PREFIX}unknown() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.digest IS NOT DISTINCT FROM OLD.digest THEN NEW.digest := NULL; END IF; "
        "RETURN NEW; END $$;"
    ]
    for table in PARENTS:
        statements.append(
            f"CREATE TRIGGER {PREFIX}{table} BEFORE UPDATE OF {', '.join(_columns(table))} "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION {PREFIX}unknown();"
        )
    for table, (parent, keys, columns) in CHILDREN.items():
        every = ", ".join(keys + columns)
        statements += [
            f"CREATE FUNCTION {PREFIX}{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP <> 'INSERT' THEN {_clear_parent(parent, keys, 'OLD')} END IF; "
            f"IF TG_OP <> 'DELETE' THEN {_clear_parent(parent, keys, 'NEW')} END IF; "
            "RETURN NULL; END $$;",
            f"CREATE TRIGGER {PREFIX}{table} AFTER INSERT OR DELETE OR UPDATE OF {every} "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION {PREFIX}{table}();",
        ]
    return "\n".join(statements) + "\n"


def digest_triggers(dialect: str) -> str:
    """The triggers of this module's docstring, in ``dialect`` (``sqlite``, ``postgresql``)."""
    return _sqlite() if dialect == "sqlite" else _postgresql()


# How many of the triggers are there and enabled (compared with TRIGGER_COUNT): one query.
_TABLES = ", ".join(f"'{t}'" for t in (*PARENTS, *CHILDREN))
TRIGGER_CHECK = {
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
    f" AND name LIKE '{PREFIX}%' AND tbl_name IN ({_TABLES})",
    "postgresql": "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '"
    + PREFIX
    + "%' AND tgenabled <> 'D' AND tgrelid IN (SELECT to_regclass(t) FROM unnest(ARRAY["
    + _TABLES
    + "]) AS t)",
}
