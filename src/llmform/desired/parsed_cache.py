"""What earlier runs found in files whose bytes have not changed: the persistent cache of parsed
and checked files, so that a plan after one file changed parses that file alone.

What is kept: for each file that loaded with no problem at all (no YAML error, no schema error,
no key pasted into a plain-text field), its documents as trees of plain values with their
line:col marks, under the sha256 of the file's bytes, of how it was named (explicitly or found
in a folder, ``ignore_foreign``) and of what could change the result (llmform's version, the
schema, this format, the modules that decide it, whether libyaml parsed it), from the second
run in a row that finds the file unchanged (see ``ParsedCache``). A file with any problem is
parsed every time,
so its problems are reported as today and a key pasted into it never reaches the cache; nor is
a file with policies (their rules' source positions are not kept). The checks across files
(references, duplicates, provider rules) run on every run, on the cached documents too.

Where: ``$LLMFORM_CACHE_DIR``, else ``$XDG_CACHE_HOME/llmform``, else ``~/.cache/llmform``
(``files.cache_dir``), in ``parsed/``: one pack file per set of paths a command is given,
holding the entries that run used. ``LLMFORM_NO_CACHE=1`` turns it off.

Why it is safe: nothing is executed (marshal of tuples, lists and scalars, checked shape by
shape as it is read: never pickle); the folder is 0700 and the packs 0600, written to a
temporary file and renamed; a folder or pack that is not the user's own or that others can
write is neither read nor written; a pack of another version or format, with another checksum
of its content (truncated, corrupt) or an entry whose content hash differs from its key is
passed over and the file parsed afresh. Nothing here is ever an error: at worst the run parses
everything, as with no cache. Deleting the folder at any time is fine.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import marshal
import os
import stat
import zlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from ..files import PRIVATE_FILE, cache_dir, make_private_dirs, read_own_file
from ..version import __version__
from . import identify, loader, schema, secret_shapes, text_secrets, yamltext, yamltree
from .loader import _LIBYAML, Document, LoadResult, _Loader, load_bytes
from .schema import passes_fast_check
from .text_secrets import keys_in_text
from .yamltree import MarkedDict, MarkedList

log = logging.getLogger(__name__)

NO_CACHE_ENV = "LLMFORM_NO_CACHE"
FORMAT = b"llmform-parsed/1"
MAX_PACK_BYTES = 1 << 30  # far beyond 100,000 configs; a bigger file is not a pack we wrote
MAX_PACKS = 32  # packs kept (the most recently written): one per set of paths a command is given

_DICT, _LIST = 0, 1
_SCALARS = (str, int, float, bool, type(None))
_PLAIN = frozenset(_SCALARS)
_MARSHAL = 2  # no back-references: a fifth bigger than the default, half the time to write


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


def cache_disabled() -> bool:
    return os.environ.get(NO_CACHE_ENV, "") not in ("", "0")


# The modules whose code decides a file's result: a change to one (a development install, whose
# version does not move) is another cache, as a new version is.
_RULES = (loader, yamltree, yamltext, identify, schema, secret_shapes, text_secrets)


@cache
def _tag() -> bytes:
    """What changes a file's result besides its bytes and how it was named."""
    parts = [FORMAT.decode(), __version__, str(_Loader is _LIBYAML)]
    parts.append(sha256(schema.schema_text().encode()).hexdigest())
    for source in (*(module.__file__ for module in _RULES), __file__):
        with contextlib.suppress(OSError, TypeError):
            info = os.stat(source or "")
            parts.append(f"{info.st_size}:{info.st_mtime_ns}")
    tag: str = sha256("|".join(parts).encode()).hexdigest()
    return tag.encode()


def _header(checksum: int, index_at: int) -> bytes:
    """A pack's first line: the tag, the CRC-32 of the rest (a damaged or truncated pack; the
    keys are SHA-256), where the index starts in it."""
    return b"%s|%08x|%016d\n" % (_tag(), checksum, index_at)


def _private_dir(directory: Path) -> bool:
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


# an entry kept from the pack read (its bytes there), the documents parsed this run, or SEEN
Entry = memoryview | list[Document] | None
SEEN = None  # a file found clean once: kept when the next run finds it unchanged


class ParsedCache:
    """One run's use of the pack for its paths: ``load`` (``loader.ParsedFiles``), ``save``.

    A file's documents are kept when a second run in a row finds its bytes unchanged (and
    clean): the first only notes its key. A run on a fresh machine (CI, a pre-commit hook's
    first run) then pays nothing for a cache it will never read, and a file being edited is
    not encoded on every save; a plan after one file changed parses that file, then once more.

    A pack is a header line (``_header``), the entries (each the marshal of (key, trees)), and
    an index, the marshal of {key: (offset, length)} (length 0: seen, not kept). Entries are
    read in place (memoryviews of the file's bytes) and written one at a time, so that a large
    state costs the pack's size once, not thrice."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.path = directory / f"{name}.pack"
        self.found: dict[str, memoryview | None] = self._read()  # None: SEEN
        self.used: dict[str, Entry] = {}  # what this run found or parsed, for the next run
        self.added = False
        self.parsed = 0  # files parsed this run (not taken from the cache)

    @classmethod
    def for_paths(
        cls, paths: Iterable[str], *, ignore_foreign: bool, directory: Path | None = None
    ) -> ParsedCache | None:
        """The cache for a command given ``paths``; None when turned off."""
        if cache_disabled():
            return None
        given = "\0".join(os.path.realpath(path) for path in paths)
        named = f"{ignore_foreign}\0{given}".encode("utf-8", "surrogateescape")  # any file name
        name = sha256(named).hexdigest()[:32]
        return cls(directory or cache_dir() / "parsed", name)

    def _read(self) -> dict[str, memoryview | None]:
        if not _private_dir(self.directory):
            return {}
        raw = read_own_file(self.path, MAX_PACK_BYTES)
        if raw is None:
            return {}
        start = len(_header(0, 0))
        header, body = raw[:start], memoryview(raw)[start:]
        try:
            index_at = int(header[-17:-1])
        except ValueError:
            return {}
        if header != _header(zlib.crc32(body), index_at):
            log.debug("parsed-file cache %s: another version or damaged; not used", self.path)
            return {}
        try:
            index = marshal.loads(body[index_at:])
            return {
                key: body[offset : offset + length] if length else SEEN
                for key, (offset, length) in index.items()
                if type(key) is str and 0 <= offset <= offset + length <= index_at
            }
        except (EOFError, ValueError, TypeError, AttributeError):
            return {}

    def load(self, file: str, raw: bytes, *, explicit: bool, ignore_foreign: bool) -> LoadResult:
        """``load_bytes``, from the cache when the same bytes loaded cleanly before."""
        digest = sha256(_tag())
        digest.update(b"explicit" if explicit else b"scanned")
        digest.update(b"|ignore_foreign\0" if ignore_foreign else b"|\0")
        digest.update(raw)
        key = digest.hexdigest()
        entry = self.found.get(key)
        if entry is not None:
            documents = _decoded(file, key, entry)
            if documents is not None:
                self.used[key] = entry
                return LoadResult(documents, [])
        seen = key in self.found
        self.parsed += 1
        result = load_bytes(file, raw, explicit=explicit, ignore_foreign=ignore_foreign)
        if result.diagnostics or any(document.sources for document in result.documents):
            return result
        if not all(_clean(document) for document in result.documents):
            return result
        checked = [replace(document, checked=True) for document in result.documents]
        self.used[key] = checked if seen else SEEN
        self.added = True
        return LoadResult(checked, [])

    def save(self) -> None:
        """Write the entries this run used, when it parsed something new (owner-only,
        atomically); a cache that cannot be written is no error."""
        if not self.added and self.used.keys() == self.found.keys():
            return
        with contextlib.suppress(OSError):
            make_private_dirs(self.directory)
            if not _private_dir(self.directory):
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
        handle.write(_header(0, 0))  # for the real one, once the rest is known
        checksum = 0
        index: dict[str, tuple[int, int]] = {}
        offset = 0
        for key, entry in self.used.items():
            if entry is SEEN:
                index[key] = (offset, 0)
                continue
            if isinstance(entry, list):
                part: bytes | memoryview = marshal.dumps(
                    (key, [_encode(document.data) for document in entry]), _MARSHAL
                )
            else:
                part = entry
            handle.write(part)
            checksum = zlib.crc32(part, checksum)
            index[key] = (offset, len(part))
            offset += len(part)
        tail = marshal.dumps(index, _MARSHAL)
        handle.write(tail)
        checksum = zlib.crc32(tail, checksum)
        handle.seek(0)
        handle.write(_header(checksum, offset))

    def _prune(self) -> None:
        packs = sorted(
            (entry.stat(follow_symlinks=False).st_mtime, entry.path)
            for entry in os.scandir(self.directory)
            if entry.name.endswith(".pack")
        )
        for _, path in packs[:-MAX_PACKS]:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _clean(document: Document) -> bool:
    """Whether a freshly loaded document passes the checks of one document with no problem
    (the schema, keys pasted into text): then those need not run on it again."""
    return passes_fast_check(document.data) and next(keys_in_text(document), None) is None


def _encode(value: Any) -> Any:
    """A marked tree as tuples: (0, line, column, keys, marks, values) for a mapping, (1, line,
    column, marks, values) for a sequence; scalars as they are. (A mapping's marks are in the
    order of its keys: yamltree sets both together.)"""
    kind = type(value)
    if kind is MarkedDict:
        return (
            _DICT,
            value.line,
            value.column,
            tuple(value),
            tuple(value.marks.values()),
            [v if type(v) in _PLAIN else _encode(v) for v in value.values()],
        )
    if kind is MarkedList:
        return (
            _LIST,
            value.line,
            value.column,
            tuple(value.marks),
            [v if type(v) in _PLAIN else _encode(v) for v in value],
        )
    return value


def _decoded(file: str, key: str, entry: memoryview) -> list[Document] | None:
    """The documents of a cache entry, or None when it is not one this version wrote for
    ``key`` (the pack's checksum held, so only a forged entry can get here)."""
    try:
        stored_key, trees = marshal.loads(entry)
        if stored_key != key or type(trees) is not list:
            return None
        documents = []
        for tree in trees:
            data = _decode(tree)
            if not isinstance(data, MarkedDict):
                return None
            documents.append(Document(file, data, checked=True))
        return documents
    except Exception:  # whatever is wrong with an entry, the file is parsed afresh
        log.debug("parsed-file cache: an entry for %s is damaged; parsed afresh", file)
        return None


def _decode(value: Any) -> Any:
    if type(value) is not tuple:
        if not isinstance(value, _SCALARS):
            raise ValueError(type(value))
        return value
    if value[0] == _DICT:
        _, line, column, keys, marks, values = value
        out = MarkedDict(line, column)
        if len(keys) != len(values) or len(marks) != len(keys):
            raise ValueError("lengths")
        for key, mark in zip(keys, marks, strict=True):
            if type(key) is not str or type(mark) is not tuple or len(mark) != 4:
                raise ValueError("key")
        out.update(zip(keys, map(_decode, values), strict=True))
        out.marks = dict(zip(keys, marks, strict=True))
        return out
    _, line, column, marks, values = value
    items = MarkedList(line, column)
    if len(marks) != len(values):
        raise ValueError("lengths")
    items.extend(map(_decode, values))
    items.marks = list(marks)
    return items
