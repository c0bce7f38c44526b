"""YAML files -> documents whose every mapping and sequence knows its file:line:col.

Simple YAML (most files) is read by ``simpleyaml``, without PyYAML; anything else is composed by
libyaml (``composed``) and built by ``yamltree``, whose construction is ours so that we can
record marks, reject duplicate keys and refuse alias expansion bombs, which PyYAML silently
accepts. Nothing here knows the llmform format beyond ``apiVersion``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from ..errors import Diagnostic, Location, error, has_errors
from ..files import read_at_most
from .api import API_VERSION, API_VERSION_KEY, may_be_llmform
from .discovery import discover
from .documents import Document, LoadResult
from .marked import MAX_DEPTH, TOO_DEEP, MarkedDict, MarkedList
from .secret_shapes import source_may_hold_key
from .simpleyaml import read_simple

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Protocol


__all__ = [
    "API_VERSION",
    "MAX_DEPTH",
    "TOO_DEEP",
    "Document",
    "LoadResult",
    "MarkedDict",
    "MarkedList",
    "discover",
    "load_paths",
    "load_text",
]


def load_text(
    file: str, text: str, *, explicit: bool = True, unparsable_is_foreign: bool = False
) -> LoadResult:
    """Parse one file's text into llmform documents.

    ``explicit`` is whether the user named the file: only then is a YAML document that is not
    llmform's (see ``identify``) an error rather than a document to pass over. A document that
    is almost llmform's is an error either way. ``unparsable_is_foreign`` passes over a file
    that is not even YAML, instead of reporting why (for files that do not mention llmform).
    """
    simple = read_simple(text)
    if simple is not None and all(
        data.get(API_VERSION_KEY) == API_VERSION and "policies" not in data for data in simple
    ):
        # the common case, read without composing nodes: llmform documents (without policies,
        # whose rules are located in the text by their nodes) in simple YAML
        keyless = not source_may_hold_key(text)
        return LoadResult([Document(file, data, keyless=keyless) for data in simple], [])
    from .composed import load_composed  # start-up time: PyYAML, only for what is not simple

    return load_composed(file, text, explicit=explicit, unparsable_is_foreign=unparsable_is_foreign)


# Whether a file that may not be ours is: a YAML error in it is reported only when it is.
# Case-insensitive, so that a file with a misspelt apiVersion such as "LLMform/v1" is reported.
_MENTIONS_LLMFORM = re.compile(rb"(?i)llmform")

# The most llmform reads of one file: far beyond any desired state (10,000 configs take about
# 3 MiB), and a bound on what a wrong path (/dev/zero, a log, a disk image) can cost.
MAX_FILE_BYTES = 16 * 1024 * 1024

# (real path, named explicitly, ignore_foreign) -> what loading it found
LoadCache = dict[tuple[str, bool, bool], LoadResult]


if TYPE_CHECKING:

    class ParsedFiles(Protocol):
        """Loads a file's bytes as ``load_bytes`` does, reusing what an earlier run found for
        the same bytes (``parsed_cache.ParsedCache``)."""

        def load(
            self, file: str, raw: bytes, *, explicit: bool, ignore_foreign: bool
        ) -> LoadResult: ...


def load_paths(
    paths: Iterable[str],
    *,
    ignore_foreign: bool = False,
    cache: LoadCache | None = None,
    parsed: ParsedFiles | None = None,
) -> LoadResult:
    """Load every llmform document under ``paths`` (files and directories).

    Finding none in a folder given is an error, even when other paths hold some: an empty
    desired state would plan the deletion of everything, and a wrong folder among several the
    deletion of what the right one declares. (A file given that holds none is an error anyway.)

    ``ignore_foreign`` treats named files like scanned ones (a document that is not llmform's
    is passed over) and skips, unparsed, any file that cannot hold an llmform document (see
    ``identify.may_be_llmform``): what a pre-commit hook wants, since it is handed every staged
    YAML file, including Kubernetes manifests and Helm templates that are not even valid YAML.
    Finding no llmform document is then no error either. ``cache`` lets a caller that loads
    overlapping sets of files read and parse each once; ``parsed`` reuses what earlier runs
    found in files whose bytes have not changed since.
    """
    paths = list(paths)
    discovered = discover(paths)
    diagnostics = list(discovered.diagnostics)
    documents: list[Document] = []
    found: set[str] = set()  # real paths of the files with a document or an error
    for file, named in discovered.files:
        explicit = named and not ignore_foreign
        real = os.path.realpath(file)
        result = load_cached(
            file, real, explicit=explicit, ignore_foreign=ignore_foreign, cache=cache, parsed=parsed
        )
        documents.extend(result.documents)
        diagnostics.extend(result.diagnostics)
        if result.documents or has_errors(result.diagnostics):
            found.add(real)
    if not ignore_foreign:
        empty = {
            folder: len(reals)
            for folder, reals in discovered.folders.items()
            if found.isdisjoint(reals)
        }
        if empty or not paths:
            diagnostics.extend(_nothing_found(empty))
    return LoadResult(documents, diagnostics)


def load_cached(
    file: str,
    real: str,
    *,
    explicit: bool,
    ignore_foreign: bool,
    cache: LoadCache | None,
    parsed: ParsedFiles | None = None,
) -> LoadResult:
    """``load_file``, its result kept in ``cache`` under ``real`` (the file's real path)."""
    key = (real, explicit, ignore_foreign)
    result = cache.get(key) if cache is not None else None
    if result is None:
        result = load_file(file, explicit=explicit, ignore_foreign=ignore_foreign, parsed=parsed)
        if cache is not None:
            cache[key] = result
    return result


def load_file(
    file: str, *, explicit: bool, ignore_foreign: bool = False, parsed: ParsedFiles | None = None
) -> LoadResult:
    """The llmform documents of one file (see ``load_paths`` and ``load_text``)."""
    raw, problem = _read(file)
    if problem is not None:
        return LoadResult([], [problem])
    assert raw is not None
    if parsed is not None:
        return parsed.load(file, raw, explicit=explicit, ignore_foreign=ignore_foreign)
    return load_bytes(file, raw, explicit=explicit, ignore_foreign=ignore_foreign)


def load_bytes(
    file: str, raw: bytes, *, explicit: bool, ignore_foreign: bool = False
) -> LoadResult:
    """``load_file`` of ``raw``, the contents of ``file`` (as another version has them)."""
    if ignore_foreign and not may_be_llmform(raw):
        return LoadResult([], [])
    # a file that does not mention llmform, handed over by pre-commit, is another tool's when
    # it is not YAML (a Helm template): only an llmform-shaped document in it is ours
    foreign_if_unparsable = ignore_foreign and _MENTIONS_LLMFORM.search(raw) is None
    text, problem = decode(file, raw)
    if problem is not None:
        return LoadResult([], [] if foreign_if_unparsable else [problem])
    assert text is not None
    return load_text(file, text, explicit=explicit, unparsable_is_foreign=foreign_if_unparsable)


def decode(file: str, raw: bytes) -> tuple[str | None, Diagnostic | None]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = raw[exc.start]
        return None, error(
            Location(file, line, column), "", f"not UTF-8 text (byte 0x{byte:02x}); save as UTF-8"
        )
    return text, None


def _read(file: str) -> tuple[bytes | None, Diagnostic | None]:
    try:
        raw = read_at_most(file, MAX_FILE_BYTES)
    except OSError as exc:
        return None, error(Location(file), "", f"cannot read file: {exc.strerror}")
    if raw is None:
        return None, error(
            Location(file),
            "",
            f"larger than {MAX_FILE_BYTES // 2**20} MiB, the most llmform reads from one file; "
            "check that this is the file you meant, or split the state over several files",
        )
    return raw, None


def _nothing_found(folders: Mapping[str, int]) -> list[Diagnostic]:
    """The errors for folders given that hold no llmform document (folder -> how many YAML
    files were scanned in it); none given at all is a library caller's slip."""
    fix = (
        f"name the folder that holds your llmform files, or add 'apiVersion: {API_VERSION}' "
        "at the top of each"
    )
    found: list[Diagnostic] = []
    for folder, count in folders.items():
        scanned = (
            f"{count} YAML file(s) scanned, none starting with 'apiVersion: {API_VERSION}'"
            if count
            else "no *.yaml or *.yml file in it"
        )
        found.append(error(Location(folder), "", f"no llmform document here ({scanned}); {fix}"))
    if not found:
        found.append(error(Location("."), "", f"no llmform document: no paths given; {fix}"))
    return found
