"""Saved plans as library calls: ``show`` (a saved plan verified against its store, with why
apply would refuse it) and ``apply`` of a saved plan, in steps the CLI prints between.

A saved plan is read and type-checked (``saved_plans.read_plan``) before any store is opened,
verified against the store's key before anything in it is used, and checked against the store
(``apply.check_fresh``) before the lock is taken, so that every refusal writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..checks.trust_sources import configured_urls
from ..console import printable
from ..core.plan import Plan
from ..core.policy_results import policy_error
from ..errors import LlmformError
from ..secrets.chain import chain_from_env
from ..secrets.crypto import Cipher, configured_cipher
from ..secrets.reads import ResolvedSecrets
from ..state.audit import AuditEvent, check_trail_extendable, detect_run
from ..state.audit_keys import ChainKey, configured_chain_key
from ..targets import OpenMode, shown_url
from .apply import (
    apply_plan,
    check_fresh,
    refusal_ahead,
    require_cipher,
    require_secrets_compared,
    require_trusted,
)
from .apply_run import Applied
from .backend import Backend, Location, Warn, existing_backend
from .saved_plans import plan_mac_key, read_plan


@dataclass(frozen=True)
class SavedApplyRequest:
    path: str
    where: Location
    lock_timeout: float = 30.0
    audit_file: str | None = None
    validate_keys: bool = True
    trust_endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class SavedApply:
    """A saved plan verified against its store. ``let_through``: keys of it not checked when it
    was made (their endpoint was not trusted then) whose endpoint is trusted now."""

    request: SavedApplyRequest
    backend: Backend
    plan: Plan
    cipher: Cipher | None
    chain_key: ChainKey | None
    let_through: int
    warn: Warn

    def check_fresh(self) -> ResolvedSecrets:
        """Before the lock: the plan still fits the store and the secrets (``check_fresh``) and
        a cipher is there if it stores values encrypted; the secrets resolved again."""
        secrets = check_fresh(self.plan, self.backend, chain_from_env())
        require_cipher(self.plan, self.cipher)
        return secrets

    def audit_head(self) -> list[AuditEvent]:
        """The trail's last event (none: empty), for the head line."""
        return self.backend.state.audit_events(last_only=True)

    def carry_out(self, secrets: ResolvedSecrets) -> Applied:
        """Take the lock and apply; the store checks serial and befores again as it writes."""
        with self.backend.locked("apply", self.request.lock_timeout, self.warn) as lock:
            result = apply_plan(
                self.plan,
                self.backend,
                detect_run(self.plan.plan_id, actor=lock.actor),
                secrets=secrets,
                cipher=self.cipher,
                audit_file=self.request.audit_file,
                chain_key=self.chain_key,
            )
        return Applied(self.plan, tuple(result.events))


@contextmanager
def saved_apply(request: SavedApplyRequest, warn: Warn) -> Iterator[SavedApply]:
    """Read the saved plan, open its store (never creating one), verify the plan and run the
    checks that need no secrets; closed after."""
    trusted = configured_urls(request.trust_endpoints, ())
    saved = read_plan(request.path)
    # The audit key first: a bad or unusable one is refused before the store is touched.
    with (
        configured_chain_key(probe=True) as chain_key,
        existing_backend(request.where, OpenMode.EXISTING, warn) as backend,
        configured_cipher() as cipher,
    ):
        if backend is None:
            shown = printable(shown_url(request.where.store))
            raise LlmformError(
                f"no store at {shown}; a saved plan applies to the "
                "store it was made for: pass its URL with --store (or LLMFORM_STORE)"
            )
        key = plan_mac_key(backend.state.fingerprint_key())
        plan = saved.verify(key, backend.display_url)
        require_secrets_compared(plan)  # a --no-secrets plan is for review only
        blocked = policy_error(plan.policies, "nothing was applied")
        if blocked is not None:  # recorded when it was made; refused before the lock
            raise blocked
        check_trail_extendable(backend.state.audit_events(last_only=True), chain_key)
        let_through = 0
        if request.validate_keys:  # keys whose endpoint is not trusted: refused first
            let_through = require_trusted(plan, None, backend, trusted)
        yield SavedApply(request, backend, plan, cipher, chain_key, let_through, warn)


@dataclass(frozen=True)
class ShownPlan:
    plan: Plan
    note: str  # why it is unverified, or why apply will refuse it; "" when neither


def show_saved(path: str, where: Location, warn: Warn) -> ShownPlan:
    """A saved plan for review: verified against its store when there is one (a modified plan
    is refused), with why apply would refuse it; unverified, and said so, when there is none.
    Nothing is written."""
    saved = read_plan(path)
    with existing_backend(where, OpenMode.READ, warn) as backend:
        if backend is None:
            return ShownPlan(
                saved.unverified(),
                f"{path} is not verified: there is no store at {shown_url(where.store)} to "
                "check it against (pass --store); apply verifies it and refuses a modified plan",
            )
        plan = saved.verify(plan_mac_key(backend.state.fingerprint_key()), backend.display_url)
        reason = refusal_ahead(plan, backend)
        return ShownPlan(plan, f"{reason}; apply will refuse this plan" if reason else "")
