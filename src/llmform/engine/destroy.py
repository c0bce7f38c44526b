"""``llmform destroy``: delete every managed resource, or those of some workspaces.

It needs no YAML and no secrets: the desired state is empty, so the plan is the store's managed
resources, each to be deleted (unmanaged rows are left alone, as in every plan). Protection
still holds: a protected resource shows as refused and the plan is not applied. As for apply,
``planned_destroy`` plans before the lock, the CLI shows and asks, and
``PlannedDestroy.carry_out`` takes the lock, plans again and applies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

from ..core.plan import Plan, build_plan
from ..state.audit import check_trail_extendable, detect_run
from ..state.audit_keys import ChainKey, configured_chain_key
from ..targets.base import OpenMode, Store
from .apply import apply_plan
from .apply_run import Applied, OnReplanned, approved_under_lock
from .backend import Backend, Location, Warn, existing_backend
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


@dataclass(frozen=True)
class DestroyRequest:
    where: Location
    scope: tuple[str, ...] = ()
    auto_approve: bool = False
    lock_timeout: float = 30.0
    audit_file: str | None = None


@dataclass(frozen=True)
class PlannedDestroy:
    """A destroy planned before the lock: ``shown`` is the plan to show."""

    request: DestroyRequest
    backend: Backend
    chain_key: ChainKey | None
    shown: Plan
    warn: Warn

    def carry_out(self, on_replanned: OnReplanned) -> Applied:
        """Take the lock, plan again, keep to what was approved, apply (``events`` empty:
        another run deleted it meanwhile)."""
        request = self.request
        with self.backend.locked("destroy", request.lock_timeout, self.warn) as lock:
            fresh = plan_destroy(self.backend, request.scope)
            to_destroy = approved_under_lock(
                self.shown,
                fresh,
                request.auto_approve,
                "destroy",
                "nothing was destroyed",
                on_replanned,
            )
            if to_destroy.summary.empty:
                return Applied(to_destroy, ())
            run = detect_run(to_destroy.plan_id, actor=lock.actor)
            result = apply_plan(
                to_destroy,
                self.backend,
                run,
                audit_file=request.audit_file,
                chain_key=self.chain_key,
            )
        return Applied(to_destroy, tuple(result.events))


@contextmanager
def planned_destroy(request: DestroyRequest, warn: Warn) -> Iterator[PlannedDestroy | None]:
    """The audit key, then the store (never created: None when there is none), then the plan;
    closed after."""
    # as apply: an unusable audit key, or none for a keyed trail, refused before anything
    with (
        configured_chain_key(probe=True) as chain_key,
        existing_backend(request.where, OpenMode.EXISTING, warn) as backend,
    ):
        if backend is None:
            yield None
            return
        check_trail_extendable(backend.state.audit_events(last_only=True), chain_key)
        shown = plan_destroy(backend, request.scope)
        yield PlannedDestroy(request, backend, chain_key, shown, warn)
