"""The simple YAML most llmform files are written in, read without composing nodes.

libyaml composes a node for every scalar, calling back into PyYAML's Python resolver for each,
and ``yamltree.Constructor`` then walks the nodes: two passes over a large file, most of a cold
plan's parse. Most llmform files use a small part of YAML: documents (after the first, each
begun by ``---``) of block mappings and sequences, one line per key or item, plain and simply
quoted scalars, one-line flow collections (``[gpt-4o, o1]``, ``{env: KEY}``) and comments.
``read_simple`` reads exactly that part, line by line, into what the Constructor would have
built (the same values, the same line and column of every key and item), and declines anything
else (None): the file is then composed and built as before, which also finds and words every
error. So this reader never reports a problem and never accepts what libyaml would refuse or
read differently: whatever it is not sure of (tabs, line breaks other than LF, anchors, tags,
block scalars, a plain scalar over two lines, an empty value or document, a duplicate key, a
key beyond ASCII letters, digits and ``_./-``, an unusual scalar) it declines.
``test_simpleyaml`` holds it to the composed path on tables and generated documents.
"""

from __future__ import annotations

import re
from functools import cache

from .marked import MarkedDict, MarkedList

TYPE_CHECKING = False  # not typing's: see yamltree
if TYPE_CHECKING:
    from typing import Any

_TAG = "tag:yaml.org,2002:"
_KEY_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null"))

# YAML 1.1's implicit types, as PyYAML resolves a plain scalar, without PyYAML: its resolvers are
# chosen by the scalar's first character, so a scalar starting with none of these is a string.
# Starting with a letter of them, only the bool and null resolvers apply, each the whole text one
# of these spellings; a decimal integer is int(text). Anything else starting with one of them
# (3.5, 0x1F, 2024-10-21, <<) is resolved by PyYAML itself (``_resolved``), imported then.
# ``test_simpleyaml`` holds all of it to PyYAML's resolver.
_RESOLVED_FIRST = frozenset("yYnNtTfFoO~-+0123456789.<=!&*")
_BOOLS = {
    spelling: value
    for words, value in (("yes true on", True), ("no false off", False))
    for word in words.split()
    for spelling in (word, word.capitalize(), word.upper())
}
_NULLS = frozenset({"~", "null", "Null", "NULL"})
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")

# Only line feeds and the printable characters libyaml reads as such (``yamltext._FORBIDDEN``):
# no tab (indentation and separation rules), no CR or other line break (NEL, U+2028, U+2029), no
# BOM. libyaml counts columns in characters, as Python indexes a str.
_UNUSUAL_ASCII = re.compile("[^\n -~]")
_USUAL_BEYOND_ASCII = "\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff"


@cache
def _unusual_text() -> re.Pattern[str]:
    # compiled when first needed: its character class takes milliseconds (every validate's)
    return re.compile(f"[^\n -~{_USUAL_BEYOND_ASCII}]")


# A key: a plain scalar of these characters, then ':' and a space or the line's end; short of
# libyaml's 1,024 characters for a key written without '?'.
_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_./-]{0,999}):(?: +|$)")
# A plain scalar inside a flow collection: words (no flow indicator, ':' or quote in them) with
# spaces between them, the first not starting with '#' (a comment) after a space.
_FLOW_PLAIN = re.compile(
    r"[A-Za-z0-9_.][A-Za-z0-9_./+#-]*(?: +[A-Za-z0-9_./+-][A-Za-z0-9_./+#-]*)*"
)
_SPACES = re.compile(" *")
# What a plain scalar in block context may not start with (YAML's indicators), beside the flow
# and quote starts read apart; and what it may not hold (a ': ' would make it a mapping,
# brackets are kept from it to stay clear of flow rules).
_PLAIN_START_REFUSED = frozenset("-?:,[]{}#&*!|>'\"%@`~")
_BLOCK_PLAIN_REFUSED = re.compile(r": |:$|[\[\]{}]")
# Nesting beyond this is declined (the composed path counts real depth against MAX_DEPTH).
_MAX_NESTING = 40


class _Decline(Exception):
    """The text is not in the simple subset: compose it instead."""


def read_simple(text: str) -> list[MarkedDict] | None:
    """What ``Constructor.build`` makes of each of ``text``'s documents, or None when ``text``
    is not in the simple subset (see the module's docstring) or a document is not a mapping."""
    unusual = _UNUSUAL_ASCII if text.isascii() else _unusual_text()
    if unusual.search(text) is not None:
        return None
    try:
        return _Reader(text).documents()
    except _Decline:
        return None


class _Reader:
    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        # open block collections, innermost last: (indent, is_mapping, collection)
        self.open: list[tuple[int, bool, Any]] = []
        # a key written with no value on its line: (its mapping, key, line, column)
        self.pending: tuple[MarkedDict, str, int, int] | None = None

    def documents(self) -> list[MarkedDict]:
        found: list[MarkedDict] = []
        root: MarkedDict | None = None
        marked = False  # a "---" began a document that has no line yet
        for number, line in enumerate(self.lines, 1):
            content = line.lstrip(" ")
            if not content or content[0] == "#":
                continue
            indent = len(line) - len(content)
            if line.startswith(("---", "...")) and (len(line) == 3 or line[3] == " "):
                # "---" (perhaps with a comment) begins a document; "...", "--- x" and an empty
                # document are declined
                if line[0] == "." or marked or line[3:].strip(" ")[:1] not in ("", "#"):
                    raise _Decline
                if root is not None:
                    found.append(self.ended(root))
                    root = None
                marked = True
                continue
            marked = False
            if root is None:
                if indent:
                    raise _Decline
                root = MarkedDict(number, 1)
                self.open = [(0, True, root)]
            self.line(number, line, indent)
        if root is None:
            raise _Decline  # no document, or an empty one at the end
        found.append(self.ended(root))
        return found

    def ended(self, root: MarkedDict) -> MarkedDict:
        if self.pending is not None:
            raise _Decline  # a key with no value at the end of its document
        return root

    def line(self, number: int, line: str, indent: int) -> None:
        entry = line.startswith("-", indent) and (
            len(line) == indent + 1 or line[indent + 1] == " "
        )
        if self.pending is not None:
            mapping, key, key_line, key_column = self.pending
            self.pending = None
            value: Any
            if entry and indent >= key_column - 1:
                value = MarkedList(number, indent + 1)
                self.open.append((indent, False, value))
            elif not entry and indent >= key_column:
                value = MarkedDict(number, indent + 1)
                self.open.append((indent, True, value))
            else:  # an empty value (null): where libyaml places it is not worth copying
                raise _Decline
            if len(self.open) > _MAX_NESTING:
                raise _Decline
            mapping[key] = value
            mapping.marks[key] = (key_line, key_column, number, indent + 1)
        else:
            while self.open:
                top_indent, top_is_mapping, _ = self.open[-1]
                if top_indent > indent or (
                    top_indent == indent and not top_is_mapping and not entry
                ):
                    self.open.pop()  # also an indentless sequence ended by its mapping's next key
                else:
                    break
            if not self.open or self.open[-1][0] != indent:
                raise _Decline  # deeper than anything open (a continuation), or between levels
        _, is_mapping, collection = self.open[-1]
        if entry:
            if is_mapping:
                raise _Decline
            self.item(number, line, indent, collection)
        else:
            if not is_mapping:
                raise _Decline
            self.key(number, line, indent, collection)

    def item(self, number: int, line: str, indent: int, sequence: MarkedList) -> None:
        start = _SPACES.match(line, indent + 1).end()  # type: ignore[union-attr]
        if start == len(line) or line[start] == "#" or line.startswith("- ", start):
            raise _Decline  # a nested block on the next lines, a null, or "- - item"
        if _KEY.match(line, start) is not None:
            mapping = MarkedDict(number, start + 1)
            sequence.append(mapping)
            sequence.marks.append((number, start + 1))
            self.open.append((start, True, mapping))
            if len(self.open) > _MAX_NESTING:
                raise _Decline
            self.key(number, line, start, mapping)
            return
        value, end = self.value(number, line, start)
        _end_of_line(line, end)
        sequence.append(value)
        sequence.marks.append((number, start + 1))

    def key(self, number: int, line: str, indent: int, mapping: MarkedDict) -> None:
        found = _KEY.match(line, indent)
        if found is None:
            raise _Decline
        key = found.group(1)
        if key in mapping or not _plain_key(key):
            raise _Decline  # a duplicate (reported when composed), or a key read otherwise
        start = found.end()
        if start == len(line) or line[start] == "#":
            if start == len(line) or line[start - 1] == " ":
                self.pending = (mapping, key, number, indent + 1)
                return
            raise _Decline
        value, end = self.value(number, line, start)
        _end_of_line(line, end)
        mapping[key] = value
        mapping.marks[key] = (number, indent + 1, number, start + 1)

    def value(self, number: int, line: str, start: int) -> tuple[Any, int]:
        """The scalar or flow collection at ``start`` of ``line``, and where it ends."""
        first = line[start]
        if first in "[{":
            return _Flow(line, number).node(start, 0)
        if first in "'\"":
            return _quoted(line, start)
        if first in _PLAIN_START_REFUSED:
            raise _Decline
        comment = line.find(" #", start)
        end = len(line) if comment < 0 else comment
        text = line[start:end].rstrip(" ")
        if _BLOCK_PLAIN_REFUSED.search(text) is not None:
            raise _Decline
        return _plain(text), start + len(text)


class _Flow:
    """One-line flow collections, as libyaml reads them (or declined)."""

    def __init__(self, line: str, number: int) -> None:
        self.line = line
        self.number = number

    def node(self, start: int, depth: int) -> tuple[Any, int]:
        line = self.line
        first = line[start] if start < len(line) else ""
        if first == "[":
            return self.sequence(start, depth)
        if first == "{":
            return self.mapping(start, depth)
        if first in ("'", '"'):
            return _quoted(line, start)
        found = _FLOW_PLAIN.match(line, start)
        if found is None:
            raise _Decline
        return _plain(found.group()), found.end()

    def sequence(self, start: int, depth: int) -> tuple[MarkedList, int]:
        if depth > _MAX_NESTING:
            raise _Decline
        out = MarkedList(self.number, start + 1)
        at, closed = self.next_item(start + 1, "]", first=True)
        while not closed:
            value, end = self.node(at, depth + 1)
            out.append(value)
            out.marks.append((self.number, at + 1))
            at, closed = self.next_item(end, "]")
        return out, at

    def mapping(self, start: int, depth: int) -> tuple[MarkedDict, int]:
        if depth > _MAX_NESTING:
            raise _Decline
        out = MarkedDict(self.number, start + 1)
        at, closed = self.next_item(start + 1, "}", first=True)
        while not closed:
            found = _KEY.match(self.line, at)
            if found is None or found.end() == len(self.line):
                raise _Decline
            key = found.group(1)
            if key in out or not _plain_key(key):
                raise _Decline
            value_at = found.end()
            if self.line[value_at - 1] != " " or self.line[value_at] in ",}#":
                raise _Decline  # "{a:b}" is one scalar; "{a: }" a null
            value, end = self.node(value_at, depth + 1)
            out[key] = value
            out.marks[key] = (self.number, at + 1, self.number, value_at + 1)
            at, closed = self.next_item(end, "}")
        return out, at

    def next_item(self, end: int, closer: str, *, first: bool = False) -> tuple[int, bool]:
        """After what ended at ``end`` (an item, or the opening bracket when ``first``): where
        the next item starts, or (True) just past ``closer``; a missing comma or a trailing one
        is declined."""
        at = self.skip(end)
        if self.line.startswith(closer, at):
            return at + 1, True
        if first:
            return at, False
        if not self.line.startswith(",", at):
            raise _Decline
        at = self.skip(at + 1)
        if self.line.startswith(closer, at):
            raise _Decline  # a trailing comma
        return at, False

    def skip(self, at: int) -> int:
        return _SPACES.match(self.line, at).end()  # type: ignore[union-attr]


def _quoted(line: str, start: int) -> tuple[str, int]:
    """A quoted scalar closed on its line, without escapes beyond single quotes' ''."""
    quote = line[start]
    end = line.find(quote, start + 1)
    if quote == "'":
        while end >= 0 and line.startswith("'", end + 1):
            end = line.find("'", end + 2)
        if end < 0:
            raise _Decline
        return line[start + 1 : end].replace("''", "'"), end + 1
    if end < 0 or "\\" in line[start + 1 : end]:
        raise _Decline
    return line[start + 1 : end], end + 1


def _plain(text: str) -> Any:
    """A plain scalar's value, as PyYAML's resolver and safe constructor make it."""
    first = text[0]
    if first not in _RESOLVED_FIRST:
        return text
    found = _BOOLS.get(text)
    if found is not None:
        return found
    if text in _NULLS:
        return None
    if first in "0123456789+-.":
        # (a number past Python's 4,300 digits is refused when composed)
        return int(text) if len(text) < 100 and _DECIMAL.fullmatch(text) else _resolved(text)
    if text in ("<<", "=", "!", "&", "*"):
        raise _Decline  # a merge key, a value key, a tag or anchor indicator alone
    return text


def _plain_key(key: str) -> bool:
    """Whether a key (ASCII letters, digits and ``_./-``) is read as its text when composed: as a
    str, int, float, bool or null, not as a date or another tag (``yamltree.Constructor``)."""
    if not key[0].isdigit() or _DECIMAL.fullmatch(key):
        return True
    from .yamltext import plain_tag  # start-up time: PyYAML, for unusual keys only

    return plain_tag(key) in _KEY_TAGS


def _resolved(text: str) -> Any:
    """``_plain`` of a scalar only PyYAML's resolver can tell (a float, a date, 0x1F)."""
    import yaml  # start-up time: for unusual scalars only

    from .yamltext import plain_tag

    tag = plain_tag(text)
    if tag == _TAG + "str":
        return text
    node = yaml.ScalarNode(tag, text)
    constructor = yaml.constructor.SafeConstructor()
    try:
        if tag == _TAG + "int" and len(text) < 100:
            return constructor.construct_yaml_int(node)
        if tag == _TAG + "float":
            return constructor.construct_yaml_float(node)
    except ValueError:  # "0x_": an int to PyYAML's resolver, none to its constructor
        raise _Decline from None
    raise _Decline  # a date, a number too long to convert: as composed


def _end_of_line(line: str, end: int) -> None:
    """Only spaces, then perhaps a comment after a space, may follow a value."""
    rest = _SPACES.match(line, end).end()  # type: ignore[union-attr]
    if rest == len(line):
        return
    if line[rest] == "#" and rest > end:
        return
    raise _Decline
