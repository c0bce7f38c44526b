"""plan and apply: the pipeline from files, secrets and a store to a Plan, and a Plan to a store.

I/O happens only through what is passed in (a Store, a Resolver), so tests hand in real local
servers or in-memory doubles, and the CLI hands in the real ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .audit import AuditEvent, RunInfo, drafts_for
from .errors import LlmformError
from .model import Config, DesiredState, SecretRef
from .plan import Plan, build_plan
from .resources import desired_resources, secret_slots
from .secrets.base import Resolver, fingerprint
from .stores.base import StalePlanError, Store


class SecretsError(LlmformError):
    """Some references could not be resolved; every one is listed, never a value."""


class ScopeError(LlmformError):
    pass


def _configs_in_scope(state: DesiredState, scope: Sequence[str]) -> list[Config]:
    return [c for c in state.configs.values() if not scope or c.workspace in scope]


def resolve_fingerprints(
    configs: Iterable[Config], resolver: Resolver, key: bytes
) -> dict[SecretRef, str]:
    """Fingerprint every secret of ``configs``; all failures are reported together."""
    users: dict[SecretRef, list[str]] = {}
    for config in configs:
        for slot, ref in secret_slots(config).items():
            users.setdefault(ref, []).append(f"{config.address} {slot}")
    resolution = resolver.resolve(users)
    if resolution.problems:
        lines = []
        for problem in resolution.problems:
            where = ", ".join(users.get(problem.ref, []))
            lines.append(f"{problem.ref}: {problem.message} (used by {where})")
        raise SecretsError("cannot resolve secrets:\n  " + "\n  ".join(sorted(lines)))
    return {ref: fingerprint(key, value) for ref, value in resolution.values.items()}


def make_plan(
    state: DesiredState,
    store: Store,
    resolver: Resolver,
    *,
    scope: Sequence[str] = (),
) -> Plan:
    """Resolve secrets, read the store and diff: the plan, as data. ``state`` comes from
    ``load_state``, which callers run before opening the store so bad input writes nothing."""
    current = store.read()
    known = set(state.workspaces) | {r.workspace for r in current.resources.values()}
    unknown = sorted(set(scope) - {w for w in known if w})
    if unknown:
        raise ScopeError(
            f"--workspace {', '.join(unknown)}: not in the configuration nor in the store "
            f"(known: {', '.join(sorted(w for w in known if w)) or 'none'})"
        )
    fingerprints = resolve_fingerprints(
        _configs_in_scope(state, scope), resolver, store.fingerprint_key()
    )
    return build_plan(
        desired_resources(state, fingerprints),
        current.resources,
        store_url=store.display_url,
        lineage=current.lineage,
        serial=current.serial,
        fingerprints={str(ref): fp for ref, fp in fingerprints.items()},
        scope=scope,
        unmanaged=sorted(current.unmanaged),
    )


def check_fresh(plan: Plan, store: Store, resolver: Resolver) -> None:
    """Refuse a saved plan that no longer matches: applied already, store changed, a different
    store, or a secret that changed since."""
    events = store.audit_events()
    if any(e.run_id == plan.plan_id and e.action == "apply-start" for e in events):
        raise StalePlanError(
            f"this plan ({plan.plan_id}) was already applied; run llmform plan again"
        )
    current = store.read()
    if current.lineage != plan.lineage:
        raise StalePlanError(
            f"this plan was made for another store ({plan.store_url}); plan against "
            f"{store.display_url} instead"
        )
    if current.serial != plan.serial:
        raise StalePlanError(
            f"the store changed since the plan was made (serial {plan.serial} -> "
            f"{current.serial}); run llmform plan again"
        )
    refs = {_ref_from_string(text): text for text in plan.fingerprints}
    resolution = resolver.resolve(refs)
    if resolution.problems:
        raise StalePlanError(
            "cannot resolve secrets the plan depends on: "
            + "; ".join(f"{p.ref}: {p.message}" for p in resolution.problems)
        )
    key = store.fingerprint_key()
    changed = sorted(
        text
        for ref, text in refs.items()
        if fingerprint(key, resolution.values[ref]) != plan.fingerprints[text]
    )
    if changed:
        raise StalePlanError(
            f"secret value(s) changed since the plan was made: {', '.join(changed)}; "
            "run llmform plan again"
        )


def _ref_from_string(text: str) -> SecretRef:
    from .secrets.refs import ref_from_string

    return ref_from_string(text)


@dataclass(frozen=True)
class ApplyResult:
    events: list[AuditEvent]
    applied: int


def apply_plan(
    plan: Plan,
    store: Store,
    run: RunInfo,
    *,
    audit_file: str | None = None,
) -> ApplyResult:
    """Apply ``plan`` (the caller holds the store's lock and has checked freshness). All or
    nothing where the store can; audit events in the same transaction."""
    actionable = plan.actionable
    if not actionable:
        return ApplyResult([], 0)
    drafts = drafts_for(actionable, run)
    events = store.apply(actionable, (plan.lineage, plan.serial), drafts)
    if audit_file:
        write_audit_file(audit_file, events)
    return ApplyResult(events, len(actionable))


def write_audit_file(path: str, events: Iterable[AuditEvent]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event.to_json(), sort_keys=True) + "\n")


def audit_json(events: Iterable[AuditEvent]) -> list[Mapping[str, object]]:
    return [e.to_json() for e in events]
