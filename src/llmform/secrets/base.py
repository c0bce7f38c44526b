"""The secrets interface: references in, masked values and problems out.

A secret value exists only inside a ``SecretValue``; its ``repr``/``str`` never show it, so a
value that slips into a log line, an exception or a dataclass repr prints as a mask.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..model import SecretRef


class SecretValue:
    """A secret. Call ``reveal()`` only at the point of use (an HTTP header, a cipher)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretValue(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._value.encode()).digest())

    def __reduce__(self) -> tuple[object, ...]:  # never pickled into a cache or a plan file
        raise TypeError("a SecretValue cannot be serialised")


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
