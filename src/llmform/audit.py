"""Audit events: a start, one per changed resource, an end; chained by hash.

Each event's hash covers its content and the previous event's hash, so editing, removing or
reordering any stored event breaks the chain at that point, and ``verify`` says where.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from .actor import current_actor, current_commit
from .diff import Change

GENESIS = "0" * 64


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
    hash: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fields"] = list(self.fields)
        return data


def _digest(content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _content(event: AuditEvent) -> dict[str, Any]:
    data = event.to_json()
    del data["hash"]
    return data


def seal(drafts: Sequence[Mapping[str, Any]], prev_hash: str, next_seq: int) -> list[AuditEvent]:
    """Number and chain event drafts (dicts with time, run_id, actor, commit, address, action,
    fields, result) after the event whose hash is ``prev_hash``."""
    events = []
    for offset, draft in enumerate(drafts):
        content = {
            "seq": next_seq + offset,
            "time": draft["time"],
            "run_id": draft["run_id"],
            "actor": draft["actor"],
            "commit": draft["commit"],
            "address": draft["address"],
            "action": draft["action"],
            "fields": list(draft["fields"]),
            "result": draft["result"],
            "prev_hash": prev_hash,
        }
        prev_hash = _digest(content)
        events.append(AuditEvent(**{**content, "fields": tuple(content["fields"])}, hash=prev_hash))
    return events


def drafts_for(changes: Iterable[Change], run: RunInfo, result: str = "ok") -> list[dict[str, Any]]:
    """Start, one event per actionable change, end. Field names only, never values."""
    now = datetime.now(UTC).isoformat()
    base = {"time": now, "run_id": run.run_id, "actor": run.actor, "commit": run.commit}
    actionable = [c for c in changes if c.action != "no-op"]
    drafts: list[dict[str, Any]] = [
        {**base, "address": "", "action": "apply-start", "fields": [], "result": "started"}
    ]
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


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def verify(events: Sequence[AuditEvent]) -> ChainBreak | None:
    """The first event at which the chain breaks, or None when it is whole."""
    prev_hash = GENESIS
    expected_seq = events[0].seq if events else 1
    for event in events:
        if event.seq != expected_seq:
            return ChainBreak(event.seq, f"expected event {expected_seq} here (events missing)")
        if event.prev_hash != prev_hash:
            return ChainBreak(event.seq, "does not follow the previous event (edited or removed)")
        if _digest(_content(event)) != event.hash:
            return ChainBreak(event.seq, "its content does not match its hash (edited)")
        prev_hash = event.hash
        expected_seq += 1
    return None


def detect_run(run_id: str, environ: Mapping[str, str] | None = None) -> RunInfo:
    """The run's actor (``actor.current_actor``, as the lock names it) and commit."""
    return RunInfo(run_id=run_id, actor=current_actor(environ), commit=current_commit(environ))
