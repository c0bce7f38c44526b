"""``{env: NAME}`` references, read from the llmform process's environment."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from ..model import EnvRef, SecretRef
from .base import Resolution, SecretProblem, SecretValue


class EnvResolver:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def resolve(self, refs: Iterable[SecretRef]) -> Resolution:
        values: dict[SecretRef, SecretValue] = {}
        problems: list[SecretProblem] = []
        for ref in dict.fromkeys(refs):
            if not isinstance(ref, EnvRef):
                continue
            value = self._environ.get(ref.name)
            if value:
                values[ref] = SecretValue(value)
            else:
                state = "empty" if value == "" else "not set"
                problems.append(
                    SecretProblem(ref, f"environment variable {ref.name} is {state}; export it")
                )
        return Resolution(values, tuple(problems))
