"""Checking an audit chain: where it breaks, and what vouches for each event up to there (the
audit key, a plain hash, or a key not at hand). The events and their seals are in ``audit.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .audit import GENESIS, AuditEvent, message
from .audit_keys import ChainKey, Seal, plain_seal, seal_of


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


@dataclass(frozen=True)
class ChainCheck:
    """How far the chain holds, and what vouches for each event up to there: ``key`` (its
    seal was verified with the key given), ``plain`` (a plain hash matched: consistent with
    its neighbours, nothing more), or a ``Seal.describe()`` text for an event sealed with a key
    not at hand (linked to its neighbours; its content could not be checked)."""

    broken: ChainBreak | None
    statuses: tuple[tuple[int, str], ...]  # (seq, status) of each event before the break

    @property
    def first_keyed(self) -> int | None:
        return next((seq for seq, status in self.statuses if status == "key"), None)


def check_chain(
    events: Sequence[AuditEvent], key: ChainKey | None = None, store: str = ""
) -> ChainCheck:
    """Walk the chain from the first event. With ``key``, every event it sealed is verified
    with it, as sealed for ``store`` (the lineage of the store the events were read from), and
    an event after the first one it sealed that it did not seal is a break (a downgrade);
    events before that one are checked as far as their own seal allows."""
    prev_hash, expected, first_keyed = GENESIS, 1, None
    statuses: list[tuple[int, str]] = []
    to_verify: list[tuple[int, bytes, str]] = []
    broken = None
    for event in events:
        sealed = seal_of(event.hash)
        if event.damage is not None:
            broken = ChainBreak(event.seq, f"{event.damage} (edited)")
        elif event.seq != expected:
            broken = ChainBreak(event.seq, f"expected event {expected} here (events missing)")
        elif event.prev_hash != prev_hash:
            broken = ChainBreak(
                event.seq, "does not follow the previous event (edited, removed, inserted or moved)"
            )
        elif key is not None and key.owns(event.hash):
            first_keyed = first_keyed or event.seq
            to_verify.append((event.seq, message(event, store), event.hash))
            statuses.append((event.seq, "key"))
        elif key is not None and first_keyed is not None:
            broken = ChainBreak(
                event.seq,
                f"it is sealed with {sealed.describe()}, not with {key.label} as event "
                f"{first_keyed} before it is: events were written or rewritten without the key "
                "(a downgrade)",
            )
        elif sealed.kind == "unknown":
            broken = ChainBreak(event.seq, "its hash is in no form llmform writes (edited)")
        elif sealed.keyed:
            statuses.append((event.seq, sealed.describe()))
        elif _plain_matches(event, sealed):
            statuses.append((event.seq, "plain"))
        else:
            broken = ChainBreak(event.seq, "its content does not match its hash (edited)")
        if broken is not None:
            break
        prev_hash, expected = event.hash, expected + 1
    if key is not None and to_verify:
        verdicts = key.verify([(content, stored) for _, content, stored in to_verify])
        for (seq, _, _), valid in zip(to_verify, verdicts, strict=True):
            if not valid:
                broken = ChainBreak(
                    seq,
                    f"its content does not match its seal by {key.label} (edited, or sealed "
                    "for another store and copied here)",
                )
                statuses = [(s, status) for s, status in statuses if s < seq]
                break
    return ChainCheck(broken, tuple(statuses))


def verify(
    events: Sequence[AuditEvent], key: ChainKey | None = None, store: str = ""
) -> ChainBreak | None:
    """The first event at which the chain breaks, or None when it is whole."""
    return check_chain(events, key, store).broken


def _plain_matches(event: AuditEvent, sealed: Seal) -> bool:
    if sealed.kind == "plain":
        return plain_seal(message(event)) == event.hash
    return any(hashlib.sha256(text).hexdigest() == event.hash for text in _legacy_messages(event))


def _legacy_messages(event: AuditEvent) -> Iterator[bytes]:
    """What llmform 0.1 hashed: its content dict as it was handed to it. A saved plan's
    non-text ``plan_id`` (5, 5.0, true) was hashed as that value but stored as its text, so
    the run id is also tried as the JSON value its text spells."""
    for run_id in _legacy_run_ids(event.run_id):
        content = {
            "seq": event.seq,
            "time": event.time,
            "run_id": run_id,
            "actor": event.actor,
            "commit": event.commit,
            "address": event.address,
            "action": event.action,
            "fields": list(event.fields),
            "result": event.result,
            "prev_hash": event.prev_hash,
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        yield text.encode("utf-8", "surrogatepass")


def _legacy_run_ids(run_id: str) -> Iterator[object]:
    yield run_id
    if re.fullmatch(r"-?[0-9][0-9.eE+-]{0,40}", run_id):
        try:
            number = json.loads(run_id)
        except ValueError:
            return
        if isinstance(number, int | float):
            yield number
        if run_id in ("0", "1"):
            yield run_id == "1"
