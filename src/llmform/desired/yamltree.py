"""YAML nodes -> Python values that remember where they were written.

libyaml (or PyYAML's pure composer) builds the node graph; this module constructs it into
MarkedDict/MarkedList/scalars, recording line and column of every key and item, refusing
duplicate keys, alias-expansion bombs and absurd nesting, which PyYAML's own constructor accepts.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import Diagnostic, Location, error
from .marked import MAX_DEPTH, TOO_DEEP, MarkedDict, MarkedList
from .secret_shapes import SECRET_FIELDS, format_path, shown

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any

# An alias may expand a document to this many times its written size (plus a small allowance)
# before we refuse it: enough for any sane use of anchors and merge keys, far below a
# "billion laughs" file, and checked before anything walks the expanded tree.
ALIAS_EXPANSION_FACTOR = 10
ALIAS_EXPANSION_ALLOWANCE = 10_000

# libyaml's composer recurses in C and crashes the process at ~20,000 levels: since 0.2.5
# libyaml refuses more than 1,000 itself (``yamltext.composer_limits_nesting``); a build without
# that limit is never handed text that might nest deeper than COMPOSE_SAFE_DEPTH without first
# counting its real depth (MAX_DEPTH: see marked).
COMPOSE_SAFE_DEPTH = 5_000

_scalars = yaml.constructor.SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_REFERENCE_KEYS = frozenset({None, "<<", "vault", "env", "version", "mount"})
_PLAIN_KEY_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null"))
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + name for name in ("str", "int", "float", "bool", "null"))
_MERGE, _SEQ, _MAP = _TAG + "merge", _TAG + "seq", _TAG + "map"
_KEPT_AS_WRITTEN = frozenset({_TAG + "timestamp", _TAG + "binary"})


ALIAS_BOMB = (
    "YAML aliases expand this document far beyond its written size; llmform refuses it "
    "(a 'billion laughs' file?); write the values out"
)
RECURSIVE_ALIAS = (
    "a YAML alias inside the collection its anchor marks (a recursive anchor) makes an endless "
    "value; write the values out"
)


class Unbuildable(Exception):
    """A document that cannot be built at all: ``args`` are (location, message)."""


# Lone surrogates (U+D800-U+DFFF) are no characters: only a "\\ud800" escape in a double-quoted
# scalar makes one (libyaml refuses the escape, PyYAML's pure-Python scanner does not), and the
# string could then not be written to a terminal, a JSON document or the store. (UTF-8 has no
# encoding for them: a test without a regex, whose character class takes 2 ms to compile.)
def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# "\0" in a double-quoted string is a NUL: PostgreSQL refuses it in text, SQLite keeps it but
# C programs reading the registry end the string there. Refused in every text, key or value.
NUL_IN_TEXT = (
    "a NUL character (\\0) cannot be stored: PostgreSQL refuses it in text, and programs "
    "reading the registry would cut the text there; delete it"
)

LONE_SURROGATE = (
    "an escape of a lone surrogate (\\ud800 to \\udfff) is no character; write the character "
    "itself, or its \\U escape"
)


def lone_surrogate(root: Node) -> Node | None:
    """The first double-quoted scalar (value or key) under ``root`` holding a lone surrogate.
    Only PyYAML's pure-Python scanner makes them, so only its output needs this walk."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            if node.style == '"' and _has_surrogate(node.value):
                return node
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
        else:
            stack.extend(part for pair in reversed(node.value) for part in reversed(pair))
    return None


class Constructor:
    """Builds MarkedDict/MarkedList/scalars from composed nodes, one instance per document."""

    def __init__(self, file: str) -> None:
        self.file = file
        # (where, message, the mapping it concerns (else found by location), key in it)
        self.problems: list[tuple[Location, str, MarkedDict | None, str | None]] = []
        self.built: dict[int, tuple[Any, int]] = {}  # id(node) -> (object, expanded size)
        self.expanded = 0
        self.written = 0
        self.depth = 0
        self.root: Node | None = None

    def build(self, node: Node) -> Any:
        self.root = node
        value, _ = self._build(node)
        return value

    def finish(self, root: Any) -> list[Diagnostic]:
        """The problems met while building ``root``, each with the path of what it concerns."""
        if not self.problems:
            return []
        by_id, by_mark = _path_index(root)
        found: list[Diagnostic] = []
        for where, message, mapping, key in self.problems:
            if mapping is None:
                path = by_mark.get((where.line, where.column), ())
            else:
                path = by_id.get(id(mapping), ()) + ((key,) if key is not None else ())
            if key not in _REFERENCE_KEYS and not SECRET_FIELDS.isdisjoint(path):
                # another key inside a secret reference may be the secret itself
                path = path[:-1]
                message = message.replace(repr(key), "(not shown)")
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
                raise Unbuildable(self._where(node), ALIAS_BOMB)
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

    def _text(self, node: Node) -> tuple[str, int] | None:
        """``_build`` of a string written once (nearly every scalar), in fewer steps; None for
        anything else (an alias, another tag, a collection), which ``_build`` then does."""
        if type(node) is not ScalarNode or node.tag != _STR or id(node) in self.built:
            return None
        value: str = node.value
        if "\0" in value:
            self._problem(node, NUL_IN_TEXT)
        self.written += 1
        self.expanded += 1
        result = self.built[id(node)] = (value, 1)
        return result

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag == _STR:
            if "\0" in node.value:
                self._problem(node, NUL_IN_TEXT)
            return node.value
        if tag == _INT:
            try:
                return _scalars.construct_yaml_int(node)
            except ValueError:  # Python refuses to convert more than 4,300 digits
                raise Unbuildable(
                    self._where(node),
                    f"a number {len(node.value):,} characters long; no number in llmform's "
                    "format is that long",
                ) from None
        if tag == _FLOAT:
            return _scalars.construct_yaml_float(node)
        if tag == _BOOL:
            return _scalars.construct_yaml_bool(node)
        if tag == _NULL:
            return None
        if tag in _KEPT_AS_WRITTEN:
            return node.value  # kept as written: nothing in the format is a date or bytes
        self._unsupported_tag(node)
        return node.value

    def _enter(self, node: Node, plain_tag: str) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            cycle = _cycle(self.root) if self.root is not None else None
            if cycle is not None:  # not deep as written: an alias recurses
                raise Unbuildable(self._where(cycle), RECURSIVE_ALIAS)
            raise Unbuildable(self._where(node), TOO_DEEP)
        if node.tag != plain_tag:
            self._unsupported_tag(node)

    def _refuse_too_deep(self, node: Node) -> None:
        """As ``_enter`` refuses nesting past MAX_DEPTH, for a collection never built (a mapping
        key): too deep is too deep wherever it is written, in document order."""
        seen: set[int] = set()
        stack = [(node, self.depth + 1)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, ScalarNode) or id(node) in seen:
                continue
            seen.add(id(node))
            if depth > MAX_DEPTH:
                raise Unbuildable(self._where(node), TOO_DEEP)
            if isinstance(node, SequenceNode):
                parts = node.value
            else:
                parts = [part for pair in node.value for part in pair]
            stack.extend((part, depth + 1) for part in reversed(parts))

    def _unsupported_tag(self, node: Node) -> None:
        self._problem(node, f"unsupported YAML tag {node.tag!r}; remove the tag")

    def _sequence(self, node: SequenceNode) -> tuple[MarkedList, int]:
        self._enter(node, _SEQ)
        mark = node.start_mark
        out = MarkedList(mark.line + 1, mark.column + 1)
        size = 1
        for item in node.value:
            value, item_size = self._text(item) or self._build(item)
            out.append(value)
            out.marks.append((item.start_mark.line + 1, item.start_mark.column + 1))
            size += item_size
        self.depth -= 1
        return out, size

    def _mapping(self, node: MappingNode) -> tuple[MarkedDict, int]:
        self._enter(node, _MAP)
        mark = node.start_mark
        out = MarkedDict(mark.line + 1, mark.column + 1)
        size = 1
        merged: list[MarkedDict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                size += self._merge_sources(key_node, value_node, merged, out)
                continue
            if not isinstance(key_node, ScalarNode):
                self._refuse_too_deep(key_node)
                self._problem(key_node, "a mapping key must be a plain scalar", out)
                continue
            # a key is its text as written: YAML 1.1 would make label keys on/yes/null into
            # True/None, which str() turns into "True"/"None" without a word to the user
            plain = key_node.tag in _PLAIN_KEY_TAGS
            key = key_node.value if plain else str(self._scalar(key_node))
            if plain and "\0" in key:
                self._problem(key_node, NUL_IN_TEXT, out)
            value, value_size = self._text(value_node) or self._build(value_node)
            size += value_size + 1
            if key in out.marks:
                first_line = out.marks[key][0]
                self._problem(
                    key_node,
                    f"duplicate key {shown(key)} (first defined at line {first_line}); "
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


def _cycle(root: Node) -> Node | None:
    """A collection that contains itself through an alias, if any (composed node graphs are
    acyclic otherwise)."""
    done: set[int] = set()
    open_: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            open_.discard(id(node))
            done.add(id(node))
            continue
        if id(node) in open_:
            return node
        if id(node) in done or isinstance(node, ScalarNode):
            continue
        open_.add(id(node))
        stack.append((node, True))
        children = (
            node.value
            if isinstance(node, SequenceNode)
            else [part for pair in node.value for part in pair]
        )
        stack.extend((child, False) for child in reversed(children))
    return None


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
