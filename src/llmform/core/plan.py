"""The Plan: what apply will do, as data. Built purely; saved as JSON (``plan_to_json``, read
back by ``plan_from_json``; ``engine/saved_plans.py`` authenticates the file).

A saved plan holds no secret value: secrets appear only as references and keyed fingerprints.
It records what it was computed against (store lineage and serial, each reference's
fingerprint) so that apply can refuse it when stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import LlmformError
from ..version import __version__
from .diff import CREATE, DELETE, NOOP, REPLACE, UPDATE, Change, FieldChange, Scope, diff
from .drift import drift_of
from .plan_shapes import (
    ACTIONS,
    KEY_CHECK,
    KINDS,
    NOT_COMPARED,
    PLAN_ID,
    TIMESTAMP,
    address_problem,
    fingerprint_map,
    resource_attrs,
)
from .policy_results import (
    OVERRIDES,
    RESULTS,
    PolicyOverride,
    PolicyResult,
    override_to_json,
    result_to_json,
)
from .protect import Refusal, refusals
from .resources import Resource, resource_digest
from .typed_json import (
    Fields,
    ShapeError,
    boolean,
    count,
    list_of,
    map_of,
    nonempty_text,
    object_with,
    one_of,
    optional,
    text,
)
from .unchanged import UNCHANGED, Unchanged, unchanged_of
from .unresolved import carry_over

# The saved plan's format (engine/saved_plans.py); another format is refused with a message
# saying so.
PLAN_FORMAT = "llmform-plan/3"

# A key not checked because its endpoint is not trusted
# (llmform.checks.providers.Outcome.UNTRUSTED): its detail is the endpoint. It fails no plan,
# and blocks apply until the endpoint is trusted.
UNTRUSTED = "untrusted_endpoint"
NOT_TRUSTED_TEXT = "not checked: endpoint not yet trusted"
# What to tell a user whose endpoint is not trusted yet (llmform.checks.trust_sources reads these).
HOW_TO_TRUST = (
    "Once an endpoint is reviewed, trust it with --trust-endpoint URL, or add it to "
    "LLMFORM_TRUSTED_ENDPOINTS (URLs separated by commas or spaces) or to the file "
    "LLMFORM_TRUSTED_ENDPOINTS_FILE names (one URL per line, outside the planned files)"
)


class PlanFileError(LlmformError):
    """A saved plan that cannot be used: unreadable, damaged, of another format, modified."""


@dataclass(frozen=True)
class Summary:
    add: int
    change: int
    destroy: int

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.destroy)


@dataclass(frozen=True)
class KeyCheckRow:
    """One key's verdict as the plan records it (never the key: its slot in the config)."""

    address: str
    slot: str  # api_key, backup_keys[0], ...
    outcome: str  # llmform.checks.providers.Outcome's value
    detail: str
    passed: bool
    cached: bool = False  # answered from the key-check cache, not by the provider now

    @property
    def untrusted(self) -> bool:
        return self.outcome == UNTRUSTED

    @property
    def outcome_text(self) -> str:
        words = NOT_TRUSTED_TEXT if self.untrusted else self.outcome.replace("_", " ")
        if self.cached:
            words += " (cached)"
        return f"{words} ({self.detail})" if self.detail else words


def key_check_rows(checks: Sequence[Mapping[str, Any]]) -> list[KeyCheckRow]:
    """The per-key rows of ``CheckReport.to_dict()["configs"]``. A plan file is data from
    disk: entries of another shape are skipped, and a key not marked passed counts as failed."""
    rows: list[KeyCheckRow] = []
    for check in checks:
        address, keys = check.get("address"), check.get("keys")
        if not isinstance(address, str) or not isinstance(keys, list):
            continue
        for entry in keys:
            if not isinstance(entry, Mapping):
                continue
            slot, outcome, detail = entry.get("slot"), entry.get("outcome"), entry.get("detail")
            if isinstance(slot, str) and isinstance(outcome, str):
                text = detail if isinstance(detail, str) else ""
                passed, cached = entry.get("passed") is True, entry.get("cached") is True
                rows.append(KeyCheckRow(address, slot, outcome, text, passed, cached))
    return rows


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]  # the actionable ones only: no NOOP (see ``unchanged``)
    store_url: str  # as displayed: no credentials
    lineage: str
    serial: int
    # "vault:secret/x#k" -> fingerprint, for every reference the plan resolved
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    scope: tuple[str, ...] = ()
    unmanaged: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    key_checks: tuple[Mapping[str, Any], ...] = ()
    keys_checked: bool = False
    # False: made with --no-secrets (no value read, so none compared); never applied
    secrets_compared: bool = True
    # config address -> slots whose value the plan did not read, so did not compare; the store
    # keeps the fingerprint it has for the same reference (``unresolved.py``)
    not_compared: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # what changed in the target outside llmform since it last applied (``drift.py``), by
    # address; None: the target keeps llmform's state itself (the registry), so has none
    drift: tuple[Change, ...] | None = None
    # plan --refresh-only: drift only, no change proposed (never saved nor applied)
    refresh_only: bool = False
    # the policies' verdicts on the desired state, and the soft failures overridden
    policies: tuple[PolicyResult, ...] = ()
    policy_overrides: tuple[PolicyOverride, ...] = ()
    # the resources compared and found unchanged: a count and a digest, never copies
    unchanged: Unchanged = field(default_factory=Unchanged)
    plan_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    llmform_version: str = __version__

    @property
    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action != NOOP)

    @property
    def refusals(self) -> tuple[Refusal, ...]:
        """The deletions and replacements the store's protection forbids (see protect.py):
        derived from each change's ``before``, what the store holds, so a plan that lists any
        is never applied, and a loaded plan cannot lose them."""
        return refusals(self.changes)

    @property
    def key_rows(self) -> list[KeyCheckRow]:
        return key_check_rows(self.key_checks)

    @property
    def failed_keys(self) -> list[KeyCheckRow]:
        return [row for row in self.key_rows if not row.passed and not row.untrusted]

    @property
    def untrusted_keys(self) -> list[KeyCheckRow]:
        """Keys not checked because their endpoint (``detail``) was not trusted."""
        return [row for row in self.key_rows if row.untrusted]

    @property
    def summary(self) -> Summary:
        counts = {CREATE: 0, UPDATE: 0, DELETE: 0, REPLACE: 0}
        for change in self.actionable:
            counts[change.action] += 1
        return Summary(
            add=counts[CREATE] + counts[REPLACE],
            change=counts[UPDATE],
            destroy=counts[DELETE] + counts[REPLACE],
        )


def build_plan(
    desired: Mapping[str, Resource],
    current: Mapping[str, Resource],
    *,
    store_url: str,
    lineage: str,
    serial: int,
    fingerprints: Mapping[str, str],
    scope: Sequence[str] = (),
    unmanaged: Sequence[str] = (),
    warnings: Sequence[str] = (),
    secrets_compared: bool = True,
    last_applied: Mapping[str, Resource] | None = None,
    known_unchanged: Mapping[str, str] = {},
) -> Plan:
    """Diff ``desired`` against ``current``; with ``last_applied`` (the state's record of a
    target that keeps none, ``targets.base.SteppedTarget``), also say what changed in
    ``current`` outside llmform (``drift.drift_of``). A desired config slot without a
    fingerprint is a value the run did not read: the store's fingerprint for the same
    reference is carried over and the slot listed as not compared (``unresolved.py``).
    ``secrets_compared`` False: no value was read at all (--no-secrets), so neither is whether
    values are sealed; a stored ``encrypted`` is kept. ``known_unchanged``: address -> digest
    of the resources the caller already knows to be unchanged and left out of ``desired`` and
    ``current``; with those diff finds unchanged, they are the plan's ``unchanged`` (a count and
    a digest), and ``changes`` holds only what apply acts on."""
    carried = carry_over(desired, current, keep_encryption=not secrets_compared)
    changes = diff(
        carried.resources,
        current,
        scope=Scope(frozenset(scope)),
        unmanaged=frozenset(unmanaged),
    )
    written = {c.address for c in changes if c.after is not None}
    not_compared = {a: s for a, s in sorted(carried.not_compared.items()) if a in written}
    # an unchanged resource's digest is of what the store holds (``before``), as a store that
    # keeps digests recognises it
    same = {c.address: resource_digest(c.before) for c in changes if c.before and c.action == NOOP}
    changes = [c for c in changes if c.action != NOOP]
    touched_unmanaged = sorted(a for a in unmanaged if a in desired)
    notes = list(warnings) + [
        f"{address} exists in the store but was not created by llmform; it is left alone "
        "(delete it in the store, or remove it from the configuration)"
        for address in touched_unmanaged
    ]
    return Plan(
        changes=tuple(changes),
        store_url=store_url,
        lineage=lineage,
        serial=serial,
        fingerprints=dict(sorted(fingerprints.items())),
        scope=tuple(sorted(scope)),
        unmanaged=tuple(sorted(unmanaged)),
        warnings=tuple(notes),
        secrets_compared=secrets_compared,
        not_compared=not_compared,
        unchanged=unchanged_of({**known_unchanged, **same}),
        drift=None if last_applied is None else drift_of(last_applied, current, scope),
    )


# -- the saved form ---------------------------------------------------------------------------
# engine/saved_plans.py writes plan_to_json's object with a MAC over all of it and reads it back
# through plan_from_json. A field added to Plan is one line in each (with its type check); the
# MAC covers it without anyone touching saved_plans.py, and a field written but not read is
# refused.


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "format": PLAN_FORMAT,
        "plan_id": plan.plan_id,
        "created_at": plan.created_at,
        "llmform_version": plan.llmform_version,
        "store": {"url": plan.store_url, "lineage": plan.lineage, "serial": plan.serial},
        "scope": list(plan.scope),
        "fingerprints": dict(plan.fingerprints),
        "unmanaged": list(plan.unmanaged),
        "warnings": list(plan.warnings),
        "keys_checked": plan.keys_checked,
        "key_checks": list(plan.key_checks),
        "secrets_compared": plan.secrets_compared,
        "not_compared": {address: list(slots) for address, slots in plan.not_compared.items()},
        "policies": [result_to_json(result) for result in plan.policies],
        "policy_overrides": [override_to_json(override) for override in plan.policy_overrides],
        "changes": [change_to_json(c) for c in plan.changes],
        "unchanged": plan.unchanged.to_json(),
        # only where a target can drift, so that the registry's plans are as they were
        **({} if plan.drift is None else {"drift": [change_to_json(c) for c in plan.drift]}),
    }


def plan_from_json(data: Fields) -> Plan:
    data.get("format", one_of(PLAN_FORMAT))
    url, lineage, serial = data.get("store", object_with(_store))
    return Plan(
        plan_id=data.get("plan_id", PLAN_ID),
        created_at=data.get("created_at", TIMESTAMP),
        llmform_version=data.get("llmform_version", text),
        store_url=url,
        lineage=lineage,
        serial=serial,
        scope=tuple(data.get("scope", list_of(text))),
        fingerprints=data.get("fingerprints", fingerprint_map),
        unmanaged=tuple(data.get("unmanaged", list_of(text))),
        warnings=tuple(data.get("warnings", list_of(text))),
        keys_checked=data.get("keys_checked", boolean),
        key_checks=tuple(data.get("key_checks", list_of(KEY_CHECK))),
        secrets_compared=data.get("secrets_compared", boolean),
        not_compared=data.get("not_compared", map_of(NOT_COMPARED)),
        # absent from a plan saved before policies: it had none
        policies=tuple(data.get_or("policies", RESULTS, [])),
        policy_overrides=tuple(data.get_or("policy_overrides", OVERRIDES, [])),
        changes=tuple(data.get("changes", list_of(object_with(change_from_json)))),
        unchanged=data.get("unchanged", UNCHANGED),
        drift=_drift(data.get_or("drift", optional(list_of(object_with(change_from_json))), None)),
    )


def _drift(changes: list[Change] | None) -> tuple[Change, ...] | None:
    return None if changes is None else tuple(changes)


def _store(data: Fields) -> tuple[str, str, int]:
    return data.get("url", text), data.get("lineage", nonempty_text), data.get("serial", count)


def change_to_json(change: Change) -> dict[str, Any]:
    return {
        "address": change.address,
        "kind": change.kind,
        "workspace": change.workspace,
        "action": change.action,
        "before": resource_to_json(change.before),
        "after": resource_to_json(change.after),
        "fields": [[f.name, f.before, f.after, f.sensitive] for f in change.fields],
        "unchanged": change.unchanged,
        "reason": change.reason,
    }


def change_from_json(data: Fields) -> Change:
    return Change(
        address=data.get("address", text),
        kind=data.get("kind", one_of(*KINDS)),
        workspace=data.get("workspace", optional(text)),
        action=data.get("action", one_of(*ACTIONS)),
        before=data.get("before", optional(object_with(resource_from_json))),
        after=data.get("after", optional(object_with(resource_from_json))),
        fields=tuple(data.get("fields", list_of(_field_change))),
        unchanged=data.get("unchanged", count),
        reason=data.get("reason", text),
    )


def _field_change(value: Any, where: str) -> FieldChange:
    if not isinstance(value, list) or len(value) != 4:
        raise ShapeError(where, "expected a list [name, before, after, sensitive]")
    name, before, after, sensitive = value
    return FieldChange(text(name, f"{where}[0]"), before, after, boolean(sensitive, f"{where}[3]"))


def resource_to_json(resource: Resource | None) -> dict[str, Any] | None:
    if resource is None:
        return None
    return {
        "address": resource.address,
        "kind": resource.kind,
        "workspace": resource.workspace,
        "attrs": resource.attrs,
        "secrets": resource.secrets,
        "catalog": resource.catalog,
    }


def resource_from_json(data: Fields) -> Resource:
    kind = data.get("kind", one_of(*KINDS))
    resource = Resource(
        address=data.get("address", text),
        kind=kind,
        workspace=data.get("workspace", optional(text)),
        attrs=data.get("attrs", resource_attrs(kind)),
        secrets=data.get("secrets", map_of(text)),
        catalog=data.get("catalog", boolean),
    )
    problem = address_problem(resource)
    if problem:
        raise ShapeError(f"{data.where}.address", problem)
    return resource
