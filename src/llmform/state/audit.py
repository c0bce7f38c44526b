"""Audit events: a start, one per changed resource, an end; chained by seals.

Each event's seal covers its content and the previous event's seal, so editing, removing or
reordering a stored event breaks the chain at that point, and ``audit_check.check_chain`` says
where. With an audit key (``audit_keys``) the seal is an HMAC that only the key's holder can
make; without one it is plain SHA-256, which anyone who can write the store can recompute.

The seal is computed over the event exactly as the store keeps it: every field is text (the
sequence number aside), type-checked and made storable before it is sealed, and the changed
field names are sealed as the JSON text of their column. A stored row whose values are not of
that form (a number or blob where text belongs, a field list in another spelling) is reported
as damaged rather than read into something else, so no edit can make what is stored and what
is sealed differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..core.diff import Change
from ..core.policy_results import PolicyOverride
from ..errors import LlmformError
from .actor import as_text, current_actor, current_commit
from .audit_keys import ChainKey, plain_seal, seal_of

GENESIS = "0" * 64
_MESSAGE_TAG = "llmform audit event v1"


class AuditError(LlmformError):
    """Audit events cannot be sealed as asked (a value of the wrong type, a missing key)."""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    actor: str
    commit: str | None


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    time: str
    run_id: str
    actor: str
    commit: str | None
    address: str  # "" for the run's start and end events
    action: str  # apply-start | create | update | delete | replace | apply-end
    fields: tuple[str, ...]
    result: str
    prev_hash: str
    hash: str  # the seal, naming its scheme (audit_keys)
    # Set when the stored row is not of the form llmform writes; its values are then only
    # for display, and the chain is broken at this event.
    damage: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fields"] = list(self.fields)
        del data["damage"]
        return data


def fields_json(fields: Iterable[str]) -> str:
    """The changed field names as the store's ``fields`` column holds them."""
    return json.dumps(list(fields), separators=(",", ":"))


def message(event: AuditEvent, store: str = "") -> bytes:
    """What a seal covers: every stored value of the event but its own seal, in order, as JSON
    (so text, a number and null never read alike). A keyed seal also covers ``store``, the
    lineage of the store the event belongs to: with one key for several stores, a trail copied
    from another store (chained and sealed with the same key) would verify otherwise. (A plain
    hash binds nothing anyone could not recompute, so it leaves the store out.)"""
    values: list[object] = [
        _MESSAGE_TAG,
        event.seq,
        event.time,
        event.run_id,
        event.actor,
        event.commit,
        event.address,
        event.action,
        fields_json(event.fields),
        event.result,
        event.prev_hash,
    ]
    if store:
        values.append(store)
    return json.dumps(values, separators=(",", ":")).encode("ascii")


# -- writing ----------------------------------------------------------------------------------


def seal(
    drafts: Sequence[Mapping[str, Any]],
    prev_hash: str,
    next_seq: int,
    key: ChainKey | None = None,
    store: str = "",
) -> list[AuditEvent]:
    """Number and chain event drafts (dicts with time, run_id, actor, commit, address, action,
    fields, result) after the event whose seal is ``prev_hash``, sealing each with ``key``
    (plain SHA-256 without one); a keyed seal also covers ``store``, the store's lineage."""
    check_extendable(prev_hash, next_seq - 1, key)
    events = []
    for offset, draft in enumerate(drafts):
        event = AuditEvent(
            seq=next_seq + offset,
            time=_text(draft, "time"),
            run_id=_text(draft, "run_id"),
            actor=_text(draft, "actor"),
            commit=None if draft.get("commit") is None else _text(draft, "commit"),
            address=_text(draft, "address"),
            action=_text(draft, "action"),
            fields=_names(draft.get("fields")),
            result=_text(draft, "result"),
            prev_hash=prev_hash,
            hash="",
        )
        sealed = key.seal(message(event, store)) if key else plain_seal(message(event))
        event = replace(event, hash=sealed)
        events.append(event)
        prev_hash = event.hash
    return events


def check_extendable(prev_hash: str, prev_seq: int, key: ChainKey | None) -> None:
    """Refuse to append unkeyed events to a keyed trail: they would read as a downgrade (an
    attacker's rewrite) to every later ``audit --verify`` with the key. A different key is
    allowed (a rotation): ``--verify`` with the new key then covers the events from there on."""
    last = seal_of(prev_hash)
    if key is not None or not last.keyed:
        return
    setting = (
        "LLMFORM_AUDIT_KEY"
        if last.kind == "hmac"
        else "LLMFORM_AUDIT_TRANSIT_KEY (and LLMFORM_TRANSIT_MOUNT)"
    )
    raise AuditError(
        f"the audit trail is sealed with {last.describe()} up to event {prev_seq}, and no audit "
        f"key is set; set {setting} to that key: events without it would break the chain"
    )


def check_trail_extendable(trail: Sequence[AuditEvent], key: ChainKey | None) -> None:
    """``check_extendable`` on a trail's last event: what apply and destroy check before they
    lock, so that a refusal leaves the store untouched."""
    if trail:
        check_extendable(trail[-1].hash, trail[-1].seq, key)


def _text(draft: Mapping[str, Any], name: str) -> str:
    value = draft.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # e.g. a saved plan's "plan_id": 5, as SQLite would keep it
    if not isinstance(value, str):
        raise AuditError(
            f"audit event {name} must be text, not {type(value).__name__}; nothing was applied"
        )
    return as_text(value)


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise AuditError("audit event fields must be a list of names; nothing was applied")
    return tuple(as_text(v) for v in value)


# The event of a soft policy failure let through: its address is the policy's, its fields
# the objects whose failure was overridden, its result the reason; its actor is who did it.
POLICY_OVERRIDE = "policy-override"


def drafts_for(
    changes: Iterable[Change],
    run: RunInfo,
    overrides: Iterable[PolicyOverride] = (),
    result: str = "ok",
) -> list[dict[str, Any]]:
    """Start, one event per policy override, one per actionable change, end. Field names
    only, never values."""
    now = datetime.now(UTC).isoformat()
    base = {"time": now, "run_id": run.run_id, "actor": run.actor, "commit": run.commit}
    actionable = [c for c in changes if c.action != "no-op"]
    drafts: list[dict[str, Any]] = [
        {**base, "address": "", "action": "apply-start", "fields": [], "result": "started"}
    ]
    for override in overrides:
        drafts.append(
            {
                **base,
                "address": f"policy.{override.policy}",
                "action": POLICY_OVERRIDE,
                "fields": list(override.objects),
                "result": f"overridden: {override.reason}",
            }
        )
    for change in actionable:
        names = sorted({f.name for f in change.fields})
        drafts.append(
            {
                **base,
                "address": change.address,
                "action": change.action,
                "fields": names,
                "result": result,
            }
        )
    drafts.append(
        {
            **base,
            "address": "",
            "action": "apply-end",
            "fields": [],
            "result": f"{result}: {len(actionable)} change(s)",
        }
    )
    return drafts


def detect_run(
    run_id: str, environ: Mapping[str, str] | None = None, *, actor: str | None = None
) -> RunInfo:
    """The run's actor and commit. ``actor``: as the run's lock already names it
    (``LockInfo.actor``), so that the two agree and it is found once (which may ask git);
    else ``actor.current_actor``."""
    who = current_actor(environ) if actor is None else actor
    return RunInfo(run_id=run_id, actor=who, commit=current_commit(environ))


# -- reading ----------------------------------------------------------------------------------


def event_from_row(row: Sequence[Any]) -> AuditEvent:
    """An event from a stored row (seq, time, run_id, actor, git_commit, address, action,
    fields, result, prev_hash, hash), type-checked: a value llmform would not have written
    marks the event damaged instead of being converted into something it was not."""
    problems: list[str] = []

    def text(index: int, name: str) -> str:
        value = row[index]
        if isinstance(value, str):
            return value
        problems.append(f"its {name} is {_sql_kind(value)}, not text")
        return _shown(value)

    seq = row[0] if isinstance(row[0], int) and not isinstance(row[0], bool) else 0
    if seq == 0:
        problems.append(f"its number is {_sql_kind(row[0])}")
    commit = None if row[4] is None else text(4, "git_commit")
    stored_fields = text(7, "fields")
    names = _parse_names(stored_fields)
    if names is None:
        problems.append("its fields are not a list of names as llmform writes them")
    return AuditEvent(
        seq=seq,
        time=text(1, "time"),
        run_id=text(2, "run_id"),
        actor=text(3, "actor"),
        commit=commit,
        address=text(5, "address"),
        action=text(6, "action"),
        fields=names if names is not None else (stored_fields,),
        result=text(8, "result"),
        prev_hash=text(9, "prev_hash"),
        hash=text(10, "hash"),
        damage="; ".join(problems) or None,
    )


def _parse_names(stored: str) -> tuple[str, ...] | None:
    try:
        names = json.loads(stored)
    except (ValueError, RecursionError):
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return tuple(names) if fields_json(names) == stored else None


def _sql_kind(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return "a blob"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def _shown(value: object) -> str:
    if value is None:
        return ""
    return value.hex() if isinstance(value, bytes) else str(value)
