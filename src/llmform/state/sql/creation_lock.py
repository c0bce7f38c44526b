"""The lock of a store that does not exist yet.

The apply lock is a row in the store, so it cannot exist before the store does; and the store
is created only by the first apply, with that apply's changes (a cancelled or refused apply
leaves nothing). Runs that would create the same store meet here instead: an advisory lock
(``flock``) on ``PATH.creating`` beside the store file, holding the holder's LockInfo as JSON
so that a waiting run can name it. The kernel releases the lock with its process, so a killed
run leaves no lock to force-unlock, and the holder removes the file when it is done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import time
from pathlib import Path

from ... import files
from ...console import printable
from ...errors import StoreError
from ..lock import UNNAMED_LOCK_ID, LockedError, LockInfo

SUFFIX = ".creating"


class CreatingError(LockedError):
    """Another run holds the creation lock: it is creating the store."""

    def __init__(self, holder: LockInfo, url: str) -> None:
        self.holder = holder
        StoreError.__init__(
            self,
            f"the store {url} is locked by {holder.who} since {printable(holder.created_at)}, "
            f"which is creating it ({printable(holder.operation)}); wait for it to finish, or "
            "give a longer "
            "--lock-timeout (that lock ends with its process: no force-unlock is needed)",
        )


class CreationLock:
    def __init__(self, store_path: str, display_url: str) -> None:
        self.path = store_path + SUFFIX
        self.display_url = display_url
        self._fd: int | None = None
        self._created_dirs: list[Path] = []

    def acquire(self, mine: LockInfo, timeout: float, poll: float = 0.1) -> None:
        """Take the lock, waiting up to ``timeout`` seconds; then fail naming the holder."""
        deadline = time.monotonic() + timeout
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise CreatingError(holder, self.display_url) from None
                time.sleep(poll)
                continue
            if not _still_there(fd, self.path):  # its holder removed it as we took it: again
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(dataclasses.asdict(mine)).encode())
            self._fd = fd
            return

    def release(self, *, remove_dirs: bool) -> None:
        """Remove the lock file and release; ``remove_dirs``: also the directories this lock
        created for it, if empty (the store was not created after all)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)  # releases the flock
        self._fd = None
        if remove_dirs:
            files.remove_dirs(self._created_dirs)
        self._created_dirs = []

    def _open(self) -> int:
        directory = Path(self.path).parent
        try:
            self._created_dirs += files.make_private_dirs(directory)
            fd = os.open(
                self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, files.PRIVATE_FILE
            )
        except OSError as exc:
            raise StoreError(
                f"cannot create the store {self.display_url}: cannot write in "
                f"{directory} ({exc.strerror or exc}); nothing was changed"
            ) from None
        return fd


def _still_there(fd: int, path: str) -> bool:
    try:
        here = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def _holder(fd: int) -> LockInfo:
    """The holder the lock file names (an anonymous one while it is still being written)."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode())
        return LockInfo(**{f.name: data[f.name] for f in dataclasses.fields(LockInfo)})
    except (OSError, ValueError, KeyError, TypeError):
        return LockInfo(UNNAMED_LOCK_ID, "another run", 0, "apply", "just now")
