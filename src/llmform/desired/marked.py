"""The values a YAML document is built into: mappings and sequences that remember the line and
column of every key and item, so that a problem found anywhere later is reported where it was
written. Apart from yamltree (which builds them from composed nodes) so that what reads them, and
simpleyaml, which builds them without composing, need not import PyYAML."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see yamltree
if TYPE_CHECKING:
    from typing import Any

# llmform documents are a few levels deep. Deeper YAML is refused with a located error before it
# can exhaust Python's recursion limit in construction or schema checks.
MAX_DEPTH = 100
TOO_DEEP = (
    f"YAML nested more than {MAX_DEPTH} levels deep; llmform documents need only a few levels, "
    "so flatten this structure"
)


class MarkedDict(dict[str, "Any"]):  # a string: typing is not imported (see TYPE_CHECKING)
    """A mapping from YAML; ``marks[key]`` is (key line, key col, value line, value col)."""

    __slots__ = ("column", "line", "marks")

    def __init__(self, line: int, column: int) -> None:  # dict's own __new__ made it empty
        self.line = line
        self.column = column
        self.marks: dict[str, tuple[int, int, int, int]] = {}


class MarkedList(list["Any"]):  # see MarkedDict
    """A sequence from YAML; ``marks[i]`` is the (line, col) of item ``i``."""

    __slots__ = ("column", "line", "marks")

    def __init__(self, line: int, column: int) -> None:  # list's own __new__ made it empty
        self.line = line
        self.column = column
        self.marks: list[tuple[int, int]] = []
