"""Where a YAML string's text is written, so that a position inside its value (a CEL rule's
syntax error at 2:7) can be told as the file's line:col.

The value of a scalar is not its source: quotes, escapes, a block scalar's header and
indentation, and folded line breaks sit between them. A literal block (``|``) keeps its lines,
so a value's line k is the source's line k after the header, shifted by the block's indentation.
Any other style is aligned character by character: each character of the value is the next
equal character of the source (what YAML drops in between is quotes, indentation and line
breaks), which is exact for what rules are made of and close for the rest (an escape).
"""

from __future__ import annotations

from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import Location


@dataclass(frozen=True)
class ScalarSource:
    """A scalar's source text (from its first character to its end) and where it starts."""

    file: str
    line: int  # 1-based, of the scalar's first character (a block scalar's indicator)
    column: int
    style: str | None  # None (plain), '"', "'", '|' or '>'
    text: str

    def locate(self, value: str, line: int, column: int) -> Location:
        """The file position of ``value``'s character at (``line``, ``column``), both 1-based;
        a position past the last character that is not blank (an unexpected end) is placed
        right after that character."""
        lines = value.split("\n")
        line = max(1, min(line, len(lines)))
        offset = sum(len(text) + 1 for text in lines[: line - 1]) + max(column, 1) - 1
        offset = min(offset, len(value.rstrip()))
        if self.style == "|":
            before = value[:offset]
            return self._in_literal(before.count("\n") + 1, offset - before.rfind("\n"))
        return self._at(self._aligned(value, offset))

    def _in_literal(self, line: int, column: int) -> Location:
        source = self.text.split("\n")[1:]  # after the header line ("|", "|-", "|2 # note")
        indent = next((len(s) - len(s.lstrip(" ")) for s in source if s.strip()), 0)
        return Location(self.file, self.line + line, indent + column)

    def _aligned(self, value: str, offset: int) -> int:
        """The index in ``text`` of ``value[offset]``."""
        start = 0
        if self.style in ('"', "'"):
            start = 1
        elif self.style == ">":
            start = self.text.find("\n") + 1
        at, last = start, start - 1
        for index, char in enumerate(value[: offset + 1]):
            found = self.text.find(char, at)
            if found < 0:  # an escape written otherwise: keep the distance from the last match
                return last + offset - index + 1
            last, at = found, found + 1
            if index == offset:
                return found
        return last + offset - len(value) + 1  # past the end: right after the last character

    def _at(self, index: int) -> Location:
        before = self.text[:index]
        breaks = before.count("\n")
        if not breaks:
            return Location(self.file, self.line, self.column + index)
        return Location(self.file, self.line + breaks, index - before.rfind("\n"))


def scalar_sources(
    file: str, text_lines: list[str], node: Node, section: str, field: str
) -> dict[tuple[str | int, ...], ScalarSource]:
    """The sources of ``section[i].field`` strings of a document's top-level mapping node."""
    found: dict[tuple[str | int, ...], ScalarSource] = {}
    if not isinstance(node, MappingNode):
        return found
    for key, value in node.value:
        if not (isinstance(key, ScalarNode) and key.value == section):
            continue
        if not isinstance(value, SequenceNode):
            continue
        for index, item in enumerate(value.value):
            if not isinstance(item, MappingNode):
                continue
            for item_key, scalar in item.value:
                named = isinstance(item_key, ScalarNode) and item_key.value == field
                if named and isinstance(scalar, ScalarNode):
                    found[(section, index, field)] = _source(file, text_lines, scalar)
    return found


def _source(file: str, text_lines: list[str], node: ScalarNode) -> ScalarSource:
    start, end = node.start_mark, node.end_mark
    if start.line == end.line:
        text = text_lines[start.line][start.column : end.column]
    else:
        middle = text_lines[start.line + 1 : end.line]
        last = text_lines[end.line][: end.column] if end.line < len(text_lines) else ""
        text = "\n".join([text_lines[start.line][start.column :], *middle, last])
    style = node.style if node.style in ('"', "'", "|", ">") else None
    return ScalarSource(file, start.line + 1, start.column + 1, style, text)
