"""Reading JSON from an untrusted file field by field, each with its type checked.

``Fields`` wraps one JSON object; every ``get`` names the field and the check it must pass, and
``done`` refuses fields nobody read, so a reader and a writer cannot drift apart unnoticed. A
failed check raises ``ShapeError`` naming the field by its path (``changes[3].after.kind``) and
what was expected; the value itself is never echoed (it came from a file anyone could edit).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

# A check takes a JSON value and the path it was found at, and returns it (or what it stands
# for) when it has the expected shape; otherwise it raises ShapeError.
Check = Callable[[Any, str], T]


class ShapeError(Exception):
    """A JSON value of another shape than expected; ``where`` is its path."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where or 'the top level'}: {message}")
        self.where = where


def kind_of(value: Any) -> str:
    """The JSON type of ``value``, as a phrase."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def expected(where: str, wanted: str, value: Any) -> ShapeError:
    return ShapeError(where, f"expected {wanted}, found {kind_of(value)}")


def child(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


# -- checks ----------------------------------------------------------------------------------


def text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise expected(where, "a string", value)
    return value


def nonempty_text(value: Any, where: str) -> str:
    if text(value, where) == "":
        raise ShapeError(where, "expected a non-empty string, found an empty one")
    return value  # type: ignore[no-any-return]


def integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise expected(where, "an integer", value)
    return value


def count(value: Any, where: str) -> int:
    """A non-negative integer."""
    if integer(value, where) < 0:
        raise ShapeError(where, "expected a number of 0 or more, found a negative one")
    return value  # type: ignore[no-any-return]


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise expected(where, "true or false", value)
    return value


def scalar(value: Any, where: str) -> Any:
    """A string, number, true/false or null."""
    if isinstance(value, list | dict):
        raise expected(where, "a string, number, true/false or null", value)
    return value


def any_json(value: Any, where: str) -> Any:
    """Any JSON value (the file's depth and numbers are checked when it is parsed)."""
    return value


def matching(pattern: str, description: str) -> Check[str]:
    compiled = re.compile(pattern)

    def check(value: Any, where: str) -> str:
        if compiled.fullmatch(text(value, where)) is None:
            raise ShapeError(where, f"expected {description}")
        return value  # type: ignore[no-any-return]

    return check


def one_of(*choices: str) -> Check[str]:
    def check(value: Any, where: str) -> str:
        if text(value, where) not in choices:
            raise ShapeError(where, f"expected one of {', '.join(choices)}")
        return value  # type: ignore[no-any-return]

    return check


def optional(check: Check[T]) -> Check[T | None]:
    def check_optional(value: Any, where: str) -> T | None:
        return None if value is None else check(value, where)

    return check_optional


def list_of(check: Check[T]) -> Check[list[T]]:
    def check_list(value: Any, where: str) -> list[T]:
        if not isinstance(value, list):
            raise expected(where, "a list", value)
        return [check(item, child(where, index)) for index, item in enumerate(value)]

    return check_list


def map_of(check: Check[T]) -> Check[dict[str, T]]:
    def check_map(value: Any, where: str) -> dict[str, T]:
        if not isinstance(value, dict):
            raise expected(where, "an object", value)
        return {key: check(item, child(where, key)) for key, item in value.items()}

    return check_map


def object_with(read: Callable[[Fields], T]) -> Check[T]:
    """An object read by ``read``, which gets its fields; fields it leaves unread are refused."""

    def check_object(value: Any, where: str) -> T:
        fields = Fields(value, where)
        result = read(fields)
        fields.done()
        return result

    return check_object


class Fields:
    """One JSON object, read field by field."""

    def __init__(self, value: Any, where: str = "") -> None:
        if not isinstance(value, dict):
            raise expected(where, "an object", value)
        self.value: Mapping[str, Any] = value
        self.where = where
        self.read: set[str] = set()

    def get(self, key: str, check: Check[T]) -> T:
        self.read.add(key)
        if key not in self.value:
            raise ShapeError(child(self.where, key), "missing")
        return check(self.value[key], child(self.where, key))

    def get_or(self, key: str, check: Check[T], default: T) -> T:
        """An optional field: ``default`` when absent."""
        if key not in self.value:
            self.read.add(key)
            return default
        return self.get(key, check)

    def done(self) -> None:
        """Refuse a field that was not read: the writer and this reader disagree."""
        for key in self.value:
            if key not in self.read:
                raise ShapeError(child(self.where, key), "not a field of this format")


def bounded(value: Any, max_depth: int) -> str | None:
    """Why ``value`` (parsed JSON) is unusable, or None: nested deeper than ``max_depth``, a
    number that is not finite (``1e999``), or a string that is not valid Unicode (a lone
    surrogate escape). Iterative, so depth itself cannot exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                return f"nested more than {max_depth} levels deep"
            if isinstance(item, dict):
                for key in item:
                    if not _unicode(key):
                        return "a field name is not valid Unicode text"
                stack.extend((sub, depth + 1) for sub in item.values())
            else:
                stack.extend((sub, depth + 1) for sub in item)
        elif isinstance(item, float) and not math.isfinite(item):
            return "a number is too large"
        elif isinstance(item, str) and not _unicode(item):
            return "a string is not valid Unicode text"
    return None


def _unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
