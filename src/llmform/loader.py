"""YAML files -> documents whose every mapping and sequence knows its file:line:col.

Parsing is done by libyaml (``CSafeLoader``'s composer) where present; construction is ours so
that we can record marks, reject duplicate keys and refuse alias expansion bombs, which PyYAML
silently accepts. Nothing here knows the llmform format beyond ``apiVersion``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Diagnostic, Location, error
from .yamltree import (
    COMPOSE_SAFE_DEPTH,
    MAX_DEPTH,
    AliasBomb,
    Constructor,
    MarkedDict,
    MarkedList,
    TooDeep,
)

__all__ = [
    "API_VERSION",
    "MAX_DEPTH",
    "TOO_DEEP",
    "Document",
    "LoadResult",
    "MarkedDict",
    "MarkedList",
    "load_paths",
    "load_text",
]

API_VERSION = "llmform/v1"
YAML_SUFFIXES = (".yaml", ".yml")

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where it is built


@dataclass(frozen=True)
class Document:
    """One llmform document: the top-level mapping of a YAML document with apiVersion set."""

    file: str
    data: MarkedDict

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
    documents: list[Document]
    diagnostics: list[Diagnostic]


def _yaml_error_location(file: str, exc: yaml.YAMLError) -> Location:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return Location(file)
    return Location(file, mark.line + 1, mark.column + 1)


def _yaml_error_message(exc: yaml.YAMLError) -> str:
    if not isinstance(exc, yaml.MarkedYAMLError):
        return f"invalid YAML: {exc}"
    problem = exc.problem or "syntax error"
    if "tab" in problem:  # the scanner's context ("while scanning a plain scalar") only confuses
        return f"invalid YAML: {problem}; indent with spaces, YAML does not allow tabs there"
    context, start, end = exc.context, exc.context_mark, exc.problem_mark
    if context and start is not None and end is not None and start.line != end.line:
        # the problem is found where parsing stopped; say where the construct began
        problem += f" {context} (which starts at line {start.line + 1}, column {start.column + 1})"
    elif context:
        problem += f" {context}"
    return f"invalid YAML: {problem}"


def _decode(file: str, raw: bytes) -> tuple[str | None, Diagnostic | None]:
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


TOO_DEEP = (
    f"YAML nested more than {MAX_DEPTH} levels deep; llmform documents need only a few levels, "
    "so flatten this structure"
)


def _too_deep(text: str) -> tuple[int, int] | None:
    """The line and column where ``text`` nests deeper than MAX_DEPTH, if it does."""
    # Flow collections nest one level per bracket, block ones at most two levels per column:
    # a cheap bound that ordinary files stay far below, so they are parsed only once.
    widest = max(map(len, text.split("\n")))
    if text.count("[") + text.count("{") + 2 * widest + 2 <= COMPOSE_SAFE_DEPTH:
        return None
    try:
        return _first_too_deep(text, _Loader)
    except yaml.YAMLError as exc:
        if not _is_nesting_limit(exc):
            return None  # reported by the composer, which stops at the same place
        # libyaml (0.2.5 as PyYAML 6.0.4 bundles it) stops at its own limit while scanning
        # ahead, before it hands out the events that would show where MAX_DEPTH is passed;
        # the pure-Python parser scans ahead less, so it can say where
        try:
            found = _first_too_deep(text, yaml.SafeLoader)
        except yaml.YAMLError:
            found = None
        where = _yaml_error_location("", exc)
        return found or (where.line, where.column)


def _first_too_deep(text: str, loader: Any) -> tuple[int, int] | None:
    depth = 0
    for event in yaml.parse(text, Loader=loader):  # an event stream: no recursion
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            mark = event.start_mark
            if depth > MAX_DEPTH and mark is not None:
                return mark.line + 1, mark.column + 1
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
    return None


def _is_nesting_limit(exc: yaml.YAMLError) -> bool:
    """libyaml's own depth limit (newer builds): the same problem as TOO_DEEP."""
    return "nesting depth" in str(getattr(exc, "problem", "") or "")


def _declares_api_version(node: Node) -> bool:
    return isinstance(node, MappingNode) and any(
        isinstance(key, ScalarNode) and key.value == "apiVersion" for key, _ in node.value
    )


def _not_llmform(node: Node) -> str:
    fix = f"'apiVersion: {API_VERSION}'"
    if isinstance(node, MappingNode):
        return f"not an llmform document: add {fix} at the top"
    kind = "a list" if isinstance(node, SequenceNode) else "a single value"
    return (
        f"not an llmform document: its top level is {kind}; write a mapping that starts with {fix}"
    )


def load_text(file: str, text: str, *, explicit: bool = True) -> LoadResult:
    """Parse one file's text into llmform documents.

    ``explicit`` is whether the user named the file: only then is a YAML document that is not
    llmform's (no ``apiVersion``) an error rather than a file to pass over.
    """
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    deep = _too_deep(text)
    if deep is not None:
        return LoadResult([], [error(Location(file, *deep), "", TOO_DEEP)])
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        where = _yaml_error_location(file, exc)
        message = TOO_DEEP if _is_nesting_limit(exc) else _yaml_error_message(exc)
        return LoadResult([], [error(where, "", message)])
    except RecursionError:  # the pure-Python composer, where libyaml is not built
        return LoadResult([], [error(Location(file), "", TOO_DEEP)])
    found_any = False
    for node in nodes:
        if node is None:
            continue
        found_any = True
        if not _declares_api_version(node):
            # not llmform's: passed over unbuilt when scanned, whatever YAML features it uses
            if explicit:
                where = Location(file, node.start_mark.line + 1, node.start_mark.column + 1)
                diagnostics.append(error(where, "", _not_llmform(node)))
            continue
        constructor = Constructor(file)
        try:
            data = constructor.build(node)
        except AliasBomb as bomb:
            diagnostics.append(
                error(
                    bomb.args[0],
                    "",
                    "YAML aliases expand this document far beyond its written size; "
                    "llmform refuses it (a 'billion laughs' file?); write the values out",
                )
            )
            continue
        except TooDeep as too_deep:
            diagnostics.append(error(too_deep.args[0], "", TOO_DEEP))
            continue
        version = data["apiVersion"]
        if not explicit and not str(version).lower().startswith("llmform/"):
            continue  # another tool's document (a Kubernetes manifest) in a scanned folder
        if version != API_VERSION:
            line, column = data.marks["apiVersion"][2:]
            diagnostics.append(
                error(
                    Location(file, line, column),
                    "apiVersion",
                    f"unsupported apiVersion {version!r}; this llmform reads {API_VERSION!r}",
                )
            )
            continue
        diagnostics.extend(constructor.finish(data))
        documents.append(Document(file, data))
    if not found_any and explicit:
        diagnostics.append(
            error(Location(file), "", f"file is empty; start it with 'apiVersion: {API_VERSION}'")
        )
    return LoadResult(documents, diagnostics)


def discover(paths: Iterable[str]) -> tuple[list[tuple[str, bool]], list[Diagnostic]]:
    """Expand command-line paths into (file, named explicitly) pairs, in a stable order."""
    files: list[tuple[str, bool]] = []
    diagnostics: list[Diagnostic] = []
    # by real path, so that "a.yaml ./a.yaml" or "dir dir/a.yaml" read a file once instead of
    # reporting everything in it as duplicated by itself
    seen: set[str] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(_scan(path))
            for file in found:
                if (real := os.path.realpath(file)) not in seen:
                    seen.add(real)
                    files.append((file, False))
        elif os.path.lexists(given):  # a symlink loop too: reading it reports the real cause
            if (real := os.path.realpath(given)) not in seen:
                seen.add(real)
                files.append((given, True))
        else:
            diagnostics.append(error(Location(given), "", "no such file or directory"))
    return files, diagnostics


def _scan(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith(YAML_SUFFIXES) and not name.startswith("."):
                path = os.path.join(dirpath, name)
                if not _special(path):
                    yield path


def _special(path: str) -> bool:
    """A FIFO, socket or device: reading one found by a scan could block forever. (Named
    explicitly it is read, as cat would: ``llmform validate <(generate)`` is a FIFO.)"""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # a dangling link: reading it reports why


# Case-insensitive, so that a misspelt apiVersion such as "LLMform/v1" is still reported.
_MENTIONS_LLMFORM = re.compile(rb"(?i)llmform")


def load_paths(paths: Iterable[str], *, ignore_foreign: bool = False) -> LoadResult:
    """Load every llmform document under ``paths`` (files and directories).

    ``ignore_foreign`` treats named files like scanned ones (a document without ``apiVersion``
    is passed over) and skips, unparsed, any file that does not mention llmform at all: what a
    pre-commit hook wants, since it is handed every staged YAML file, including Kubernetes
    manifests and Helm templates that are not even valid YAML.
    """
    files, diagnostics = discover(paths)
    documents: list[Document] = []
    for file, named in files:
        try:
            raw = Path(file).read_bytes()
        except OSError as exc:
            diagnostics.append(error(Location(file), "", f"cannot read file: {exc.strerror}"))
            continue
        explicit = named and not ignore_foreign
        if ignore_foreign and _MENTIONS_LLMFORM.search(raw) is None:
            continue
        text, problem = _decode(file, raw)
        if problem is not None:
            diagnostics.append(problem)
            continue
        assert text is not None
        result = load_text(file, text, explicit=explicit)
        documents.extend(result.documents)
        diagnostics.extend(result.diagnostics)
    return LoadResult(documents, diagnostics)
