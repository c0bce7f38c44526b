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

API_VERSION = "llmform/v1"
YAML_SUFFIXES = (".yaml", ".yml")

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where it is built

# An alias may expand a document to this many times its written size (plus a small allowance)
# before we refuse it: enough for any sane use of anchors and merge keys, far below a
# "billion laughs" file, and checked before anything walks the expanded tree.
ALIAS_EXPANSION_FACTOR = 10
ALIAS_EXPANSION_ALLOWANCE = 10_000

# llmform documents are a few levels deep. Deeper YAML is refused with a located error before it
# can exhaust Python's recursion limit in construction or schema checks; and libyaml's composer,
# which recurses in C without any limit, is never handed text that might nest deeper than
# COMPOSE_SAFE_DEPTH without first counting its real depth (it crashes the process at ~20,000).
MAX_DEPTH = 100
COMPOSE_SAFE_DEPTH = 5_000

_scalars = yaml.constructor.SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_PLAIN_KEY_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null"))


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


class _TooDeep(Exception):
    pass


class _Constructor:
    """Builds MarkedDict/MarkedList/scalars from composed nodes, one instance per document."""

    def __init__(self, file: str) -> None:
        self.file = file
        # (where, message, the mapping it concerns (else found by location), key in it)
        self.problems: list[tuple[Location, str, MarkedDict | None, str | None]] = []
        self.built: dict[int, tuple[Any, int]] = {}  # id(node) -> (object, expanded size)
        self.expanded = 0
        self.written = 0
        self.depth = 0

    def build(self, node: Node) -> Any:
        value, _ = self._build(node)
        return value

    def finish(self, root: Any) -> list[Diagnostic]:
        """The problems met while building ``root``, each with the path of what it concerns."""
        if not self.problems:
            return []
        from .schema import format_path  # schema imports this module

        by_id, by_mark = _path_index(root)
        found: list[Diagnostic] = []
        for where, message, mapping, key in self.problems:
            if mapping is None:
                path = by_mark.get((where.line, where.column), ())
            else:
                path = by_id.get(id(mapping), ()) + ((key,) if key is not None else ())
            found.append(error(where, format_path(path), message))
        return found

    def _problem(
        self, node: Node, message: str, mapping: MarkedDict | None = None, key: str | None = None
    ) -> None:
        self.problems.append((self._where(node), message, mapping, key))

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
        self._unsupported_tag(node)
        return node.value

    def _enter(self, node: Node, plain_tag: str) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooDeep(self._where(node))
        if node.tag != plain_tag:
            self._unsupported_tag(node)

    def _unsupported_tag(self, node: Node) -> None:
        self._problem(node, f"unsupported YAML tag {node.tag!r}; remove the tag")

    def _sequence(self, node: SequenceNode) -> tuple[MarkedList, int]:
        self._enter(node, _TAG + "seq")
        mark = node.start_mark
        out = MarkedList(mark.line + 1, mark.column + 1)
        size = 1
        for item in node.value:
            value, item_size = self._build(item)
            out.append(value)
            out.marks.append((item.start_mark.line + 1, item.start_mark.column + 1))
            size += item_size
        self.depth -= 1
        return out, size

    def _mapping(self, node: MappingNode) -> tuple[MarkedDict, int]:
        self._enter(node, _TAG + "map")
        mark = node.start_mark
        out = MarkedDict(mark.line + 1, mark.column + 1)
        size = 1
        merged: list[MarkedDict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                size += self._merge_sources(key_node, value_node, merged, out)
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(key_node, "a mapping key must be a plain scalar", out)
                continue
            # a key is its text as written: YAML 1.1 would make label keys on/yes/null into
            # True/None, which str() turns into "True"/"None" without a word to the user
            plain = key_node.tag in _PLAIN_KEY_TAGS
            key = key_node.value if plain else str(self._scalar(key_node))
            value, value_size = self._build(value_node)
            size += value_size + 1
            if key in out.marks:
                first_line = out.marks[key][0]
                self._problem(
                    key_node,
                    f"duplicate key {key!r} (first defined at line {first_line}); "
                    "remove one of them",
                    out,
                    key,
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
        self.depth -= 1
        return out, size

    def _merge_sources(
        self, key_node: Node, value_node: Node, merged: list[MarkedDict], out: MarkedDict
    ) -> int:
        nodes = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        size = 0
        wrong = False
        for source_node in nodes:
            source, source_size = self._build(source_node)
            size += source_size
            if isinstance(source, MarkedDict):
                merged.append(source)
            else:
                wrong = True
        if wrong:  # at the '<<' itself: an alias's node is located at its anchor, far away
            self._problem(
                key_node,
                "a merge key '<<' takes a mapping or a list of mappings, "
                "e.g. '<<: *defaults' where '&defaults' marks a mapping",
                out,
                "<<",
            )
        return size


def _path_index(
    root: Any,
) -> tuple[dict[int, tuple[str | int, ...]], dict[tuple[int, int], tuple[str | int, ...]]]:
    """The path of every mapping (by identity) and of every key and value (by line, column)."""
    by_id: dict[int, tuple[str | int, ...]] = {}
    by_mark: dict[tuple[int, int], tuple[str | int, ...]] = {}
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in by_id:  # shared through an alias: the first path is enough
            continue
        if isinstance(node, MarkedDict):
            by_id[id(node)] = path
            for key, value in node.items():
                key_line, key_col, line, col = node.marks[key]
                by_mark.setdefault((key_line, key_col), (*path, key))
                by_mark.setdefault((line, col), (*path, key))
                stack.append((value, (*path, key)))
        elif isinstance(node, MarkedList):
            by_id[id(node)] = path
            for index, value in enumerate(node):
                by_mark.setdefault(node.marks[index], (*path, index))
                stack.append((value, (*path, index)))
    return by_id, by_mark


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
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):  # an event stream: no recursion
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
                mark = event.start_mark
                if depth > MAX_DEPTH and mark is not None:
                    return mark.line + 1, mark.column + 1
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass  # reported by the composer, which stops at the same place
    return None


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
        return LoadResult([], [error(where, "", _yaml_error_message(exc))])
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
        constructor = _Constructor(file)
        try:
            data = constructor.build(node)
        except _AliasBomb as bomb:
            diagnostics.append(
                error(
                    bomb.args[0],
                    "",
                    "YAML aliases expand this document far beyond its written size; "
                    "llmform refuses it (a 'billion laughs' file?); write the values out",
                )
            )
            continue
        except _TooDeep as too_deep:
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
