"""The secrets interface: references in, masked values and problems out.

A secret value exists only inside a ``SecretValue``; its ``repr``/``str`` never show it, so a
value that slips into a log line, an exception or a dataclass repr prints as a mask. Every
``SecretValue`` alive in the process is known to ``llmform.secrets.redaction``, so that text
from elsewhere (a provider's message, Vault's error, an exception) can be cleaned of it.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..desired.model import SecretRef

# By identity, not by value: two equal values are two entries, and one dying leaves the other.
_live: weakref.WeakValueDictionary[int, SecretValue] = weakref.WeakValueDictionary()
_live_lock = threading.Lock()
_generation = 0  # bumped on every new value, so that a redaction index knows it is stale


class SecretValue:
    """A secret. Call ``reveal()`` only at the point of use (an HTTP header, a cipher)."""

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        global _generation
        self._value = value
        with _live_lock:
            _live[id(self)] = self
            _generation += 1

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretValue(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and hmac.compare_digest(
            _bytes(self._value), _bytes(other._value)
        )

    def __hash__(self) -> int:
        return hash(hashlib.sha256(_bytes(self._value)).digest())

    def __reduce__(self) -> tuple[object, ...]:  # never pickled into a cache or a plan file
        raise TypeError("a SecretValue cannot be serialised")


def _bytes(value: str) -> bytes:
    # any str at all: non-ASCII, and the lone surrogates os.environ makes of undecodable bytes
    return value.encode("utf-8", "surrogatepass")


def generation() -> int:
    """Changes whenever a ``SecretValue`` is made (cheap: redaction asks on every call)."""
    return _generation


def live_values() -> tuple[int, tuple[str, ...]]:
    """The values of every ``SecretValue`` alive now, and a generation number that changes
    whenever a value is added (for ``llmform.secrets.redaction``'s index)."""
    with _live_lock:
        return _generation, tuple({v._value for v in list(_live.values())})


def fingerprint(key: bytes, value: SecretValue) -> str:
    """A keyed fingerprint (HMAC-SHA256): equal values match, and without ``key`` it cannot be
    used to test guesses of the value."""
    return "hmac-sha256:" + hmac.new(key, value.reveal().encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SecretProblem:
    """Why a reference could not be resolved; the message never contains a value."""

    ref: SecretRef
    message: str


@dataclass(frozen=True)
class Resolution:
    values: Mapping[SecretRef, SecretValue] = field(default_factory=dict)
    problems: tuple[SecretProblem, ...] = ()


class Resolver(Protocol):
    """Resolves a batch of references at once, so that shared secrets are read once."""

    def resolve(self, refs: Iterable[SecretRef]) -> Resolution: ...


_EDGE_NAMES = {
    "\n": "a line break (LF)",
    "\r": "a carriage return (CR)",
    " ": "a space",
    "\t": "a tab",
}


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be used as a credential, worded without the value; None if it can.

    A key travels in an HTTP header, so it must be printable ASCII. Surrounding whitespace (the
    newline of ``echo key | vault kv put ...``) is refused rather than stripped: the application
    that reads the same reference later gets the value as stored, so a value llmform calls
    valid must be usable exactly as it is.
    """
    if not value.strip():
        return "is blank (only whitespace)"
    for end, char in (("starts", value[0]), ("ends", value[-1])):
        if char.isspace():
            name = _EDGE_NAMES.get(char, f"whitespace (U+{ord(char):04X})")
            return (
                f"{end} with {name}; store the value without it (for instance with "
                "`printf %s`, not `echo`): llmform does not strip it, because the application "
                "reading the same reference would get it too"
            )
    if value.isascii() and value.isprintable():
        return None
    if "\n" in value or "\r" in value:
        kind = "a line break (CR or LF) inside it"
    elif not value.isascii():
        kind = (
            "a non-ASCII character (often a typographic quote or a non-breaking space pasted "
            "along with the key)"
        )
    else:
        kind = "a control character"
    return f"holds {kind}, which no HTTP header can carry; store the key as plain ASCII"
