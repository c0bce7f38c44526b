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
(``files.cache_dir``), in ``parsed/``: one pack file per set of paths a command is given
(``packs``), holding the entries that run used; read only by a run that has a file to load
(``built_load`` takes the unchanged files' builds from ``built_cache`` instead).
``LLMFORM_NO_CACHE=1`` turns both off.

Why it is safe: nothing is executed (marshal of tuples, lists and scalars, checked shape by
shape as it is read: never pickle); the folder is 0700 and the packs 0600, written to a
temporary file and renamed; a folder or pack that is not the user's own or that others can
write is neither read nor written; a pack of another version or format, with another checksum
of its content (truncated, corrupt) or an entry whose content hash differs from its key is
passed over and the file parsed afresh. Nothing here is ever an error: at worst the run parses
everything, as with no cache. Deleting the folder at any time is fine.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import marshal
import os
from collections.abc import Iterable
from dataclasses import replace
from functools import cache

from ..files import cache_dir
from ..version import __version__
from . import schema
from .loader import Document, LoadResult, load_bytes
from .marked import MarkedDict, MarkedList
from .packs import MARSHAL, Pack, code_tag, debug, module_files, sha256
from .schema import passes_fast_check
from .text_secrets import keys_in_text

TYPE_CHECKING = False  # not typing's: its import is 2 ms of every validate
if TYPE_CHECKING:
    from typing import Any

NO_CACHE_ENV = "LLMFORM_NO_CACHE"
FORMAT = b"llmform-parsed/1"

_DICT, _LIST = 0, 1
_SCALARS = (str, int, float, bool, type(None))
_PLAIN = frozenset(_SCALARS)


def cache_disabled() -> bool:
    return os.environ.get(NO_CACHE_ENV, "") not in ("", "0")


# The modules whose code decides a file's result (everything ``parsed_cache`` imports, at once
# or when needed: ``test_cache_tags``): a change to one (a development install, whose version
# does not move) is another cache, as a new version is. Named, not imported: a simple file is
# loaded without the composing ones (and PyYAML).
RULES = (
    "desired.api",
    "desired.composed",
    "desired.discovery",
    "desired.documents",
    "desired.identify",
    "desired.loader",
    "desired.marked",
    "desired.packs",
    "desired.parsed_cache",
    "desired.scalar_source",
    "desired.schema",
    "desired.schema_walk",
    "desired.secret_shapes",
    "desired.simpleyaml",
    "desired.text_secrets",
    "desired.yamltext",
    "desired.yamltree",
    "errors",
    "files",
    "version",
)


@cache
def _tag() -> bytes:
    """What changes a file's result besides its bytes and how it was named."""
    parts = [FORMAT.decode(), __version__, str(_libyaml_installed())]
    parts.append(sha256(schema.schema_text().encode()).hexdigest())
    return code_tag(parts, module_files(RULES))


def _libyaml_installed() -> bool:
    """Whether PyYAML's libyaml extension is installed, which ``composed`` then uses (a file
    composed by PyYAML's pure-Python parser is another entry), known without importing PyYAML."""
    spec = importlib.util.find_spec("yaml")
    folders = (spec.submodule_search_locations or []) if spec is not None else []
    return any(
        os.path.exists(os.path.join(folder, "_yaml" + suffix))
        for folder in folders
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
    )


class ParsedCache(Pack):
    """One run's use of the pack for its paths: ``load`` (``loader.ParsedFiles``), ``save``.

    A file's documents are kept when a second run in a row finds its bytes unchanged (and
    clean): the first only notes its key (``Pack.offer``). A run on a fresh machine (CI, a
    pre-commit hook's first run) then pays nothing for a cache it will never read, and a file
    being edited is not encoded on every save; a plan after one file changed parses that file,
    then once more. Each entry is the marshal of (key, trees), encoded when parsed so that a
    run holds one file's trees at a time."""

    def __init__(self, directory: str, name: str) -> None:
        super().__init__(directory, name, _tag())

    @classmethod
    def for_paths(
        cls, paths: Iterable[str], *, ignore_foreign: bool, directory: str | None = None
    ) -> ParsedCache | None:
        """The cache for a command given ``paths``; None when turned off."""
        if cache_disabled():
            return None
        return cls(
            directory or os.path.join(cache_dir(), "parsed"), pack_name(paths, ignore_foreign)
        )

    def key(self, raw: bytes, *, explicit: bool, ignore_foreign: bool) -> str:
        """What a file's entry is kept under: its bytes, how it was named, ``_tag``."""
        digest = sha256(_tag())
        digest.update(b"explicit" if explicit else b"scanned")
        digest.update(b"|ignore_foreign\0" if ignore_foreign else b"|\0")
        digest.update(raw)
        key: str = digest.hexdigest()
        return key

    def load(
        self, file: str, raw: bytes, *, explicit: bool, ignore_foreign: bool, key: str = ""
    ) -> LoadResult:
        """``load_bytes``, from the cache when the same bytes loaded cleanly before."""
        key = key or self.key(raw, explicit=explicit, ignore_foreign=ignore_foreign)
        entry = self.entry(key)
        if entry is not None:
            documents = _decoded(file, key, entry)
            if documents is not None:
                self.carry(key)
                return LoadResult(documents, [])
        result = load_bytes(file, raw, explicit=explicit, ignore_foreign=ignore_foreign)
        if result.diagnostics or any(document.sources for document in result.documents):
            return result
        if not all(_clean(document) for document in result.documents):
            return result
        checked = [replace(document, checked=True) for document in result.documents]
        self.offer(key, lambda: _encoded(key, checked))
        return LoadResult(checked, [])


def pack_name(paths: Iterable[str], ignore_foreign: bool) -> str:
    """The name of the pack of a command given ``paths``: one per set of paths."""
    given = "\0".join(os.path.realpath(path) for path in paths)
    named = f"{ignore_foreign}\0{given}".encode("utf-8", "surrogateescape")  # any file name
    name: str = sha256(named).hexdigest()[:32]
    return name


def _encoded(key: str, documents: list[Document]) -> bytes:
    return marshal.dumps((key, [_encode(document.data) for document in documents]), MARSHAL)


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


def _decoded(file: str, key: str, entry: bytes) -> list[Document] | None:
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
        debug("parsed-file cache: an entry for %s is damaged; parsed afresh", file)
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
