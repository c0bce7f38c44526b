"""The digests the registry keeps per managed resource (schema version 4): read for a plan in
one narrow query per table, written by apply in the same transaction as the change.

A stored digest is the ``resource_digest`` of the resource as read back from its rows right
after they were written (not of what apply meant to write), so it can only say "unchanged"
where the rows read back as the desired resource would. ``registry_triggers`` clears it when
anything else writes those rows, and a plan trusts digests only while every trigger is there
(``triggers_intact``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ...core.diff import Change
from ...core.resources import Resource, resource_digest
from ...errors import StoreError
from ...state.sql.sqlite_state import Cursor
from ..guard import check_befores
from . import registry_sql
from .registry_sql import SealedMismatch, read_resources
from .registry_triggers import TRIGGER_CHECK, TRIGGER_COUNT
from .row_checks import DamagedRow
from .selection import Selection, matching

# Past this many resources, reading every row is cheaper than reading them by key.
BY_KEY_LIMIT = 2000


@dataclass(frozen=True)
class Digests:
    managed: dict[str, str | None]  # address -> digest (None: not known)
    unmanaged: frozenset[str]
    # a key that is not text (SQLite lets a NULL into a primary key): no address to read it by,
    # so the store is read whole, which names the damaged row
    damaged: bool = False


def triggers_intact(cur: Cursor, dialect: str) -> bool:
    """Whether every trigger that clears a digest on a write behind llmform's back is there
    (and, on PostgreSQL, enabled)."""
    cur.execute(TRIGGER_CHECK[dialect])
    row = cur.fetchone()
    return row is not None and row[0] == TRIGGER_COUNT[dialect]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def read_digests(cur: Cursor, scope: Sequence[str] = ()) -> Digests:
    """Every managed factory's and policy's digest, and those of the managed workspaces and
    configs in ``scope`` (empty: all); every unmanaged address. Only keys, flags and digests
    are read: nothing is decoded, no resource built. A row whose key or flag is not what llmform
    writes is left to the full read of that resource (its digest reads as not known)."""
    managed: dict[str, str | None] = {}
    unmanaged: set[str] = set()
    damaged = False

    def put(address: str, is_managed: object, digest: object, *key: object) -> None:
        nonlocal damaged
        damaged = damaged or not all(isinstance(part, str) for part in key)
        if is_managed in (1, True):
            managed[address] = _text(digest)
        else:
            unmanaged.add(address)

    for table, kind in (("factories", "factory"), ("policies", "policy")):
        cur.execute(f"SELECT name, managed, digest FROM {table}")
        for name, is_managed, digest in cur.fetchall():
            put(f"{kind}.{name}", is_managed, digest, name)
    wanted = sorted(set(scope)) or None
    query = "SELECT name, managed, digest FROM workspaces"
    for name, is_managed, digest in matching(cur, query, "name", wanted):
        put(f"workspace.{name}", is_managed, digest, name)
    query = "SELECT workspace, name, managed, digest FROM configs"
    for ws, name, is_managed, digest in matching(cur, query, "workspace", wanted):
        if type(ws) is str and type(name) is str and is_managed == 1 and type(digest) is str:
            managed[f"config.{ws}/{name}"] = digest  # as put would, without a call a row
        else:
            put(f"config.{ws}/{name}", is_managed, digest, ws, name)
    if wanted is not None:  # the unmanaged ones outside the scope too: a plan lists them all
        cur.execute("SELECT name FROM workspaces WHERE managed <> 1 OR name IS NULL")
        for (name,) in cur.fetchall():
            put(f"workspace.{name}", 0, None, name)
        cur.execute(
            "SELECT workspace, name FROM configs"
            " WHERE managed <> 1 OR workspace IS NULL OR name IS NULL"
        )
        for ws, name in cur.fetchall():
            put(f"config.{ws}/{name}", 0, None, ws, name)
    return Digests(managed, frozenset(unmanaged), damaged)


def read_some(
    cur: Cursor, addresses: Collection[str]
) -> tuple[dict[str, Resource], dict[str, Resource]]:
    """``read_resources`` of the resources at ``addresses`` only."""
    wanted = set(addresses)
    if not wanted:
        return {}, {}
    # many: one read of every row is cheaper than reading them by key
    many = len(wanted) > BY_KEY_LIMIT
    managed, unmanaged = read_resources(cur, None if many else Selection.of(wanted))
    return (
        {a: r for a, r in managed.items() if a in wanted},
        {a: r for a, r in unmanaged.items() if a in wanted},
    )


def endpoint_addresses(cur: Cursor) -> set[str]:
    """The managed factories and the managed configs with an ``api_base``: where the endpoints
    applied are."""
    cur.execute("SELECT name FROM factories WHERE managed = 1")
    found = {f"factory.{name}" for (name,) in cur.fetchall()}
    cur.execute("SELECT workspace, name FROM configs WHERE managed = 1 AND api_base IS NOT NULL")
    return found | {f"config.{ws}/{name}" for ws, name in cur.fetchall()}


_KEYS = {
    "factory": ("factories", "name = ?"),
    "workspace": ("workspaces", "name = ?"),
    "policy": ("policies", "name = ?"),
    "config": ("configs", "workspace = ? AND name = ?"),
}


def write_digests(cur: Cursor, addresses: Collection[str]) -> None:
    """Set the digest of each managed resource at ``addresses`` to that of its rows as they
    read back now (last, after every other write of the transaction: the triggers clear it
    on those)."""
    managed, _ = read_some(cur, addresses)
    _store(cur, managed.values())


def digest_everything(cur: Cursor) -> None:
    """On upgrade to schema version 4: every managed resource's digest, from its rows as they
    are. A damaged row leaves every digest unknown: the plan reads the store in full, and
    names the damage, as before."""
    try:
        managed, _ = read_resources(cur)
    except DamagedRow:
        return
    _store(cur, managed.values())


def _store(cur: Cursor, resources: Collection[Resource]) -> None:
    by_table: dict[str, list[tuple[str, ...]]] = {}
    for resource in resources:
        key = resource.name.split("/", 1) if resource.kind == "config" else [resource.name]
        by_table.setdefault(resource.kind, []).append((resource_digest(resource), *key))
    for kind, rows in by_table.items():
        table, where = _KEYS[kind]
        cur.executemany(f"UPDATE {table} SET digest = ? WHERE {where}", rows)


def apply_changes(
    cur: Cursor, changes: Sequence[Change], sealed: Mapping[str, Mapping[str, str]]
) -> None:
    """Inside the apply's transaction, under its lock: refuse unless each change's ``before``
    is what the store holds (reading only the rows about to change, so that a one-config apply
    reads one config), write the changes, then the digests of what they wrote."""
    managed, unmanaged = read_some(cur, {change.address for change in changes})
    check_befores(changes, managed, unmanaged)
    for change in changes:
        try:
            registry_sql.apply_change(cur, change, sealed.get(change.address))
        except SealedMismatch as exc:  # the caller's bug, not the store's state
            raise StoreError(f"apply refused, nothing changed: {exc}") from None
    write_digests(cur, {change.address for change in changes if change.after is not None})
