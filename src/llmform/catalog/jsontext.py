"""Untrusted JSON text -> Python values, with what ``json.loads`` lets through made into errors.

``json.loads`` raises RecursionError on deep nesting and ValueError on integers of more than
4,300 digits (neither a JSONDecodeError), and accepts "\\ud800" escapes, which make strings that
cannot be written out as UTF-8. Here each is a ``JsonError`` with a line and column, or the
JSON path of the value, for the caller to report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

# Deeper than any JSON llmform reads (RAGFlow's catalog is four levels deep).
MAX_DEPTH = 100
# Longer integers are kept as their text (``BigNumber``): whoever expects a number reports it.
MAX_INT_DIGITS = 100


class JsonError(Exception):
    """``message`` at ``line``:``column`` (1-based; 0 when unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


class BigNumber:
    """An integer too long to convert (Python refuses past 4,300 digits), kept as written."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"BigNumber({len(self.text)} digits)"


def _int(text: str) -> int | BigNumber:
    return BigNumber(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def loads(text: str) -> Any:
    """``json.loads(text)``, raising ``JsonError`` for every way the text is not usable JSON."""
    try:
        return json.loads(text, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise JsonError(f"not valid JSON ({exc.msg})", exc.lineno, exc.colno) from None
    except RecursionError:
        line, column = too_deep(text) or (0, 0)
        raise JsonError(f"JSON nested more than {MAX_DEPTH} levels deep", line, column) from None


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def too_deep(text: str) -> tuple[int, int] | None:
    """Where ``text`` opens its ``MAX_DEPTH + 1``-th nested array or object, if it does."""
    depth = 0
    for token in _TOKENS.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                start = token.start()
                line = text.count("\n", 0, start) + 1
                return line, start - (text.rfind("\n", 0, start) + 1) + 1
        elif char in "]}":
            depth -= 1
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogates(data: Any) -> Iterator[str]:
    """The JSON path of every key or string holding a lone surrogate (from a "\\ud800" escape),
    which no character is; walked without recursion."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                yield path or "(the document)"
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                step = f"{path}.{key}" if path else key
                if _SURROGATE.search(key):
                    yield f"{path or '(the document)'}: a key"
                    continue
                stack.append((item, step))
        elif isinstance(value, list):
            items = list(enumerate(value))
            stack.extend((item, f"{path}[{index}]") for index, item in reversed(items))
