"""``{env: NAME}`` references, read from the llmform process's environment."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from ..desired.model import EnvRef, SecretRef
from .base import Resolution, SecretProblem, SecretValue, value_problem


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
            if not value:
                state = "empty" if value == "" else "not set"
                problems.append(
                    SecretProblem(ref, f"environment variable {ref.name} is {state}; export it")
                )
            elif (problem := value_problem(value)) is not None:
                problems.append(SecretProblem(ref, f"environment variable {ref.name} {problem}"))
            else:
                values[ref] = SecretValue(value)
        return Resolution(values, tuple(problems))
