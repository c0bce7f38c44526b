"""The file format of llmform's own caches (``parsed_cache``, ``built_cache``): a pack of
entries under string keys, owner-only, checked as it is read, rewritten atomically.

A pack is a header line (``Pack.header``: the tag of what wrote it, the CRC-32 of the index,
where the index starts), the entries (each the marshal of plain tuples, lists and scalars,
never pickle), and an index, the marshal of {key: (offset, length, CRC-32)} (length 0: seen,
not kept). Only the index is read whole; an entry is read when asked for and checked against
its CRC-32, and one kept unchanged is copied from the pack read into the next, so that a run
holds one entry at a time, not the pack. A folder or pack that is not the user's own or that
others can write is neither read nor written; a pack of another tag or whose index has another
checksum is passed over, and an entry with another checksum. Nothing here is ever an error:
at worst a pack or an entry is not used.
"""

from __future__ import annotations

import contextlib
import importlib
import marshal
import os
import stat
import sys
import weakref
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..files import PRIVATE_FILE, make_private_dirs, open_own_file

TYPE_CHECKING = False  # not typing's: its import is 2 ms of every validate
if TYPE_CHECKING:
    from typing import Any, BinaryIO


def debug(message: str, *args: object) -> None:
    """A debug record of the caches, for a program that configured logging; start-up time:
    ``logging`` is not imported for it (3 ms of every run), since without it no handler could
    take the record."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(__name__).debug(message, *args)


MAX_PACK_BYTES = 1 << 30  # far beyond 100,000 configs; a bigger file is not a pack we wrote
MAX_PACKS = 32  # packs kept (the most recently written): one per set of paths a command is given
MARSHAL = 2  # no back-references: a fifth bigger than the default, half the time to write

SEEN = None  # a key found once: its entry is kept when the next run finds it again


def _own_sha256() -> Callable[..., Any]:
    """CPython's own SHA-256: ``hashlib``'s would load OpenSSL first, 10-20 ms of every run
    (a pre-commit hook's share), where this hashes a large state's files in a few more."""
    for module in ("_sha2", "_sha256"):  # Python 3.12 on, 3.11
        with contextlib.suppress(ImportError, AttributeError):
            found: Callable[..., Any] = importlib.import_module(module).sha256
            return found
    fallback: Callable[..., Any] = importlib.import_module("hashlib").sha256  # another Python
    return fallback


sha256 = _own_sha256()


def module_files(names: Iterable[str]) -> list[str]:
    """The source files of llmform's modules ``names`` (dotted, under the package: ``errors``,
    ``desired.loader``), found without importing them, for ``code_tag``."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return [os.path.join(package, *name.split(".")) + ".py" for name in names]


def code_tag(parts: list[str], sources: Iterable[str | None]) -> bytes:
    """A pack's tag: ``parts`` and the size and time of each of the ``sources`` (the modules
    whose code decides what is kept: a change to one in a development install, whose version
    does not move, is another cache, as a new version is)."""
    for source in sources:
        with contextlib.suppress(OSError, TypeError):
            info = os.stat(source or "")
            parts.append(f"{info.st_size}:{info.st_mtime_ns}")
    tag: str = sha256("|".join(parts).encode()).hexdigest()
    return tag.encode()


def private_dir(directory: str) -> bool:
    """Whether ``directory`` is a real folder of this user that no one else can write."""
    try:
        info = os.lstat(directory)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not stat.S_IMODE(info.st_mode) & 0o022
    )


@dataclass(frozen=True)
class Kept:
    """Where an entry is in the pack read: from ``offset`` after the header, ``length`` bytes
    whose CRC-32 is ``crc`` (length 0: a key seen, no entry)."""

    offset: int
    length: int
    crc: int


# an entry kept from the pack read (where it is there), one encoded this run, or SEEN
Entry = Kept | bytes | None


class Pack:
    """One run's use of one pack: ``entry`` and ``offer`` by key, ``save``. Its index is read
    when first asked (a run that needs none of it does not pay for it), and each entry when
    asked for, checked against its CRC-32: a run holds the entries it decodes one at a time,
    and copies those it keeps unchanged from the pack it read (``carry``) when it writes the
    next. An entry is kept when a second run in a row offers its key (``offer``): the first
    only notes the key, so that a run on a fresh machine pays nothing for a cache it will
    never read."""

    def __init__(self, directory: str, name: str, tag: bytes) -> None:
        # strings, not pathlib's (4 ms with what it imports, of every validate's start-up)
        self.directory = directory
        self.path = os.path.join(directory, f"{name}.pack")
        self.tag = tag
        self._found: dict[str, Kept] | None = None  # None: not read yet
        self._fd = -1  # the pack read, open until this object goes
        self.used: dict[str, Entry] = {}  # what this run keeps, for the next run
        self.added = False

    @property
    def found(self) -> dict[str, Kept]:
        if self._found is None:
            self._found = self._read()
        return self._found

    @property
    def read(self) -> bool:
        return self._found is not None

    def header(self, checksum: int, index_at: int) -> bytes:
        return b"%s|%08x|%016d\n" % (self.tag, checksum, index_at)

    def _read(self) -> dict[str, Kept]:
        if not private_dir(self.directory):
            return {}
        opened = open_own_file(self.path, MAX_PACK_BYTES)
        if opened is None:
            return {}
        fd, size = opened
        weakref.finalize(self, os.close, fd)
        self._fd = fd
        start = len(self.header(0, 0))
        try:
            header = os.pread(fd, start, 0)
            index_at = int(header[-17:-1])
            tail = os.pread(fd, max(size - start - index_at, 0), start + index_at)
        except (OSError, ValueError):
            return {}
        if header != self.header(zlib.crc32(tail), index_at):
            debug("cache %s: another version or damaged; not used", self.path)
            return {}
        try:
            index = marshal.loads(tail)
            return {
                key: Kept(offset, length, crc)
                for key, (offset, length, crc) in index.items()
                if type(key) is str and 0 <= offset <= offset + length <= index_at
            }
        except (EOFError, ValueError, TypeError, AttributeError):
            return {}

    def _bytes(self, kept: Kept) -> bytes | None:
        start = len(self.header(0, 0))
        try:
            data = os.pread(self._fd, kept.length, start + kept.offset)
        except OSError:
            return None
        if len(data) != kept.length or zlib.crc32(data) != kept.crc:
            debug("cache %s: an entry is damaged; not used", self.path)
            return None
        return data

    def entry(self, key: str) -> bytes | None:
        """The entry kept under ``key`` (not yet checked but for its CRC: the caller decodes
        it)."""
        kept = self.found.get(key)
        return self._bytes(kept) if kept is not None and kept.length else None

    def carry(self, key: str) -> None:
        """Keep the entry found under ``key`` for the next run as it is."""
        kept = self.found.get(key)
        if kept is not None:
            self.used[key] = kept if kept.length else SEEN

    def offer(self, key: str, payload: Callable[[], bytes]) -> None:
        """Keep ``payload()`` under ``key`` when a run before this one offered it too (else
        note the key only, and make no payload)."""
        self.used[key] = payload() if key in self.found else SEEN
        self.added = True

    def replace(self, key: str, payload: bytes) -> None:
        """Keep ``payload`` under ``key`` whatever was there (unless the same is)."""
        kept = self.found.get(key)
        if kept is not None and (kept.length, kept.crc) == (len(payload), zlib.crc32(payload)):
            self.used[key] = kept
            return
        self.used[key] = payload
        self.added = True

    def save(self) -> None:
        """Write the entries this run kept, when they differ from those found (owner-only,
        atomically); a cache that cannot be written is no error."""
        if not self.read or (not self.added and self.used.keys() == self.found.keys()):
            return
        with contextlib.suppress(OSError):
            if not private_dir(self.directory):  # start-up time: pathlib, on a first run only
                make_private_dirs(self.directory)
                if not private_dir(self.directory):
                    return
            # a name of its own, made without tempfile (whose import validate's start-up
            # would pay: test_cli_imports), exclusive so that nothing planted is written through
            tmp = os.path.join(self.directory, f".{os.getpid()}.{os.urandom(6).hex()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
            try:
                with os.fdopen(fd, "wb") as handle:
                    os.fchmod(handle.fileno(), PRIVATE_FILE)
                    self._write(handle)
                os.replace(tmp, self.path)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self._prune()

    def _write(self, handle: BinaryIO) -> None:
        handle.write(self.header(0, 0))  # for the real one, once the rest is known
        index: dict[str, tuple[int, int, int]] = {}
        offset = 0
        for key, entry in self.used.items():
            if entry is SEEN:
                index[key] = (offset, 0, 0)
                continue
            data = self._bytes(entry) if isinstance(entry, Kept) else entry
            if data is None:
                continue  # damaged since it was read: left out
            handle.write(data)
            index[key] = (offset, len(data), zlib.crc32(data))
            offset += len(data)
        tail = marshal.dumps(index, MARSHAL)
        handle.write(tail)
        handle.seek(0)
        handle.write(self.header(zlib.crc32(tail), offset))

    def _prune(self) -> None:
        packs = sorted(
            (entry.stat(follow_symlinks=False).st_mtime, entry.path)
            for entry in os.scandir(self.directory)
            if entry.name.endswith(".pack")
        )
        for _, path in packs[:-MAX_PACKS]:
            with contextlib.suppress(OSError):
                os.unlink(path)
