"""apply: a Plan to a store, and the checks before it: a saved plan still fits the store and its
secrets, every key was checked and its endpoint trusted, values to be sealed have a cipher; then
the changes and their audit events in one step, and the audit trail's copy.

I/O happens only through what is passed in (a Backend or a Store, a Resolver, a Cipher), so
tests hand in real local servers or in-memory doubles, and the CLI hands in the real ones.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..checks.results import failure_summary
from ..checks.trust import EndpointTrust, NormalUrl
from ..checks.trust_sources import HOW_TO_TRUST
from ..console import printable
from ..core.plan import KeyCheckRow, Plan, key_check_rows
from ..core.policy_results import policy_error
from ..core.protect import protection_error
from ..errors import LlmformError
from ..files import append_lines
from ..secrets.base import Resolver, fingerprint
from ..secrets.crypto import Cipher, CipherError
from ..secrets.reads import ResolvedSecrets
from ..secrets.reads import SecretsError as SecretsError  # re-exported: prepare raises it
from ..secrets.refs import ref_from_string
from ..secrets.sealing import seal_changes
from ..state.audit import AuditEvent, RunInfo, drafts_for
from ..state.audit_keys import ChainKey, configured_chain_key
from ..state.audit_trail import head_line
from ..targets.base import (
    StalePlanError,
    SteppedTarget,
    Store,
    StoreState,
    TakesSecretValues,
)
from ..targets.guard import before_problems, check_befores
from .adoption import adopt_planned
from .backend import Backend
from .plan import Prepared, endpoint_trust
from .plan_check import revalidate


class UnreadSecretsError(LlmformError):
    """A plan made without reading secrets (--no-secrets) is to be applied."""


def require_secrets_compared(plan: Plan) -> None:
    """A plan made without secret access (--no-secrets) is for review only, never applied."""
    if not plan.secrets_compared:
        raise UnreadSecretsError(
            "this plan was made with --no-secrets: secret values were not read nor compared "
            "and keys were not checked, so it cannot be applied; run llmform plan (or apply) "
            "where the secrets can be read"
        )


def stale_reason(plan: Plan, store: Store | Backend, current: StoreState) -> str | None:
    """Why a saved plan no longer fits ``store`` (whose state now is ``current``): applied
    already, made for another store, or the store changed since. None: it still fits."""
    backend = Backend.of(store)
    events = backend.state.audit_events(run_id=plan.plan_id)  # its own events, not the trail
    if any(e.action == "apply-start" for e in events):
        return f"this plan ({plan.plan_id}) was already applied"
    if current.lineage != plan.lineage:
        return (
            f"this plan was made for another store ({printable(plan.store_url)}), not "
            f"{backend.display_url}"
        )
    if current.serial != plan.serial:
        return (
            f"the store changed since the plan was made (serial {plan.serial} -> {current.serial})"
        )
    return None


def refusal_ahead(plan: Plan, store: Store | Backend) -> str | None:
    """Why apply would refuse a saved plan against ``store`` as it is now, as far as the store
    tells (stale, or a resource not what the plan expects); for ``show``. None: it would not."""
    backend = Backend.of(store)
    current = adopt_planned(backend.read(), plan)
    reason = stale_reason(plan, backend, current)
    if reason is not None:
        return reason
    problems = before_problems(plan.actionable, current.resources, current.unmanaged)
    if problems:
        return f"the store does not hold what the plan expects ({'; '.join(problems)})"
    return None


def check_fresh(plan: Plan, store: Store | Backend, resolver: Resolver) -> ResolvedSecrets:
    """Refuse a saved plan (already authenticated, ``saved_plans``) that no longer matches or
    that llmform's checks reject: applied already, store changed, a different store, a
    resource that is not what the plan expects or is not llmform's, a secret that changed
    since, or changes the configuration checks refuse (``plan_check``). Returns the secrets,
    resolved again. Reads only: run it before taking the lock, so a refusal writes nothing;
    the store checks serial and befores again inside its apply transaction."""
    backend = Backend.of(store)
    current = adopt_planned(backend.read(), plan)
    reason = stale_reason(plan, backend, current)
    if reason is not None:
        raise StalePlanError(f"{reason}; run llmform plan again")
    check_befores(plan.actionable, current.resources, current.unmanaged)
    refs = {ref_from_string(text): text for text in plan.fingerprints}
    resolution = resolver.resolve(refs)
    if resolution.problems:
        raise StalePlanError(
            "cannot resolve secrets the plan depends on: "
            + "; ".join(printable(f"{p.ref}: {p.message}") for p in resolution.problems)
        )
    key = backend.state.fingerprint_key()
    values = dict(resolution.values)
    fingerprints = {ref: fingerprint(key, value) for ref, value in values.items()}
    changed = sorted(
        text for ref, text in refs.items() if fingerprints[ref] != plan.fingerprints[text]
    )
    if changed:
        raise StalePlanError(
            f"secret value(s) changed since the plan was made: {', '.join(changed)}; "
            "run llmform plan again"
        )
    if isinstance(backend.target, SteppedTarget):
        # an external system's own objects (MLflow's hand-made endpoints) are no llmform
        # configuration to check; the guard above keeps every change off them. Those offered
        # for adoption are, as the plan's context: one it found unchanged is not in its changes
        # (a hand-made workspace declared as it is), yet a config it writes may name it
        offered = {
            a: o.resource for a, o in current.adoptable.items() if a not in current.resources
        }
        current = replace(current, unmanaged=offered)
    revalidate(plan, current)
    return ResolvedSecrets(values, fingerprints)


class KeyCheckError(LlmformError):
    pass


def key_check_error(plan: Plan, consequence: str) -> KeyCheckError | None:
    """The error for a plan whose keys failed their check (None when all passed): how many,
    ``consequence`` (what was not done), and what to do about each kind of failure. The keys
    are not listed again: the plan printed before it lists each one."""
    failed = plan.failed_keys
    if not failed:
        return None
    return KeyCheckError(*failure_summary(failed, plan.key_checks, consequence))


def require_checked(plan: Plan) -> None:
    """Apply's guard (unless --no-validate-keys): the plan's keys were checked, all passed."""
    if not plan.keys_checked:
        raise KeyCheckError(
            "this plan was made with --no-validate-keys, so its keys were never checked; "
            "plan again without it, or apply with --no-validate-keys"
        )
    error = key_check_error(plan, "nothing was applied")
    if error is not None:
        raise error


class UntrustedEndpointError(KeyCheckError):
    pass


def untrusted_error(
    rows: Sequence[KeyCheckRow], trust: EndpointTrust | None = None
) -> UntrustedEndpointError | None:
    """Apply's guard against keys left unchecked for want of trust (None when there are
    none): each endpoint, its keys and the ways to trust it. With ``trust``, an endpoint it
    now allows is let through (a saved plan whose endpoint was trusted since)."""
    pending: dict[str, list[str]] = {}
    for row in rows:
        if row.untrusted and (trust is None or not trust.allows(row.detail)):
            pending.setdefault(printable(row.detail), []).append(f"{row.address} {row.slot}")
    if not pending:
        return None
    count = sum(len(keys) for keys in pending.values())
    return UntrustedEndpointError(
        f"{count} key(s) were not checked because their endpoint is not yet trusted, so "
        "nothing was applied:",
        *(f"  {url}: {', '.join(keys)}" for url, keys in pending.items()),
        f"{HOW_TO_TRUST}; then plan or apply again",
    )


def require_trusted(
    saved: Plan | None,
    prepared: Prepared | None,
    store: Store | Backend,
    trusted: Sequence[NormalUrl],
) -> int:
    """Apply's guard (unless --no-validate-keys), before the lock: refuse keys left unchecked
    for want of trust. A saved plan's are let through when their endpoint is trusted now (by a
    setting given to this apply, or applied since); returns how many were."""
    if saved is None:
        checks = prepared.checks if prepared is not None else None
        rows = [] if checks is None else key_check_rows([c.to_dict() for c in checks.configs])
        error = untrusted_error(rows)
    else:
        error = untrusted_error(saved.untrusted_keys, endpoint_trust(store, trusted))
    if error is not None:
        raise error
    return len(saved.untrusted_keys) if saved is not None else 0


@dataclass(frozen=True)
class ApplyResult:
    events: list[AuditEvent]
    applied: int


def require_cipher(plan: Plan, cipher: Cipher | None) -> None:
    """A plan made with a cipher (it stores values encrypted) needs one to be applied."""
    if cipher is None and any(
        c.after is not None and c.after.attrs.get("encrypted") for c in plan.actionable
    ):
        raise CipherError(
            "this plan stores secret values encrypted, but neither LLMFORM_ENCRYPTION_KEY "
            "nor LLMFORM_TRANSIT_KEY is set; set the one the plan was made with"
        )


def sealed_values(
    plan: Plan, secrets: ResolvedSecrets, cipher: Cipher | None
) -> dict[str, dict[str, str]] | None:
    """The sealed values the store keeps for ``plan``'s encrypted configs (None: it keeps
    references only)."""
    require_cipher(plan, cipher)
    if cipher is None:
        return None
    return seal_changes(plan.actionable, secrets.values, cipher)


def apply_plan(
    plan: Plan,
    store: Store | Backend,
    run: RunInfo,
    *,
    secrets: ResolvedSecrets | None = None,
    cipher: Cipher | None = None,
    audit_file: str | None = None,
    chain_key: ChainKey | None = None,
) -> ApplyResult:
    """Apply ``plan`` (the caller holds the store's lock and has checked freshness). All or
    nothing where the store can; audit events in the same transaction. ``secrets`` are the
    resolved values, needed to seal them with ``cipher`` and by a target that holds the keys
    itself (``TakesSecretValues``). The audit events are sealed with
    ``chain_key``, by default the one LLMFORM_AUDIT_KEY / LLMFORM_AUDIT_TRANSIT_KEY configure
    (so that no way of applying writes unkeyed events into a keyed trail)."""
    require_secrets_compared(plan)
    refused = protection_error(plan.refusals, "nothing was applied")
    if refused is not None:  # the CLI refuses before the lock; this guards every other caller
        raise refused
    blocked = policy_error(plan.policies, "nothing was applied")
    if blocked is not None:  # as for protection: every caller, a saved plan's included
        raise blocked
    actionable = plan.actionable
    if not actionable:
        return ApplyResult([], 0)
    backend = Backend.of(store)
    sealed = sealed_values(plan, secrets or ResolvedSecrets({}, {}), cipher)
    if secrets is not None and isinstance(backend.target, TakesSecretValues):
        backend.target.use_secrets(secrets.values)  # a gateway that holds the keys itself
    drafts = drafts_for(actionable, run, plan.policy_overrides)
    expected = (plan.lineage, plan.serial)
    if chain_key is not None:
        events = backend.apply(actionable, expected, drafts, sealed, chain_key=chain_key)
    else:
        with configured_chain_key() as from_env:
            events = backend.apply(actionable, expected, drafts, sealed, chain_key=from_env)
    if audit_file:
        try:
            write_audit_file(audit_file, events)
        except OSError as exc:
            raise AuditCopyError(
                audit_file, exc, plan.serial + 1, events, backend.display_url
            ) from None
    return ApplyResult(events, len(actionable))


class AuditCopyError(LlmformError):
    """The apply committed, but its audit copy could not be written: the events are safe in
    the store, and the message says how to write the copy from there."""

    def __init__(
        self, path: str, exc: OSError, serial: int, events: Sequence[AuditEvent], url: str
    ) -> None:
        pattern = '"run_id": ' + json.dumps(events[0].run_id)
        super().__init__(
            f"the apply committed (serial {serial}), but its audit events could not be written "
            f"to {path}: {exc.strerror or exc}. Nothing is lost: the events are in the store; "
            f"write the copy from there with: llmform audit --json --store {shlex.quote(url)}"
            f" | grep {shlex.quote(pattern)} >> {shlex.quote(path)}",
            head_line(events[-1]),
        )


def write_audit_file(path: str, events: Iterable[AuditEvent]) -> None:
    """Append the events as JSON Lines; the file is created owner-only, never through a link."""
    append_lines(path, (json.dumps(e.to_json(), sort_keys=True) + "\n" for e in events))


def audit_json(events: Iterable[AuditEvent]) -> list[Mapping[str, object]]:
    return [e.to_json() for e in events]
