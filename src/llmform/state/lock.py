"""The lock a run holds on a store while it plans under lock and applies: who holds it (the
actor, host and pid), taking it with a timeout, and when a holder is gone.

This is llmform's own record, not the target's: a target that is an external system (a gateway)
has no place for a lock, so the state keeps it; the SQLite registry keeps it in its own file.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..console import printable
from ..errors import StoreError
from .actor import current_actor


class LockedError(StoreError):
    """Another run holds the lock."""

    def __init__(self, holder: LockInfo) -> None:
        self.holder = holder
        if holder.lock_id == UNNAMED_LOCK_ID:
            # not an llmform lock (an application writing to the registry): nothing to unlock
            super().__init__(
                f"the store is busy: {printable(holder.holder)} holds a write transaction; wait "
                "for it to finish and retry, or give a longer --lock-timeout"
            )
            return
        # The row's values come from whoever took the lock (a CI variable among them): escaped.
        lock_id = printable(holder.lock_id)
        super().__init__(
            f"the store is locked by {holder.who} since {printable(holder.created_at)} "
            f"(lock {lock_id}, {printable(holder.operation)}); wait for it to finish, or if "
            f"that run is gone: llmform force-unlock {lock_id}"
        )


# The lock_id of a holder that is not an llmform lock row: a store that is busy without one.
UNNAMED_LOCK_ID = "-"


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    holder: str  # ACTOR@HOST, the actor as the audit trail names it (actor.current_actor)
    pid: int
    operation: str
    created_at: str
    # the lock a run that is gone left behind, taken over by this one (``taken_over_note``)
    taken_over: TakenOver | None = None

    @property
    def actor(self) -> str:
        """The actor part of ``holder`` (a host name holds no '@', an actor may)."""
        return self.holder.rpartition("@")[0]

    @property
    def who(self) -> str:
        """The holder for a message, escaped: it may hold anything a CI variable held."""
        return f"{printable(str(self.holder))} (pid {printable(str(self.pid))})"


@dataclass(frozen=True)
class TakenOver:
    """A lock left by a run that is gone, and how the store knows it is gone."""

    left: LockInfo
    why: str  # e.g. "its process no longer exists"


def taken_over_note(lock: LockInfo) -> str | None:
    """What a run that took over a dead run's lock says (None: it took a free lock). The
    store's apply is one transaction, so whatever the dead run was applying landed whole or
    not at all; the run that says this plans or checks its plan against the store as it is."""
    if lock.taken_over is None:
        return None
    left = lock.taken_over.left
    return (
        f"took over the lock left by {left.who} since {printable(left.created_at)} "
        f"(lock {printable(left.lock_id)}, {printable(left.operation)}): that run is gone "
        f"({lock.taken_over.why}); whatever it was applying landed whole or not at all, and "
        "this run works on the store as it is now (llmform audit shows what landed)"
    )


def new_lock(operation: str) -> LockInfo:
    return LockInfo(
        lock_id=uuid.uuid4().hex[:12],
        holder=f"{current_actor()}@{socket.gethostname()}",
        pid=os.getpid(),
        operation=operation,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def holder_is_gone(lock: LockInfo) -> bool:
    """True when the lock was taken on this host by a process that no longer exists (a crashed
    or killed run), so the lock can be taken over safely."""
    if lock.holder.rpartition("@")[2] != socket.gethostname():
        return False
    try:
        os.kill(lock.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire(try_once: Callable[[], LockInfo | None], timeout: float, poll: float = 0.2) -> None:
    """Call ``try_once`` until it returns None (the lock is ours); after ``timeout`` seconds
    give up naming the holder."""
    deadline = time.monotonic() + timeout
    while (holder := try_once()) is not None:
        if time.monotonic() >= deadline:
            raise LockedError(holder)
        time.sleep(poll)
