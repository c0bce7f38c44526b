"""The Plan: what apply will do, as data. Built purely; saved and loaded as JSON.

A saved plan holds no secret value: secrets appear only as references and keyed fingerprints.
It records what it was computed against (store lineage and serial, each reference's
fingerprint) so that apply can refuse it when stale.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .diff import CREATE, DELETE, NOOP, REPLACE, UPDATE, Change, FieldChange, Scope, diff
from .errors import LlmformError
from .protect import Refusal, refusals
from .resources import Resource
from .unresolved import carry_over

PLAN_FORMAT = "llmform-plan/1"

# A key not checked because its endpoint is not trusted (llmform.providers.Outcome.UNTRUSTED):
# its detail is the endpoint. It fails no plan, and blocks apply until the endpoint is trusted.
UNTRUSTED = "untrusted_endpoint"
NOT_TRUSTED_TEXT = "not checked: endpoint not yet trusted"
# What to tell a user whose endpoint is not trusted yet (llmform.trust_sources reads these).
HOW_TO_TRUST = (
    "Once an endpoint is reviewed, trust it with --trust-endpoint URL, or add it to "
    "LLMFORM_TRUSTED_ENDPOINTS (URLs separated by commas or spaces) or to the file "
    "LLMFORM_TRUSTED_ENDPOINTS_FILE names (one URL per line, outside the planned files)"
)


class PlanFileError(LlmformError):
    pass


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
    outcome: str  # llmform.providers.Outcome's value
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
    changes: tuple[Change, ...]
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
) -> Plan:
    """Diff ``desired`` against ``current``. A desired config slot without a fingerprint is a
    value the run did not read: the store's fingerprint for the same reference is carried over
    and the slot listed as not compared (``unresolved.py``). ``secrets_compared`` False: no
    value was read at all (--no-secrets), so neither is whether values are sealed; a stored
    ``encrypted`` is kept."""
    carried = carry_over(desired, current, keep_encryption=not secrets_compared)
    changes = diff(
        carried.resources,
        current,
        scope=Scope(frozenset(scope)),
        unmanaged=frozenset(unmanaged),
    )
    written = {c.address for c in changes if c.after is not None}
    not_compared = {a: s for a, s in sorted(carried.not_compared.items()) if a in written}
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
    )


# -- save / load ------------------------------------------------------------------------------


def _resource_json(resource: Resource | None) -> dict[str, Any] | None:
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


def _resource(data: dict[str, Any] | None) -> Resource | None:
    if data is None:
        return None
    return Resource(
        data["address"],
        data["kind"],
        data["workspace"],
        data["attrs"],
        data["secrets"],
        catalog=_bool(data["catalog"], "catalog"),
    )


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false")
    return value


def _not_compared(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or not all(
        isinstance(address, str)
        and isinstance(slots, list)
        and all(isinstance(slot, str) for slot in slots)
        for address, slots in value.items()
    ):
        raise TypeError("not_compared must map config addresses to lists of slots")
    return {address: tuple(slots) for address, slots in value.items()}


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
        "changes": [
            {
                "address": c.address,
                "kind": c.kind,
                "workspace": c.workspace,
                "action": c.action,
                "before": _resource_json(c.before),
                "after": _resource_json(c.after),
                "fields": [[f.name, f.before, f.after, f.sensitive] for f in c.fields],
                "unchanged": c.unchanged,
                "reason": c.reason,
            }
            for c in plan.changes
        ],
    }


def save_plan(plan: Plan, path: str) -> None:
    target = Path(path)
    text = json.dumps(plan_to_json(plan), indent=1, sort_keys=False) + "\n"
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def load_plan(path: str) -> Plan:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanFileError(f"{path}: cannot read the plan file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise PlanFileError(
            f"{path}: not an llmform plan file (expected format {PLAN_FORMAT!r}); "
            "create one with 'llmform plan -o FILE'"
        )
    try:
        return Plan(
            changes=tuple(
                Change(
                    address=c["address"],
                    kind=c["kind"],
                    workspace=c["workspace"],
                    action=c["action"],
                    before=_resource(c["before"]),
                    after=_resource(c["after"]),
                    fields=tuple(FieldChange(*f) for f in c["fields"]),
                    unchanged=c["unchanged"],
                    reason=c["reason"],
                )
                for c in data["changes"]
            ),
            store_url=data["store"]["url"],
            lineage=data["store"]["lineage"],
            serial=data["store"]["serial"],
            fingerprints=data["fingerprints"],
            scope=tuple(data["scope"]),
            unmanaged=tuple(data["unmanaged"]),
            warnings=tuple(data["warnings"]),
            keys_checked=data["keys_checked"],
            key_checks=tuple(data["key_checks"]),
            secrets_compared=_bool(data["secrets_compared"], "secrets_compared"),
            not_compared=_not_compared(data["not_compared"]),
            plan_id=data["plan_id"],
            created_at=data["created_at"],
            llmform_version=data["llmform_version"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{path}: the plan file is damaged ({exc!r}); plan again") from None
