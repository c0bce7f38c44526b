"""Reading the audit trail: the listing, and ``audit --verify`` with a key and anchors.

The chain alone (``audit_check.check_chain``) shows edits; it cannot show that events were removed
from its end, since what is left is still a whole chain. Anchors can: the chain head that apply
prints (``Audit chain head: SEQ:HASH``, kept by a CI log) and the ``--audit-file`` copy of the
events. The store's serial counts its applies, each of which wrote one run of events, so a run
missing from the trail shows too (unless whoever removed it also rewound the serial).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..console import printable
from .audit import POLICY_OVERRIDE, AuditError, AuditEvent
from .audit_check import ChainCheck, check_chain
from .audit_keys import ChainKey

HEAD_PREFIX = "Audit chain head: "
MAX_COPY_LINE = 1 << 20  # an event is far smaller; this bounds what a bad file makes us read
_EVENT_TYPES: dict[str, tuple[type, ...]] = {
    "seq": (int,),
    "time": (str,),
    "run_id": (str,),
    "actor": (str,),
    "commit": (str, type(None)),
    "address": (str,),
    "action": (str,),
    "fields": (list,),
    "result": (str,),
    "prev_hash": (str,),
    "hash": (str,),
}


def head_line(event: AuditEvent) -> str:
    """What apply prints after it wrote (or found) the trail's last event: a CI log keeps it,
    and ``audit --verify --head SEQ:HASH`` checks the store against it later."""
    return f"{HEAD_PREFIX}{event.seq}:{printable(event.hash)}"


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


def parse_head(text: str) -> Head:
    seq, _, digest = text.strip().removeprefix(HEAD_PREFIX).partition(":")
    if not seq.isdigit() or int(seq) < 1 or not digest:
        raise AuditError(
            f"--head {printable(text)!r} is not SEQ:HASH; give the head apply printed, as in "
            "--head 12:hmac-sha256:5d41...  (from the line 'Audit chain head: 12:hmac-sha256:...')"
        )
    return Head(int(seq), digest)


@dataclass(frozen=True)
class CopiedEvent:
    file: str  # escaped for messages
    line: int
    data: dict[str, Any]  # as AuditEvent.to_json writes it

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def seq(self) -> int:
        return int(self.data["seq"])


def read_copy(path: str) -> list[CopiedEvent]:
    """The events of an ``--audit-file`` copy (JSON Lines, as apply appends them), each
    checked to be an event; a line that is not one is an error naming FILE:LINE."""
    events: list[CopiedEvent] = []
    try:
        with Path(path).open("rb") as handle:
            number, name = 0, printable(path)
            while raw := handle.readline(MAX_COPY_LINE + 1):
                number += 1
                where = f"{name}:{number}"
                if len(raw) > MAX_COPY_LINE:
                    raise AuditError(f"{where}: the line is longer than any audit event")
                if raw.strip():
                    events.append(CopiedEvent(name, number, _copied_event(raw, where)))
    except OSError as exc:
        raise AuditError(f"cannot read the audit copy {printable(path)}: {exc.strerror}") from None
    if not events:
        raise AuditError(f"{printable(path)} holds no audit events to check the store against")
    return events


def _copied_event(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise AuditError(f"{where}: not a JSON audit event as apply writes it") from None
    if not isinstance(data, dict):
        raise AuditError(f"{where}: not a JSON audit event as apply writes it")
    for name, types in _EVENT_TYPES.items():
        value = data.get(name)
        if name not in data or not isinstance(value, types) or isinstance(value, bool):
            raise AuditError(f"{where}: its {name!r} is missing or of the wrong type")
    if not all(isinstance(n, str) for n in data["fields"]):
        raise AuditError(f"{where}: its 'fields' are not a list of names")
    return {name: data[name] for name in _EVENT_TYPES}


# What to do about a trail that failed: there is nothing to repair, only something to find out.
INVESTIGATE = (
    "The trail was changed by someone with write access to the store (or the --head or "
    "--audit-file given is another store's): compare the events (llmform audit --json) with a "
    "backup of the store and the --audit-file copy, and find out who else writes to it."
)


@dataclass
class TrailReport:
    failures: list[str] = field(default_factory=list)  # why the trail cannot be trusted
    lines: list[str] = field(default_factory=list)  # what was shown, when nothing failed


def recorded_steps(events: Sequence[AuditEvent]) -> int:
    """How many steps a stepped apply's state recorded (``engine.steps``): one per change,
    and one for each run that stopped at a failure (its end, recorded alone)."""
    return sum(
        1
        for event in events
        if event.action not in ("apply-start", "apply-end", POLICY_OVERRIDE)
        or event.result.startswith("failed")
    )


def verify_trail(
    events: Sequence[AuditEvent],
    key: ChainKey | None,
    *,
    head: Head | None = None,
    copy: Sequence[CopiedEvent] = (),
    applies: int | None = None,
    managed: int = 0,
    store: str = "",
    stepped: bool = False,
) -> TrailReport:
    """Everything ``audit --verify`` checks: the chain (with the key, if given), the known
    head, the copy, that every apply the store counts left its run in the trail, and that a
    store holding ``managed`` resources (which only an apply writes) has a run at all. ``store``:
    the store's lineage, which keyed seals cover."""
    report = TrailReport()
    check = check_chain(events, key, store)
    if check.broken is not None:
        report.failures.append(
            f"audit chain broken at event {check.broken.seq}: {check.broken.reason}"
        )
    elif key is not None and events and check.first_keyed is None:
        report.failures.append(
            f"no event is sealed with {key.label}: the {len(events)} event(s) were written "
            "before it was set, or rewritten without it; apply once with the key to start the "
            "keyed chain, or check against a known head (--head) or copy (--audit-file)"
        )
    last = events[-1].seq if events else 0
    ends = f"ends at event {last}" if events else "is empty"
    by_seq = {event.seq: event for event in events}
    if head is not None:
        at_head = by_seq.get(head.seq)
        if head.seq > last:
            report.failures.append(
                f"audit trail truncated: the known head is event {head.seq}, but the trail "
                f"{ends}: events were removed"
            )
        elif at_head is None or at_head.hash != head.hash:
            report.failures.append(
                f"audit trail rewritten: event {head.seq} is not the known head "
                f"{head.seq}:{printable(head.hash)}"
            )
    for copied in copy:
        stored = by_seq.get(copied.seq)
        if copied.seq > last:
            report.failures.append(
                f"audit trail truncated: {copied.where} holds event {copied.seq}, but the "
                f"store's trail {ends}: events were removed"
            )
            break
        differs = _difference(stored, copied)
        if differs:
            report.failures.append(
                f"audit trail rewritten: event {copied.seq} differs from its copy at "
                f"{copied.where} ({differs})"
            )
            break
    runs = sum(1 for event in events if event.action == "apply-start")
    if stepped and applies is not None and recorded_steps(events) != applies:
        # a stepped apply (``engine.steps``) counts each step it recorded, not each run
        steps = recorded_steps(events)
        report.failures.append(
            f"the state counts {applies} recorded step(s), but its audit trail holds {steps}: "
            + ("events were removed" if steps < applies else "events were added")
        )
    elif not stepped and applies is not None and runs != applies:
        report.failures.append(
            f"the store counts {applies} apply(s), but its audit trail holds {runs} run(s): "
            + ("events were removed" if runs < applies else "events were added")
        )
    elif runs == 0 and managed:
        report.failures.append(
            f"the store holds {managed} resource(s) written by llmform, but its audit trail "
            "holds no run that wrote them: events were removed (and the store's count of "
            "applies rewound)"
        )
    if not report.failures:
        report.lines = _summary(events, key, check, runs, head, copy)
    return report


def _difference(stored: AuditEvent | None, copied: CopiedEvent) -> str:
    if stored is None:
        return "the store has no such event"
    mine = stored.to_json()
    changed = [name for name in _EVENT_TYPES if mine.get(name) != copied.data[name]]
    return f"its {', '.join(changed)} changed" if changed else ""


def _summary(
    events: Sequence[AuditEvent],
    key: ChainKey | None,
    check: ChainCheck,
    runs: int,
    head: Head | None,
    copy: Sequence[CopiedEvent],
) -> list[str]:
    if not events:
        lines = ["Audit trail empty: nothing was applied to this store yet."]
    else:
        lines = [
            f"Audit chain intact: {len(events)} event(s) of {runs} run(s); "
            f"its head is {events[-1].seq}:{printable(events[-1].hash)}."
        ]
    for first, last, status in _ranges(check.statuses):
        which = f"Event {first}" if first == last else f"Events {first}-{last}"
        if status == "key":
            assert key is not None
            lines.append(f"{which}: sealed with {key.label}, verified with it: not edited.")
        elif status == "plain" and key is not None and last + 1 == check.first_keyed:
            # The first keyed event seals the last of these hashes, and each hash its event
            # and the one before: none of them can change without breaking that seal.
            lines.append(
                f"{which}: plain hashes from before the key was set, sealed in turn by event "
                f"{last + 1}: not edited."
            )
        elif status == "plain" and key is not None:
            lines.append(
                f"{which}: not covered by the key (written before it was set, and followed by "
                "events it cannot check): plain hashes, only consistent with each other."
            )
        elif status == "plain":
            lines.append(f"{which}: plain hashes, consistent with each other.")
        else:
            lines.append(f"{which}: sealed with {status}, not at hand: not checked.")
    if key is None:
        lines.append(
            "No audit key is set (LLMFORM_AUDIT_KEY or LLMFORM_AUDIT_TRANSIT_KEY): this proves "
            "only internal consistency; anyone who can write the store could have rewritten "
            "the events and their hashes."
        )
    if head is not None:
        lines.append(f"Reaches the known head {head.seq}:{printable(head.hash)} unchanged.")
    if copy:
        lines.append(
            f"Matches the copy {copy[0].file}: its {len(copy)} event(s) "
            "are in the store, unchanged."
        )
    if head is None and not copy:
        lines.append(
            "No known head was checked: events removed from the end (with the serial rewound) "
            "would not show; check with --head SEQ:HASH (apply prints it) or --audit-file FILE."
        )
    return lines


def _ranges(statuses: Sequence[tuple[int, str]]) -> list[tuple[int, int, str]]:
    ranges: list[tuple[int, int, str]] = []
    for seq, status in statuses:
        if ranges and ranges[-1][2] == status and ranges[-1][1] == seq - 1:
            ranges[-1] = (ranges[-1][0], seq, status)
        else:
            ranges.append((seq, seq, status))
    return ranges


# -- the listing ------------------------------------------------------------------------------


def parse_since(text: str) -> datetime:
    """``--since``: an ISO 8601 date or time, UTC unless it names its zone. Compared as a time,
    not as text: ``2026-01-31T20:00-05:00`` is after ``2026-02-01T00:30+00:00``."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AuditError(
            f"--since {printable(text)!r} is not an ISO 8601 time; write a date or a time, "
            "e.g. 2026-01-31, 2026-01-31T14:00 (UTC) or 2026-01-31T14:00+01:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _time_of(event: AuditEvent) -> datetime | None:
    try:
        when = datetime.fromisoformat(event.time)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def matching(
    events: Sequence[AuditEvent],
    workspace: str | None = None,
    address: str | None = None,
    since: datetime | None = None,
) -> list[AuditEvent]:
    """The events of one workspace's resources, of one address, at or after a time (an event
    whose time does not parse is kept: a filter never hides what it cannot read)."""

    def keep(event: AuditEvent) -> bool:
        if address and event.address != address:
            return False
        if workspace and not (
            event.address == f"workspace.{workspace}"
            or event.address.startswith(f"config.{workspace}/")
        ):
            return False
        when = _time_of(event) if since else None
        return not (since and when and when < since)

    return [event for event in events if keep(event)]


_COLUMNS = ("SEQ", "TIME", "RUN", "ACTOR", "ACTION", "ADDRESS", "FIELDS", "RESULT")


def listing(events: Sequence[AuditEvent]) -> list[str]:
    """The events as a table with a header row; every value escaped for the terminal (actors,
    addresses and field names come from CI variables, git and YAML)."""
    rows = [_COLUMNS] + [
        (
            str(e.seq),
            printable(e.time),
            printable(e.run_id),
            printable(e.actor),
            printable(e.action),
            printable(e.address) or "-",
            printable(", ".join(e.fields)) or "-",
            printable(e.result),
        )
        for e in events
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i == 0 else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
