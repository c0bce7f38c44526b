"""``llmform plan`` as a library call: files, secrets, key checks and a backend to a Plan, with
the key of its MAC when it is to be saved. The CLI renders the plan and saves it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..checks.trust_sources import configured_urls
from ..core.drift import drift_of, self_stated_note
from ..core.plan import Plan
from ..desired.model import DesiredState
from ..desired.validate import loading_state
from ..secrets.chain import chain_from_env
from ..secrets.crypto import configured_cipher
from ..targets import OpenMode
from .backend import Backend, Location, Warn, opened_backend
from .plan import KeyChecker, ScopeError, new_store_note, plan_prepared, prepare
from .plan_reads import DigestMemo
from .policy_runs import with_outside_policies
from .saved_plans import plan_mac_key

# Makes the key checker of a run (None: --no-validate-keys); called once the files are loaded,
# so that a bad setting of the checks is reported after bad files, as before.
CheckerFactory = Callable[[], KeyChecker | None]


@dataclass(frozen=True)
class PlanRequest:
    paths: tuple[str, ...]  # empty: the current directory
    where: Location
    scope: tuple[str, ...] = ()
    saving: bool = False  # plan -o: also the key of the saved plan's MAC
    no_secrets: bool = False
    checker: CheckerFactory = lambda: None
    trust_endpoints: tuple[str, ...] = ()
    # --override-policy NAME --reason TEXT: soft policy name -> the reason
    overrides: Mapping[str, str] = field(default_factory=dict)
    policy_paths: tuple[str, ...] = ()  # --policy: policies from outside the scanned files


@dataclass(frozen=True)
class PlannedRun:
    plan: Plan
    mac_key: bytes | None  # None: not saving, or the store does not exist yet


def run_plan(request: PlanRequest, warn: Warn) -> PlannedRun:
    """Load and check the files, read the backend (read-only), resolve secrets, check keys,
    diff. Nothing is written (but llmform's own cache: ``desired.built_cache``)."""
    paths = request.paths or (".",)
    loaded = loading_state(paths)
    made = DigestMemo()  # the config digests the plan makes, for the next run
    try:
        return _run_plan(
            request, with_outside_policies(loaded.state, request.policy_paths, warn), warn, made
        )
    finally:
        loaded.remember(made.configs)


def _run_plan(
    request: PlanRequest, state: DesiredState, warn: Warn, made: DigestMemo
) -> PlannedRun:
    paths = request.paths or (".",)
    if request.no_secrets:
        plan, mac_key = plan_without_secrets(
            state, request.where, request.scope, warn, request.saving, request.overrides
        )
        return PlannedRun(plan, mac_key)
    trusted = configured_urls(request.trust_endpoints, paths)
    check = request.checker()
    with (
        opened_backend(request.where, OpenMode.PLAN, warn) as backend,
        configured_cipher() as cipher,
    ):
        encrypted = cipher is not None  # a plan only says so; apply seals
        prepared = prepare(
            state,
            backend,
            chain_from_env(),
            scope=request.scope,
            check=check,
            trusted=trusted,
            encrypted=encrypted,
        )
        plan = plan_prepared(
            state,
            backend,
            replace(prepared, digests=made),
            scope=request.scope,
            encrypted=encrypted,
            overrides=request.overrides,
        )
        return PlannedRun(plan, saved_plan_key(backend) if request.saving else None)


def plan_without_secrets(
    state: DesiredState,
    where: Location,
    scope: Sequence[str],
    warn: Warn,
    saving: bool = False,
    overrides: Mapping[str, str] | None = None,
) -> tuple[Plan, bytes | None]:
    """--no-secrets: no resolver and no cipher are made, so nothing logs in to Vault or reads
    a secret; whether values are to be sealed is taken from the variables' presence alone.
    With ``saving``, also returns the key of the saved plan's MAC (``saved_plan_key``)."""
    encrypted = any(
        os.environ.get(name, "").strip()
        for name in ("LLMFORM_ENCRYPTION_KEY", "LLMFORM_TRANSIT_KEY")
    )
    with opened_backend(where, OpenMode.PLAN, warn) as backend:
        prepared = prepare(state, backend, None, scope=scope)
        plan = plan_prepared(
            state, backend, prepared, scope=scope, encrypted=encrypted, overrides=overrides
        )
        return plan, saved_plan_key(backend) if saving else None


def saved_plan_key(backend: Backend) -> bytes | None:
    """The key of a saved plan's MAC, which only the state holds; None for a store that does
    not exist yet (its key is made when apply creates it)."""
    return plan_mac_key(backend.state.fingerprint_key()) if backend.exists else None


def run_refresh_only(where: Location, scope: Sequence[str], warn: Warn) -> Plan:
    """plan --refresh-only: what changed in the target outside llmform since it last applied
    (``core.drift``), and no change proposed. It reads no configuration and no secret (no
    Vault login, no key check): drift is the target against llmform's state, and a key's
    drift shows through the target's mask. Nothing is written. A target that keeps its own
    state (the registry) has no drift: the plan says so."""
    with opened_backend(where, OpenMode.PLAN, warn) as backend:
        return refresh_only_plan(backend, scope)


def refresh_only_plan(backend: Backend, scope: Sequence[str] = ()) -> Plan:
    """The refresh-only plan of ``backend`` (read once) in ``scope``: its drift, and the
    unmanaged objects of the workspaces in scope."""
    current = backend.read()
    recorded = current.last_applied
    found = [*current.resources.values(), *current.unmanaged.values(), *(recorded or {}).values()]
    known = {r.workspace for r in found if r.workspace}
    unknown = sorted(set(scope) - known)
    if unknown:
        raise ScopeError(
            f"--workspace {', '.join(unknown)}: not in the target nor in llmform's state "
            f"(known: {', '.join(sorted(known)) or 'none'})"
        )
    if recorded is None:
        notes: tuple[str, ...] = (self_stated_note(backend.display_url),)
    else:
        notes = () if backend.exists else (new_store_note(backend),)
    unmanaged = (a for a, r in current.unmanaged.items() if not scope or r.workspace in scope)
    return Plan(
        changes=(),
        store_url=backend.display_url,
        lineage=current.lineage,
        serial=current.serial,
        scope=tuple(sorted(scope)),
        unmanaged=tuple(sorted(unmanaged)),
        warnings=notes,
        keys_checked=True,  # nothing is proposed that a key could be checked for
        drift=() if recorded is None else drift_of(recorded, current.resources, scope),
        refresh_only=True,
    )
