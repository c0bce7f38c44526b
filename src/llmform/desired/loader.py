"""YAML files -> documents whose every mapping and sequence knows its file:line:col.

Parsing is done by libyaml (``CSafeLoader``'s composer) where present; construction is ours so
that we can record marks, reject duplicate keys and refuse alias expansion bombs, which PyYAML
silently accepts. Nothing here knows the llmform format beyond ``apiVersion``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import Diagnostic, Location, error, has_errors
from ..files import read_at_most
from .discovery import discover
from .identify import API_VERSION, API_VERSION_KEY, Kind, identify, may_be_llmform
from .secret_shapes import source_may_hold_key
from .simpleyaml import read_simple
from .yamltext import bom_error, decode, remembering_tags, too_deep, yaml_error
from .yamltree import (
    LONE_SURROGATE,
    MAX_DEPTH,
    TOO_DEEP,
    Constructor,
    MarkedDict,
    MarkedList,
    Unbuildable,
    lone_surrogate,
)

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any, Protocol

    from .scalar_source import ScalarSource

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

_LIBYAML: Any = remembering_tags(yaml.CSafeLoader) if hasattr(yaml, "CSafeLoader") else None
_Loader: Any = _LIBYAML or yaml.SafeLoader  # libyaml where it is built
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class Document:
    """One llmform document: the top-level mapping of a YAML document with apiVersion set."""

    file: str
    data: MarkedDict
    # where policy rules are written, (section, index, field) -> source: to place a position
    # inside a rule (a CEL syntax error) in the file
    sources: Mapping[tuple[str | int, ...], ScalarSource] = field(default_factory=dict)
    # passed the schema and the pasted-key checks already, with no problem (see parsed_cache)
    checked: bool = False
    # its file's text holds nothing key-shaped (``source_may_hold_key``): no string to search
    keyless: bool = False

    def locate(self, path: Sequence[str | int], *, key: bool = False) -> Location:
        """The location of the node at ``path`` (of its key with ``key=True``), or the nearest
        ancestor that exists."""
        node: Any = self.data
        line, column = node.line, node.column
        for step in path:
            if isinstance(node, MarkedDict) and isinstance(step, str) and step in node.marks:
                kl, kc, vl, vc = node.marks[step]
                line, column = (kl, kc) if key else (vl, vc)
                node = node[step]
            elif isinstance(node, MarkedList) and isinstance(step, int) and step < len(node):
                line, column = node.marks[step]
                node = node[step]
            else:
                break
        return Location(self.file, line, column)


@dataclass(frozen=True)
class LoadResult:
    """What loading files found: their llmform documents and the problems in them."""

    documents: list[Document]
    diagnostics: list[Diagnostic]


def _not_llmform(node: Node) -> str:
    fix = f"'apiVersion: {API_VERSION}'"
    if _is_saved_plan(node):
        return (
            "a saved plan (llmform plan -o), not configuration: apply it alone, as in "
            "llmform apply FILE, or read it with llmform show FILE"
        )
    if isinstance(node, MappingNode):
        return f"not an llmform document: add {fix} at the top"
    kind = "a list" if isinstance(node, SequenceNode) else "a single value"
    return (
        f"not an llmform document: its top level is {kind}; write a mapping that starts with {fix}"
    )


def _is_saved_plan(node: Node) -> bool:
    """A plan file (JSON, so YAML too) named where configuration goes."""
    if not isinstance(node, MappingNode) or not node.value:
        return False
    key, value = node.value[0]
    return (
        isinstance(key, ScalarNode)
        and key.value == "format"
        and isinstance(value, ScalarNode)
        and value.value.startswith("llmform-plan/")
    )


def _is_empty(node: Node) -> bool:
    """An empty document: what a trailing '---' (or '--- ~', or '...') leaves."""
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


def _at(file: str, node: Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


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
    if (
        simple is not None
        and simple.get(API_VERSION_KEY) == API_VERSION
        and "policies" not in simple
    ):
        # the common case, read without composing nodes: one llmform document (no policies,
        # whose rules are located in the text by their nodes) in simple YAML
        return LoadResult([Document(file, simple, keyless=not source_may_hold_key(text))], [])
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    bom = text.find("\ufeff")  # one at the very start was removed when decoding
    deep = too_deep(text, _Loader)
    if deep is not None:
        if unparsable_is_foreign:
            return LoadResult([], [])
        return LoadResult([], [error(Location(file, *deep), "", TOO_DEEP)])
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        if unparsable_is_foreign:
            return LoadResult([], [])
        if bom >= 0:  # what the parser says about it ("did not find expected key") misleads
            return LoadResult([], [bom_error(file, text, bom)])
        deep = too_deep(text, _Loader, failed=True)
        if deep is not None:  # too deep before the syntax error: said as for valid YAML
            return LoadResult([], [error(Location(file, *deep), "", TOO_DEEP)])
        return LoadResult([], [yaml_error(file, text, exc)])
    except RecursionError:  # the pure-Python composer, where libyaml is not built
        if unparsable_is_foreign:
            return LoadResult([], [])
        deep = too_deep(text, _Loader, failed=True)
        at = Location(file) if deep is None else Location(file, *deep)
        return LoadResult([], [error(at, "", TOO_DEEP)])
    found_any = False
    keyless = not source_may_hold_key(text)
    lines: list[str] = []
    verdicts = []
    for node in nodes:
        if node is None or _is_empty(node):
            continue
        found_any = True
        verdicts.append((node, identify(node)))
    if bom >= 0 and any(verdict.kind is not Kind.FOREIGN for _, verdict in verdicts):
        return LoadResult([], [bom_error(file, text, bom)])
    for node, verdict in verdicts:
        if verdict.kind is Kind.FOREIGN:
            # passed over unbuilt when scanned, whatever YAML features it uses
            if explicit:
                where = verdict.node if verdict.node is not None else node
                message = verdict.message or _not_llmform(node)
                diagnostics.append(error(_at(file, where), verdict.path, message))
            continue
        if verdict.kind is Kind.NEAR_MISS:
            assert verdict.node is not None
            diagnostics.append(error(_at(file, verdict.node), verdict.path, verdict.message))
            continue
        if _Loader is not _LIBYAML and (surrogate := lone_surrogate(node)) is not None:
            diagnostics.append(error(_at(file, surrogate), "", LONE_SURROGATE))
            continue
        constructor = Constructor(file)
        try:
            data = constructor.build(node)
        except Unbuildable as problem:
            where, message = problem.args
            diagnostics.append(error(where, "", message))
            continue
        diagnostics.extend(constructor.finish(data))
        sources = {}
        if "policies" in data:  # only then is the text split into lines
            from .scalar_source import scalar_sources  # start-up time: for policies only

            lines = lines or text.split("\n")
            sources = scalar_sources(file, lines, node, "policies", "rule")
        documents.append(Document(file, data, sources, keyless=keyless))
    if not found_any and explicit:
        diagnostics.append(
            error(Location(file), "", f"file is empty; start it with 'apiVersion: {API_VERSION}'")
        )
    return LoadResult(documents, diagnostics)


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
