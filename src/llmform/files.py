"""Writing files safely (every file llmform writes goes through here), and reading files
within a bound.

- Never through a symlink: a link planted at the target path (``plan -o out.plan`` where
  ``out.plan -> ~/.bashrc``) must not redirect the write. A whole-file write replaces the path
  itself (the rename swaps the link for a regular file, never touching what it pointed to); an
  append opens with ``O_NOFOLLOW`` and refuses a link.
- Atomically: a whole file is written to a temporary file in the same directory, synced, and
  renamed over the target, so a reader (or a crash) sees the old file or the new one, never half.
- Owner-only when it holds anything sensitive (plans, audit copies, the registry): 0600 files
  and 0700 directories, set explicitly so that the umask cannot widen them. Other files (exports,
  converted catalogs) get the usual 0666 less the umask.

Every file a user names for llmform to read (configuration, a saved plan, a RAGFlow export, a
credential or trust file) is read up to a limit of its kind (``read_at_most``), and the files
llmform keeps for itself only when they are its own (``read_own_file``).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable

from .errors import LlmformError

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import BinaryIO

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


class FileWriteError(LlmformError):
    """A file llmform was asked to write cannot be written; the message names it and why."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _umask() -> int:
    # os.umask can only be read by setting it; the CLI writes files from one thread
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_file(path: str | os.PathLike[str], text: str, *, private: bool) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically, without following a link at ``path``.
    ``private``: mode 0600 whatever the umask; otherwise 0666 less the umask."""
    from pathlib import Path  # start-up time: see cache_dir

    target = Path(path)
    directory = target.parent
    mode = PRIVATE_FILE if private else 0o666 & ~_umask()
    import tempfile  # start-up time: only a command that writes pays its import

    try:
        # mkstemp creates with O_EXCL (so never through a link) and mode 0600
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise FileWriteError(f"cannot write {path}: {_reason(exc)}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)  # replaces a link at ``target`` itself, not what it points to
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FileWriteError(f"cannot write {path}: {_reason(exc)}") from None
    fsync_directory(directory)


def append_lines(path: str | os.PathLike[str], lines: Iterable[str]) -> None:
    """Append ``lines`` (each ending in a newline) to ``path``, creating it 0600 if missing.
    Refuses a symlink at ``path``. Raises OSError (the caller says what it was writing)."""
    data = "".join(lines).encode("utf-8")
    fd = _open_for_append(path, create=True)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            # A full disk stops the write mid-line. The part written would glue itself to the
            # next line appended (the events apply then tells the user to write again), so the
            # copy would hold a line that is not JSON: take the part back.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def check_appendable(path: str | os.PathLike[str]) -> None:
    """Raise OSError unless ``append_lines(path, ...)`` can write: an existing file is opened
    for appending (and closed, unchanged); for a missing one, its directory must be writable.
    Nothing is created."""
    try:
        fd = _open_for_append(path, create=False)
    except FileNotFoundError:
        from pathlib import Path  # start-up time: see cache_dir

        directory = Path(path).parent
        if not directory.is_dir():
            raise FileNotFoundError(2, f"no directory {directory}") from None
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(13, f"the directory {directory} is not writable") from None
        return
    os.close(fd)


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise OSError unless ``write_file(path, ...)`` can write: its directory exists and may
    be written. Nothing is created."""
    from pathlib import Path  # start-up time: see cache_dir

    directory = Path(path).parent
    if not directory.is_dir():
        raise FileNotFoundError(2, f"no folder {directory}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(13, f"the folder {directory} is not writable")


def _open_for_append(path: str | os.PathLike[str], *, create: bool) -> int:
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    if create:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        except FileExistsError:
            pass
        else:
            os.fchmod(fd, PRIVATE_FILE)  # the umask may have taken bits away, never adds
            return fd
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise OSError(
                exc.errno, "it is a symbolic link, and llmform does not write through links"
            ) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(0, "not a regular file")
    return fd


def make_private_dirs(directory: str | os.PathLike[str]) -> list[Path]:
    """Create ``directory`` and any missing parents, each 0700 whatever the umask. Returns the
    directories created, outermost first (so that a caller can remove them if it gives up)."""
    from pathlib import Path  # start-up time: see cache_dir

    missing: list[Path] = []
    current = Path(directory)
    while not current.exists() and not current.is_symlink():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    created: list[Path] = []
    for path in reversed(missing):
        try:
            path.mkdir(PRIVATE_DIR)
        except FileExistsError:  # made by a concurrent run meanwhile: fine, but not ours
            continue
        os.chmod(path, PRIVATE_DIR, follow_symlinks=False)
        created.append(path)
    return created


def remove_dirs(created: Iterable[Path]) -> None:
    """Remove directories that ``make_private_dirs`` created, innermost first, as long as they
    are empty (a concurrent run may have put something there)."""
    for path in reversed(list(created)):
        try:
            path.rmdir()
        except OSError:
            return


def cache_dir() -> str:
    """Where llmform keeps what it caches for this user: the key-check verdicts, the secret
    behind a new store's key, parsed files (``$LLMFORM_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/llmform``, by default ``~/.cache/llmform``). A string: validate, which
    reads its parsed files from here on every commit, does not import pathlib (4 ms)."""
    own = os.environ.get("LLMFORM_CACHE_DIR")
    if own:
        return own
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "llmform")


def read_own_file(path: str | os.PathLike[str], max_bytes: int) -> bytes | None:
    """The content of ``path`` if it is a regular file of this user that only this user can
    read or write, at most ``max_bytes`` long; else None. For the files llmform keeps for
    itself (the key-check cache, the secret behind a new store's key): a link, a FIFO, a file
    another user planted or can edit, or an endless one is not read, and llmform goes on as if
    there were none."""
    opened = open_own_file(path, max_bytes)
    if opened is None:
        return None
    fd, size = opened
    try:
        # its size and one byte more, never a buffer of ``max_bytes``: read(n) allocates n
        # bytes first (1 GiB for the parsed-file cache); a file that grew or shrank while
        # read is being written by someone else, so it is not read
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(size + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) == size else None


def open_own_file(path: str | os.PathLike[str], max_bytes: int) -> tuple[int, int] | None:
    """A descriptor open for reading on ``path`` and its size, under ``read_own_file``'s
    conditions (None: they do not hold); the caller closes it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if (
        not stat.S_ISREG(info.st_mode)
        or info.st_uid != os.geteuid()
        or stat.S_IMODE(info.st_mode) & 0o077
        or info.st_size > max_bytes
    ):
        os.close(fd)
        return None
    return fd, info.st_size


def read_at_most(path: str | os.PathLike[str], limit: int) -> bytes | None:
    """The content of ``path``, or None when it is longer than ``limit`` bytes: a device that
    never ends (/dev/zero, /dev/urandom) or a file far larger than anything it could mean
    costs no more than that. Raises OSError (the caller says what it was reading)."""
    with open(path, "rb") as handle:
        return read_bounded(handle, limit)


def read_bounded(handle: BinaryIO, limit: int) -> bytes | None:
    """The rest of an open file, or None past ``limit`` bytes (see ``read_at_most``)."""
    size = os.fstat(handle.fileno()).st_size
    # a regular file's size is known: no buffer of ``limit`` bytes for a 2 KiB file (one byte
    # more than its size, to notice a file that grew); a pipe or device is read up to the limit
    wanted = size + 1 if 0 < size <= limit else limit + 1
    raw = handle.read(wanted)
    if len(raw) == wanted and wanted <= limit:  # it grew: read on to the limit
        raw += handle.read(limit + 1 - len(raw))
    return None if len(raw) > limit else raw


def private_temp(directory: str | os.PathLike[str], name: str) -> str:
    """A new empty 0600 file in ``directory`` named after ``name``, created exclusively."""
    import tempfile  # see write_file

    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".new")
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return tmp


def fsync_file(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename or link in ``directory`` durable (best effort: not every OS allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
