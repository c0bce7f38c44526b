"""YAML files -> documents whose every mapping and sequence knows its file:line:col.

Parsing is done by libyaml (``CSafeLoader``'s composer) where present; construction is ours so
that we can record marks, reject duplicate keys and refuse alias expansion bombs, which PyYAML
silently accepts. Nothing here knows the llmform format beyond ``apiVersion``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Diagnostic, Location, error

API_VERSION = "llmform/v1"
YAML_SUFFIXES = (".yaml", ".yml")

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where it is built

# An alias may expand a document to this many times its written size (plus a small allowance)
# before we refuse it: enough for any sane use of anchors and merge keys, far below a
# "billion laughs" file, and checked before anything walks the expanded tree.
ALIAS_EXPANSION_FACTOR = 10
ALIAS_EXPANSION_ALLOWANCE = 10_000

_scalars = yaml.constructor.SafeConstructor()
_TAG = "tag:yaml.org,2002:"


class MarkedDict(dict[str, Any]):
    """A mapping from YAML; ``marks[key]`` is (key line, key col, value line, value col)."""

    __slots__ = ("column", "line", "marks")

    def __init__(self, line: int, column: int) -> None:
        super().__init__()
        self.line = line
        self.column = column
        self.marks: dict[str, tuple[int, int, int, int]] = {}


class MarkedList(list[Any]):
    """A sequence from YAML; ``marks[i]`` is the (line, col) of item ``i``."""

    __slots__ = ("column", "line", "marks")

    def __init__(self, line: int, column: int) -> None:
        super().__init__()
        self.line = line
        self.column = column
        self.marks: list[tuple[int, int]] = []


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


class _AliasBomb(Exception):
    pass


class _Constructor:
    """Builds MarkedDict/MarkedList/scalars from composed nodes, one instance per document."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self.built: dict[int, tuple[Any, int]] = {}  # id(node) -> (object, expanded size)
        self.expanded = 0
        self.written = 0

    def build(self, node: Node) -> Any:
        value, _ = self._build(node)
        return value

    def _where(self, node: Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def _build(self, node: Node) -> tuple[Any, int]:
        seen = self.built.get(id(node))
        if seen is not None:  # an alias: the same node again
            self.expanded += seen[1]
            if self.expanded > ALIAS_EXPANSION_FACTOR * self.written + ALIAS_EXPANSION_ALLOWANCE:
                raise _AliasBomb(self._where(node))
            return seen
        self.written += 1
        if isinstance(node, ScalarNode):
            result: tuple[Any, int] = (self._scalar(node), 1)
        elif isinstance(node, SequenceNode):
            result = self._sequence(node)
        elif isinstance(node, MappingNode):
            result = self._mapping(node)
        else:  # pragma: no cover - composer yields only these three
            raise TypeError(type(node))
        self.expanded += 1
        self.built[id(node)] = result
        return result

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag == _TAG + "str":
            return node.value
        if tag == _TAG + "int":
            return _scalars.construct_yaml_int(node)
        if tag == _TAG + "float":
            return _scalars.construct_yaml_float(node)
        if tag == _TAG + "bool":
            return _scalars.construct_yaml_bool(node)
        if tag == _TAG + "null":
            return None
        if tag in (_TAG + "timestamp", _TAG + "binary"):
            return node.value  # kept as written: nothing in the format is a date or bytes
        self.diagnostics.append(
            error(self._where(node), "", f"unsupported YAML tag {tag!r}; remove the tag")
        )
        return node.value

    def _sequence(self, node: SequenceNode) -> tuple[MarkedList, int]:
        mark = node.start_mark
        out = MarkedList(mark.line + 1, mark.column + 1)
        size = 1
        for item in node.value:
            value, item_size = self._build(item)
            out.append(value)
            out.marks.append((item.start_mark.line + 1, item.start_mark.column + 1))
            size += item_size
        return out, size

    def _mapping(self, node: MappingNode) -> tuple[MarkedDict, int]:
        mark = node.start_mark
        out = MarkedDict(mark.line + 1, mark.column + 1)
        size = 1
        merged: list[MarkedDict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                size += self._merge_sources(value_node, merged)
                continue
            if not isinstance(key_node, ScalarNode):
                self.diagnostics.append(
                    error(self._where(key_node), "", "a mapping key must be a plain scalar")
                )
                continue
            key = str(self._scalar(key_node))
            value, value_size = self._build(value_node)
            size += value_size + 1
            if key in out.marks:
                first_line = out.marks[key][0]
                self.diagnostics.append(
                    error(
                        self._where(key_node),
                        "",
                        f"duplicate key {key!r} (first defined at line {first_line}); "
                        "remove one of them",
                    )
                )
                continue
            out[key] = value
            out.marks[key] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
                value_node.start_mark.line + 1,
                value_node.start_mark.column + 1,
            )
        for source in merged:  # explicit keys win over merged ones, earlier merges over later
            for key, value in source.items():
                if key not in out:
                    out[key] = value
                    out.marks[key] = source.marks[key]
        return out, size

    def _merge_sources(self, value_node: Node, merged: list[MarkedDict]) -> int:
        nodes = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        size = 0
        for source_node in nodes:
            source, source_size = self._build(source_node)
            size += source_size
            if isinstance(source, MarkedDict):
                merged.append(source)
            else:
                self.diagnostics.append(
                    error(self._where(source_node), "", "a merge key '<<' takes a mapping")
                )
        return size


def _yaml_error_location(file: str, exc: yaml.YAMLError) -> Location:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return Location(file)
    return Location(file, mark.line + 1, mark.column + 1)


def _yaml_error_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.context, exc.problem) if p]
        return "invalid YAML: " + ", ".join(parts)
    return f"invalid YAML: {exc}"


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


def load_text(file: str, text: str, *, explicit: bool = True) -> LoadResult:
    """Parse one file's text into llmform documents.

    ``explicit`` is whether the user named the file: only then is a YAML document that is not
    llmform's (no ``apiVersion``) an error rather than a file to pass over.
    """
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        where = _yaml_error_location(file, exc)
        return LoadResult([], [error(where, "", _yaml_error_message(exc))])
    except RecursionError:
        return LoadResult([], [error(Location(file), "", "YAML nesting is too deep")])
    found_any = False
    for node in nodes:
        if node is None:
            continue
        found_any = True
        constructor = _Constructor(file)
        try:
            data = constructor.build(node)
        except _AliasBomb as bomb:
            where = bomb.args[0]
            diagnostics.append(
                error(
                    where,
                    "",
                    "YAML aliases expand this document far beyond its written size; "
                    "llmform refuses it (a 'billion laughs' file?); write the values out",
                )
            )
            continue
        except RecursionError:
            diagnostics.append(error(Location(file), "", "YAML nesting is too deep"))
            continue
        diagnostics.extend(constructor.diagnostics)
        where = Location(file, node.start_mark.line + 1, node.start_mark.column + 1)
        version = data.get("apiVersion") if isinstance(data, MarkedDict) else None
        if version is None:
            if explicit:
                diagnostics.append(
                    error(
                        where,
                        "",
                        f"not an llmform document: add 'apiVersion: {API_VERSION}' at the top",
                    )
                )
            continue
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
        assert isinstance(data, MarkedDict)
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
        elif path.exists():
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
                yield os.path.join(dirpath, name)


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
