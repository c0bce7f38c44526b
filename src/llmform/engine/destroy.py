"""The plan of ``llmform destroy``: delete every managed resource, or those of some workspaces.

It needs no YAML and no secrets: the desired state is empty, so the plan is the store's managed
resources, each to be deleted (unmanaged rows are left alone, as in every plan). Protection
still holds: a protected resource shows as refused and the plan is not applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..core.plan import Plan, build_plan
from ..targets.base import Store
from .backend import Backend
from .plan import ScopeError


def plan_destroy(store: Store | Backend, scope: Sequence[str] = ()) -> Plan:
    """Delete what the store manages in ``scope`` (workspaces; empty: everything, factories
    included; a scoped destroy never deletes factories, which other workspaces may use)."""
    backend = Backend.of(store)
    current = backend.read()
    known = {r.workspace for r in [*current.resources.values(), *current.unmanaged.values()]}
    unknown = sorted(set(scope) - known)
    if unknown:
        names = ", ".join(sorted(w for w in known if w)) or "none"
        raise ScopeError(f"--workspace {', '.join(unknown)}: not in the store (known: {names})")
    plan = build_plan(
        {},
        current.resources,
        store_url=backend.display_url,
        lineage=current.lineage,
        serial=current.serial,
        fingerprints={},
        scope=scope,
        unmanaged=sorted(current.unmanaged),
    )
    # nothing is written that a key could be checked for: every key the plan needs was checked
    return replace(plan, keys_checked=True)
