"""``llmform apply`` of files as a library call, in two halves around the prompt.

``planned_apply`` opens the backend, resolves secrets, checks keys and plans, all before the
lock, so that a refusal or a 'no' writes nothing; the CLI shows the plan and asks. Then
``PlannedApply.carry_out`` takes the lock, plans again, keeps to what was approved
(``approved_under_lock``) and applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from ..checks.trust_sources import configured_urls
from ..core.plan import Plan
from ..core.policy_results import policy_error
from ..core.protect import protection_error
from ..desired.model import DesiredState
from ..desired.validate import loading_state
from ..errors import LlmformError
from ..secrets.chain import chain_from_env
from ..secrets.crypto import Cipher, configured_cipher
from ..state.audit import AuditEvent, check_trail_extendable, detect_run
from ..state.audit_keys import ChainKey, configured_chain_key
from ..targets import OpenMode
from ..targets.base import StalePlanError
from .apply import apply_plan, require_checked, require_trusted
from .backend import Backend, Location, Warn, opened_backend
from .plan import Prepared, plan_prepared, prepare
from .plan_reads import DigestMemo
from .plan_run import CheckerFactory
from .policy_runs import with_outside_policies

# Shows the plan made again under the lock (after the one shown), when --auto-approve carries
# it out instead.
OnReplanned = Callable[[Plan, Plan], None]


def approved_under_lock(
    shown: Plan,
    fresh: Plan,
    auto_approve: bool,
    verb: str,
    consequence: str,
    on_replanned: OnReplanned,
) -> Plan:
    """Under the lock: the plan to carry out. A 'yes' approved the plan shown, so a store that
    changed since it was read is refused; with --auto-approve the fresh plan is carried out,
    shown first (``on_replanned``), and refused if it now meets protected resources. (A row
    edited without moving the serial is caught by the store's own check of each before.)"""
    if (fresh.lineage, fresh.serial) == (shown.lineage, shown.serial):
        return shown
    if not auto_approve:
        raise StalePlanError(
            f"the store changed while {verb} waited for 'yes' (serial {shown.serial} -> "
            f"{fresh.serial}); {consequence}; run llmform {verb} again"
        )
    on_replanned(shown, fresh)
    refused = protection_error(fresh.refusals, consequence)
    if refused is not None:
        raise refused
    blocked = policy_error(fresh.policies, consequence)
    if blocked is not None:
        raise blocked
    return fresh


def require_prompt(auto_approve: bool, can_prompt: bool, hint: str) -> None:
    if not auto_approve and not can_prompt:
        raise LlmformError(f"no terminal to confirm on; pass --auto-approve to {hint}")


@dataclass(frozen=True)
class ApplyRequest:
    paths: tuple[str, ...]  # empty: the current directory
    where: Location
    scope: tuple[str, ...] = ()
    auto_approve: bool = False
    can_prompt: bool = False  # a terminal to ask on
    lock_timeout: float = 30.0
    audit_file: str | None = None
    validate_keys: bool = True
    checker: CheckerFactory = lambda: None
    trust_endpoints: tuple[str, ...] = ()
    # --override-policy NAME --reason TEXT: soft policy name -> the reason
    overrides: Mapping[str, str] = field(default_factory=dict)
    policy_paths: tuple[str, ...] = ()  # --policy: policies from outside the scanned files


@dataclass(frozen=True)
class Applied:
    """What an apply did: ``plan`` carried out, its audit ``events``; none when another run
    made the changes meanwhile (``plan`` is then empty, ``head`` the trail as it is)."""

    plan: Plan
    events: tuple[AuditEvent, ...]
    head: tuple[AuditEvent, ...] = ()


@dataclass(frozen=True)
class PlannedApply:
    """An apply planned and checked, before the lock: ``shown`` is the plan to show."""

    request: ApplyRequest
    state: DesiredState
    backend: Backend
    prepared: Prepared
    cipher: Cipher | None
    chain_key: ChainKey | None
    shown: Plan
    warn: Warn

    def audit_head(self) -> list[AuditEvent]:
        """The trail's last event (none: empty), for the head line."""
        return self.backend.state.audit_events(last_only=True)

    def carry_out(self, on_replanned: OnReplanned) -> Applied:
        """Take the lock, plan again, keep to what was approved, apply."""
        request, encrypted = self.request, self.cipher is not None
        with self.backend.locked("apply", request.lock_timeout, self.warn) as lock:
            fresh = plan_prepared(
                self.state,
                self.backend,
                self.prepared,
                scope=request.scope,
                encrypted=encrypted,
                overrides=request.overrides,
            )
            to_apply = approved_under_lock(
                self.shown,
                fresh,
                request.auto_approve,
                "apply",
                "nothing was applied",
                on_replanned,
            )
            if request.validate_keys:
                require_checked(to_apply)
            if to_apply.summary.empty:
                return Applied(to_apply, (), tuple(self.audit_head()))
            result = apply_plan(
                to_apply,
                self.backend,
                detect_run(to_apply.plan_id, actor=lock.actor),
                secrets=self.prepared.secrets,
                cipher=self.cipher,
                audit_file=request.audit_file,
                chain_key=self.chain_key,
            )
        return Applied(to_apply, tuple(result.events))


@contextmanager
def planned_apply(request: ApplyRequest, warn: Warn) -> Iterator[PlannedApply]:
    """Load the files, then (the audit key, the backend and the cipher open) resolve secrets,
    check keys and plan; every refusal so far writes nothing. Closed after."""
    paths = request.paths or (".",)
    # The files first: a path that does not exist (a saved plan's artifact that was not
    # downloaded) is named as such, not reported as a missing terminal.
    loaded = loading_state(paths)
    made = DigestMemo()  # the config digests the plans make, for the next run
    try:
        state = with_outside_policies(loaded.state, request.policy_paths, warn)
        with _planned_apply(request, state, paths, warn, made) as planned:
            yield planned
    finally:
        loaded.remember(made.configs)


@contextmanager
def _planned_apply(
    request: ApplyRequest, state: DesiredState, paths: Sequence[str], warn: Warn, made: DigestMemo
) -> Iterator[PlannedApply]:
    require_prompt(
        request.auto_approve,
        request.can_prompt,
        "apply without a prompt, or apply a saved plan (llmform plan -o FILE, then llmform "
        "apply FILE)",
    )
    resolver = chain_from_env()
    trusted = configured_urls(request.trust_endpoints, paths)
    check = request.checker()
    mode = OpenMode.APPLY  # a store that does not exist yet is created by the apply
    # The audit key first: a bad or unusable one is refused before the store is touched.
    with (
        configured_chain_key(probe=True) as chain_key,
        opened_backend(request.where, mode, warn) as backend,
        configured_cipher() as cipher,
    ):
        # Before anything else: a keyed trail is extended only with a key (the store's apply
        # enforces it again); refused here, the store is not even locked.
        check_trail_extendable(backend.state.audit_events(last_only=True), chain_key)
        # Secrets and key checks before the lock: slow checks must not hold up other applies.
        encrypted = cipher is not None
        prepared = prepare(
            state,
            backend,
            resolver,
            scope=request.scope,
            check=check,
            trusted=trusted,
            encrypted=encrypted,
        )
        prepared = replace(prepared, digests=made)
        # Planned before the lock, so that a refusal or a 'no' writes nothing at all, not even
        # the lock row; under the lock it is planned again.
        shown = plan_prepared(
            state,
            backend,
            prepared,
            scope=request.scope,
            encrypted=encrypted,
            overrides=request.overrides,
        )
        if request.validate_keys:  # keys whose endpoint is not trusted: refused first
            require_trusted(None, prepared, backend, trusted)
        yield PlannedApply(request, state, backend, prepared, cipher, chain_key, shown, warn)
