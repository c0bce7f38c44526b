"""What policies found: a verdict per object judged. The policies themselves are records of
``model.py`` (``Policy``, ``Level``), with the rest of the desired state. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ..errors import Location
from .model import KINDS, Level, Policy

__all__ = ["KINDS", "Evaluation", "Level", "Outcome", "Policy", "Verdict"]

_NOWHERE = Location("<unknown>")


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # the rule is false for the object
    ERROR = "error"  # the rule could not be evaluated on the object: a failure too


@dataclass(frozen=True)
class Outcome:
    """A policy's verdict on one object that did not pass (passes are only counted)."""

    policy: str
    level: Level
    address: str
    verdict: Verdict
    message: str  # the policy's message, or why the rule could not be evaluated
    location: Location = field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class Evaluation:
    """Every policy's verdicts on a state: what did not pass, and how many objects each judged."""

    outcomes: tuple[Outcome, ...] = ()
    judged: Mapping[str, int] = field(default_factory=dict)  # policy name -> objects judged

    def failed(self, policy: str) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.policy == policy)
