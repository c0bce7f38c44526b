"""The JSON plan (PRODUCT §3): one object with a fixed key order, for machines.

``before``/``after`` are the resources' attributes, secrets as the references written in the
YAML. Secret values and their fingerprints never appear: ``sensitive`` lists the paths of the
sensitive values a change writes or removes (``secrets.api_key.value``), so a rotated key is an
``update`` whose ``sensitive`` names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..diff import CREATE, DELETE, REPLACE, Change
from ..plan import HOW_TO_TRUST, NOT_TRUSTED_TEXT, Plan
from ..resources import JSON, Resource
from .escape import json_dumps
from .policies import json_errors as policy_errors
from .policies import json_section as policy_section
from .text import NO_SECRETS, keys_skipped, not_compared_heading, untrusted_endpoints

FORMAT_VERSION = "1.0"


def render_json(
    plan: Plan, color: bool = False, verbose: bool = False, errors: Sequence[str] = ()
) -> str:
    """``color`` and ``verbose`` are accepted for a uniform renderer signature: JSON has no
    colour, and always holds every resource's full before and after. ``errors`` are added to
    the plan's own in ``errors``."""
    return json_dumps(plan_json(plan, errors)) + "\n"


def plan_json(plan: Plan, errors: Sequence[str] = ()) -> dict[str, Any]:
    summary = plan.summary
    warnings = list(plan.warnings)
    if plan.unmanaged:
        warnings.append(
            "unmanaged resources in the store (not created by llmform) are left alone: "
            + ", ".join(plan.unmanaged)
        )
    if not plan.secrets_compared:
        warnings.append(NO_SECRETS)
    if not plan.keys_checked:
        warnings.append(keys_skipped(plan))
    if plan.not_compared:
        warnings.append(
            not_compared_heading(plan).rstrip(":")
            + ": "
            + "; ".join(f"{a} ({', '.join(s)})" for a, s in plan.not_compared.items())
        )
    for url, addresses in untrusted_endpoints(plan).items():
        warnings.append(
            f"{NOT_TRUSTED_TEXT}: {url} ({', '.join(addresses)}); apply refuses until it is "
            f"trusted. {HOW_TO_TRUST}."
        )
    return {
        "format_version": FORMAT_VERSION,
        "llmform_version": plan.llmform_version,
        **_drift(plan),
        "changes": [_change(c, plan.not_compared.get(c.address, ())) for c in plan.actionable],
        # what was compared and found unchanged: a count and a digest (``core.unchanged``)
        "unchanged": plan.unchanged.to_json(),
        "summary": {"add": summary.add, "change": summary.change, "destroy": summary.destroy},
        "validation": [_sorted(dict(check)) for check in plan.key_checks],
        "warnings": warnings,
        "errors": [
            {
                "address": row.address,
                "slot": row.slot,
                "message": f"key check failed: {row.outcome_text}",
            }
            for row in plan.failed_keys
        ]
        + [{"address": r.address, "message": r.text} for r in plan.refusals]
        + policy_errors(plan)
        + [{"message": error} for error in errors],
        **policy_section(plan),  # a section of its own (render/policies.py)
    }


def _drift(plan: Plan) -> dict[str, Any]:
    """``drift`` (``core.drift``): each resource changed outside llmform, as a change from what
    llmform recorded to what the target holds (a key's drift only named in ``sensitive``), as
    Terraform's ``resource_drift``; only for a target that can drift, so that the registry's
    plans are as they were. ``refresh_only``: only on a refresh-only plan."""
    if plan.drift is None:
        return {}
    entries = [{k: v for k, v in _change(c, ()).items() if k != "not_compared"} for c in plan.drift]
    return {"refresh_only": True, "drift": entries} if plan.refresh_only else {"drift": entries}


def _change(change: Change, not_compared: Sequence[str]) -> dict[str, Any]:
    """``not_compared``: the sensitive values the plan did not read, where the store holds the
    same reference (its fingerprint is kept), as paths like ``sensitive``'s."""
    return {
        "address": change.address,
        "kind": change.kind,
        "actions": change.json_actions,
        "before": _attrs(change.before),
        "after": _attrs(change.after),
        "sensitive": _sensitive(change),
        "not_compared": [f"secrets.{slot}.value" for slot in not_compared],
    }


def _attrs(resource: Resource | None) -> JSON:
    return None if resource is None else _sorted(resource.attrs)


def _sensitive(change: Change) -> list[str]:
    def paths(resource: Resource | None) -> set[str]:
        return set() if resource is None else {f"secrets.{s}.value" for s in resource.secrets}

    before, after = paths(change.before), paths(change.after)
    if change.action == CREATE:
        touched = after
    elif change.action == DELETE:
        touched = before
    elif change.action == REPLACE:
        touched = before | after
    else:  # update: rotated values, and slots added or removed
        touched = {f.name for f in change.fields if f.sensitive} | (before ^ after)
    return sorted(touched)


def _sorted(value: JSON) -> JSON:
    """Keys sorted at every level, so that the output does not depend on how a store or the
    YAML happened to order them."""
    if isinstance(value, Mapping):
        return {str(k): _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return value
