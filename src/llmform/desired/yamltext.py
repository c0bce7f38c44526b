"""YAML text that cannot be read, located: not UTF-8, characters YAML forbids, a byte order
mark inside the file, nesting beyond MAX_DEPTH, and PyYAML's syntax errors in our words."""

from __future__ import annotations

import functools
import re

import yaml

from ..errors import Diagnostic, Location, error
from .marked import MAX_DEPTH, TOO_DEEP
from .yamltree import COMPOSE_SAFE_DEPTH

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any


def error_location(file: str, exc: yaml.YAMLError) -> Location:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return Location(file)
    return Location(file, mark.line + 1, mark.column + 1)


def syntax_message(exc: yaml.YAMLError, text: str = "") -> str:
    if not isinstance(exc, yaml.MarkedYAMLError):
        return f"invalid YAML: {exc}"
    problem = exc.problem or "syntax error"
    if "tab" in problem:  # the scanner's context ("while scanning a plain scalar") only confuses
        return f"invalid YAML: {problem}; indent with spaces, YAML does not allow tabs there"
    context, start, end = exc.context, exc.context_mark, exc.problem_mark
    if problem.startswith("found undefined alias") and end is not None:
        # libyaml does not name the alias; PyYAML does
        name = _alias_at(text, end.line, end.column)
        named = f" *{name}" if name and problem == "found undefined alias" else ""
        return (
            f"invalid YAML: {problem}{named}; define the anchor (&name) before the alias (*name) "
            "that uses it"
        )
    if (
        context == "while scanning a simple key"
        and start is not None
        and end is not None
        and start.line == end.line
        and end.column - start.column > MAX_SIMPLE_KEY
    ):
        return (
            f"invalid YAML: a mapping key longer than {MAX_SIMPLE_KEY} characters, YAML's limit "
            "for a key without '? '; shorten it"
        )
    if context and start is not None and end is not None and start.line != end.line:
        # the problem is found where parsing stopped; say where the construct began
        problem += f" {context} (which starts at line {start.line + 1}, column {start.column + 1})"
    elif context:
        problem += f" {context}"
    return f"invalid YAML: {problem}"


# YAML 1.1/1.2: an implicit (simple) key is at most 1024 characters long
MAX_SIMPLE_KEY = 1024


def _alias_at(text: str, line: int, column: int) -> str | None:
    lines = text.split("\n")
    if line >= len(lines):
        return None
    found = re.match(r"\*([^\s,\[\]{}]{1,100})", lines[line][column:])
    return found[1] if found else None


def too_deep(text: str, loader: Any, *, failed: bool = False) -> tuple[int, int] | None:
    """The line and column where ``text`` nests deeper than MAX_DEPTH, if it does (before any
    syntax error in it), found by counting; None also where ``text`` may be composed as it is
    without counting (``composer_limits_nesting``): building its nodes then finds the place
    (``yamltree.Constructor``). ``failed``: the composer already failed on ``text``; nesting past
    MAX_DEPTH before the place where it failed is the error to report, wherever libyaml, the
    pure-Python parser or the recursion limit gave up (an unclosed `[[[...` ends in a syntax
    error at the end of the file, a block nested 1,001 levels in libyaml's limit)."""
    if not failed:
        # Flow collections nest one level per bracket, block ones at most two levels per
        # column: a cheap bound that ordinary files stay far below, so they are parsed once.
        widest = max(map(len, text.split("\n")))
        if text.count("[") + text.count("{") + 2 * widest + 2 <= COMPOSE_SAFE_DEPTH:
            return None
        if composer_limits_nesting(loader):  # 2 ms, once: only for a file past the bound
            return None  # composed as it is: building its nodes finds MAX_DEPTH passed, and where
    try:
        return _first_too_deep(text, loader)
    except yaml.YAMLError as exc:
        if not is_nesting_limit(exc):
            return None  # reported by the composer, which stops at the same place
        # libyaml (0.2.5 as PyYAML 6.0.4 bundles it) stops at its own limit while scanning
        # ahead, before it hands out the events that would show where MAX_DEPTH is passed;
        # the pure-Python parser scans ahead less, so it can say where
        try:
            found = _first_too_deep(text, yaml.SafeLoader)
        except yaml.YAMLError:
            found = None
        where = error_location("", exc)
        return found or (where.line, where.column)


@functools.cache
def composer_limits_nesting(loader: Any) -> bool:
    """Whether ``loader`` refuses nesting past a limit of its own, far below where its composer's
    recursion could crash the process: libyaml does since 0.2.5 (1,000 levels), and then any
    text may be composed without counting its depth first. A probe, once per process."""
    if loader is yaml.SafeLoader:
        return False  # the pure-Python composer: Python's recursion limit, which is no crash
    try:
        yaml.compose("[" * 1_001 + "]" * 1_001, Loader=loader)
    except yaml.YAMLError as exc:
        return is_nesting_limit(exc)
    return False


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


def is_nesting_limit(exc: yaml.YAMLError) -> bool:
    """libyaml's own depth limit (newer builds): the same problem as TOO_DEEP."""
    return "nesting depth" in str(getattr(exc, "problem", "") or "")


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character ``index``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def yaml_error(file: str, text: str, exc: yaml.YAMLError) -> Diagnostic:
    if isinstance(exc, yaml.reader.ReaderError):
        # a character YAML forbids; the error has a position (in bytes, from libyaml) but no
        # line and column, so find the character ourselves
        found = _FORBIDDEN.search(text)
        if found is not None:
            return error(
                Location(file, *_position(text, found.start())),
                "",
                _forbidden_message(found.group()),
            )
    where = error_location(file, exc)
    return error(where, "", TOO_DEEP if is_nesting_limit(exc) else syntax_message(exc, text))


# The characters YAML does not allow in a stream (PyYAML's reader rejects the same).
_FORBIDDEN = re.compile("[^\t\n\r -~\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _forbidden_message(char: str) -> str:
    code = ord(char)
    if code == 0:
        return "a NUL byte (U+0000) is not allowed in YAML; is this a binary file? delete it"
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return (
            f"control character U+{code:04X} is not allowed in YAML; delete it, or write it as "
            f"an escape (\\x{code:02x}) inside a double-quoted string"
        )
    return f"character U+{code:04X} is not allowed in YAML; delete it"


def bom_error(file: str, text: str, index: int) -> Diagnostic:
    return error(
        Location(file, *_position(text, index)),
        "",
        "a byte order mark (U+FEFF, invisible in most editors) inside the file, often left by "
        "joining files together; delete it",
    )


_PLAIN_TAGS: dict[str, str] = {}  # a plain scalar's text -> its implicit tag (int, bool, str...)
_PLAIN_TAGS_MAX = 100_000
_RESOLVER = yaml.resolver.Resolver()


def plain_tag(value: str) -> str:
    """The tag PyYAML's resolver gives a plain scalar written ``value``, found once per
    distinct text: without path resolvers (the safe loader has none), it depends on the text
    alone."""
    tag = _PLAIN_TAGS.get(value)
    if tag is None:
        tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        if len(_PLAIN_TAGS) >= _PLAIN_TAGS_MAX:
            _PLAIN_TAGS.clear()
        _PLAIN_TAGS[value] = tag
    return tag


def remembering_tags(loader: Any) -> Any:
    """``loader`` (libyaml's) resolving the tag of each distinct plain scalar once
    (``plain_tag``): libyaml calls back into PyYAML's Python resolver for every scalar, which
    tries the implicit resolvers' patterns one by one (a sixth of a large file's load)."""
    assert not loader.yaml_path_resolvers
    assert loader.yaml_implicit_resolvers is yaml.resolver.Resolver.yaml_implicit_resolvers

    class Remembering(loader):  # type: ignore[misc]
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is not yaml.ScalarNode or not implicit[0]:
                return super().resolve(kind, value, implicit)
            return plain_tag(value)

    return Remembering
