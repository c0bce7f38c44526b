"""plan: the pipeline from a desired state, secrets and a store to a Plan (the key checks and the
trust of endpoints included).

I/O happens only through what is passed in (a Backend or a Store, a Resolver), so tests hand in
real local servers or in-memory doubles, and the CLI hands in the real ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..checks.results import CheckReport
from ..checks.trust import EndpointTrust, NormalUrl
from ..checks.trust_sources import applied_urls, run_trust
from ..core.plan import Plan, build_plan
from ..core.policy_results import judge_state
from ..core.resources import DesiredResources, policy_of, secret_slots
from ..desired.model import Config, DesiredState, SecretRef
from ..errors import InputError, LlmformError
from ..secrets.base import Resolver, fingerprint
from ..secrets.reads import ResolvedSecrets, reading_rule, resolve_secrets
from ..secrets.reads import SecretsError as SecretsError  # re-exported: prepare raises it
from ..targets.base import ChecksDesired, Store, StoreState
from .adoption import adopt, adoption_notes
from .backend import Backend
from .plan_reads import (
    DigestMemo,
    check_declared,
    compared,
    read_addresses,
    read_endpoints,
    read_for_plan,
    store_workspaces,
)

if TYPE_CHECKING:  # the subjects import the adapters and httpx: only a run that checks keys
    from ..checks.subjects import CheckTarget


class ScopeError(LlmformError):
    pass


# Checks the keys of the given targets (llmform.checks.run.run_checks with the run's options).
KeyChecker = Callable[[Sequence["CheckTarget"]], CheckReport]
# The store's state, as a step of a run reads it (``Store.read``, or a copy of one reading).
StoreReader = Callable[[], StoreState]


@dataclass(frozen=True)
class Prepared:
    """What a plan needs besides the store's contents: resolved secrets and, unless skipped,
    the key checks. Made before the apply lock is taken, so slow checks do not hold it."""

    secrets: ResolvedSecrets
    checks: CheckReport | None  # None: --no-validate-keys or --no-secrets
    secrets_compared: bool = True  # False: --no-secrets, nothing was resolved
    # the store's key the fingerprints were made with (see plan_prepared)
    fingerprint_key: bytes = field(default=b"", repr=False)
    # the desired resources' digests, made by the first plan and reused by apply's under the lock
    digests: DigestMemo = field(default_factory=DigestMemo, repr=False, compare=False)


def _configs_in_scope(state: DesiredState, scope: Sequence[str]) -> list[Config]:
    return [c for c in state.configs.values() if not scope or c.workspace in scope]


def _check_scope(
    state: DesiredState, backend: Backend, current: StoreReader, scope: Sequence[str]
) -> None:
    outside = set(scope) - set(state.workspaces)
    if not outside or not outside - store_workspaces(backend, current, scope):
        return
    known = set(state.workspaces) | {r.workspace for r in current().resources.values()}
    unknown = sorted(set(scope) - {w for w in known if w})
    if unknown:
        raise ScopeError(
            f"--workspace {', '.join(unknown)}: not in the configuration nor in the store "
            f"(known: {', '.join(sorted(w for w in known if w)) or 'none'})"
        )


def prepare(
    state: DesiredState,
    store: Store | Backend,
    resolver: Resolver | None,
    *,
    scope: Sequence[str] = (),
    check: KeyChecker | None = None,
    trusted: Sequence[NormalUrl] = (),
    encrypted: bool = False,
) -> Prepared:
    """Resolve the secrets of the configs in ``scope`` that the plan needs (``secrets.reads``;
    ``encrypted`` as in ``plan_prepared``) and, with ``check``, check the keys of the enabled
    ones against their providers: those whose endpoint is trusted (built in, applied to the
    store, or ``trusted`` by settings); the others are reported, never sent. ``resolver``
    None: no secret access (--no-secrets), so nothing is resolved, no key is checked and the
    plan compares references only."""
    backend = Backend.of(store)
    if isinstance(backend.target, ChecksDesired):  # what this target cannot hold, first
        problems = backend.target.desired_problems(state)
        if problems:
            raise InputError(problems)
    current = functools.cache(backend.read)  # read once, and only if a step below needs it
    _check_scope(state, backend, current, scope)
    if resolver is None:
        return Prepared(ResolvedSecrets({}, {}), None, secrets_compared=False)
    configs = _configs_in_scope(state, scope)
    # a disabled config's stored row, when it has secrets (``reading_rule``), and no other
    disabled = [c.address for c in configs if not c.enabled and secret_slots(c)]
    rule = reading_rule(
        configs, lambda: read_addresses(backend, disabled, current), encrypted=encrypted
    )
    key = backend.state.fingerprint_key()
    secrets = resolve_secrets(configs, resolver, key, rule)
    if check is None:
        return Prepared(secrets, None, fingerprint_key=key)
    from ..checks.subjects import split_by_trust, targets_for  # see TYPE_CHECKING above

    enabled = [c for c in configs if c.enabled]
    targets = targets_for(state, secrets.values, secrets.fingerprints, enabled)
    checkable, refused = split_by_trust(targets, endpoint_trust(backend, trusted, current).allows)
    report = check(checkable)
    if not refused:
        return Prepared(secrets, report, fingerprint_key=key)
    checked = {c.address: c for c in report.configs}
    in_order = [refused.get(t.address) or checked.get(t.address) for t in targets]
    results = tuple(c for c in in_order if c is not None)
    return Prepared(secrets, CheckReport(results, report.requests), fingerprint_key=key)


def endpoint_trust(
    store: Store | Backend, trusted: Sequence[NormalUrl] = (), current: StoreReader | None = None
) -> EndpointTrust:
    """What a run may send keys to: the built-in endpoints, those applied to ``store`` (as it
    is now, before this run changes it: ``current``, or read now; none when a change under
    review could have written it) and ``trusted`` ones from settings."""
    backend = Backend.of(store)
    if not backend.target.applied_by_trusted_runs:
        return run_trust((), trusted)
    return run_trust(applied_urls(read_endpoints(backend, current).resources), trusted)


def new_store_note(backend: Backend) -> str:
    """What a plan says of a backend not there yet: the store, or (for a target that exists
    and keeps no state of its own) its state."""
    if backend.target.exists and not backend.state.exists:
        return (
            f"The state of {backend.display_url} in {backend.state.display_url} does not "
            "exist yet; apply will create it."
        )
    return f"The store {backend.display_url} does not exist yet; apply will create it."


def _fingerprints(prepared: Prepared, backend: Backend) -> Mapping[SecretRef, str]:
    """The fingerprints under the store's key. A store that did not exist when the run was
    prepared may have been created since by a concurrent apply, with a key of its own."""
    key = backend.state.fingerprint_key()
    if not prepared.fingerprint_key or prepared.fingerprint_key == key:
        return prepared.secrets.fingerprints
    return {ref: fingerprint(key, value) for ref, value in prepared.secrets.values.items()}


def plan_prepared(
    state: DesiredState,
    store: Store | Backend,
    prepared: Prepared,
    *,
    scope: Sequence[str] = (),
    encrypted: bool = False,
    overrides: Mapping[str, str] | None = None,
) -> Plan:
    """Read the store and diff: the plan, as data, with the policies' verdicts on ``state``
    (``overrides``: soft policy name -> the reason it is overridden). ``encrypted``: a cipher
    is configured, so the store is to keep secret values sealed (see llmform.secrets.sealing)."""
    backend = Backend.of(store)
    fingerprints = _fingerprints(prepared, backend)
    # the store as far as the plan needs it: with digests, what differs (``plan_reads``)
    everything = DesiredResources(
        state,
        fingerprints,
        encrypted=encrypted,
        scope=set(scope),
        earlier=prepared.digests.configs,
    )
    inputs = read_for_plan(backend, everything, scope, prepared.digests)
    read = inputs.read
    in_force = {r.name: policy_of(r) for r in read.resources.values() if r.kind == "policy"}
    policies, overridden = judge_state(state, scope, overrides, in_force)
    current = adopt(read, inputs.desired)  # what the configuration declares of the adoptable
    check_declared(state, inputs, current.resources, scope)
    plan = build_plan(
        inputs.desired,
        compared(inputs, current.resources),
        known_unchanged=inputs.known_unchanged,
        store_url=backend.display_url,
        lineage=current.lineage,
        serial=current.serial,
        fingerprints={str(ref): fp for ref, fp in fingerprints.items()},
        scope=scope,
        unmanaged=sorted(current.unmanaged),
        warnings=(
            prepared.secrets.notes
            + adoption_notes(read, current, scope)
            + (() if backend.exists else (new_store_note(backend),))
        ),
        secrets_compared=prepared.secrets_compared,
        last_applied=current.last_applied,
    )
    plan = replace(plan, policies=policies, policy_overrides=overridden)
    if prepared.checks is None:
        return plan
    report = prepared.checks
    return replace(plan, keys_checked=True, key_checks=tuple(c.to_dict() for c in report.configs))


def make_plan(
    state: DesiredState,
    store: Store | Backend,
    resolver: Resolver | None,
    *,
    scope: Sequence[str] = (),
    check: KeyChecker | None = None,
    encrypted: bool = False,
    overrides: Mapping[str, str] | None = None,
) -> Plan:
    """``prepare`` then ``plan_prepared``. ``state`` comes from ``load_state``, which callers
    run before opening the store so bad input writes nothing."""
    prepared = prepare(state, store, resolver, scope=scope, check=check, encrypted=encrypted)
    return plan_prepared(
        state, store, prepared, scope=scope, encrypted=encrypted, overrides=overrides
    )
