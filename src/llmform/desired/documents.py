"""What loading YAML yields: llmform documents, each knowing where every value in it was
written, and the problems found on the way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import Diagnostic, Location
from .marked import MarkedDict, MarkedList

TYPE_CHECKING = False  # not typing's: see yamltree
if TYPE_CHECKING:
    from typing import Any

    from .scalar_source import ScalarSource


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
