"""What every store checks inside its apply transaction, before it writes anything.

A plan says what each resource it changes looks like now (``before``: absent for a create).
Under the store's write lock, with the rows it is about to change in front of it, the store
checks that each is exactly that, and that none is an unmanaged row (one llmform did not
create), which a plan never touches. So a plan applies only to the state it was reviewed
against: a row edited by hand or by an application since (which does not move the serial), a
saved plan whose ``before`` was edited, or a delete aimed at an unmanaged row, is refused and
nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ..console import printable
from ..core.diff import Change
from ..core.resources import Resource
from .base import StalePlanError


def same_resource(a: Resource | None, b: Resource | None) -> bool:
    """Equal as stored: every attribute with its JSON type (``true`` is not ``1``)."""
    return _canonical(a) == _canonical(b)


def _canonical(resource: Resource | None) -> str:
    if resource is None:
        return "null"
    return json.dumps(
        [resource.address, resource.kind, resource.workspace, resource.attrs, resource.secrets],
        sort_keys=True,
    )


def check_befores(
    changes: Sequence[Change],
    managed: Mapping[str, Resource],
    unmanaged: Mapping[str, Resource] | frozenset[str],
) -> None:
    """Refuse, listing every address, unless each change's ``before`` is what ``managed``
    holds at its address and no change is at an ``unmanaged`` address."""
    problems = before_problems(changes, managed, unmanaged)
    if problems:
        raise StalePlanError(
            "the store does not hold what the plan expects, so nothing was applied:",
            *(f"  {problem}" for problem in problems),
            "Run llmform plan again",
        )


def before_problems(
    changes: Sequence[Change],
    managed: Mapping[str, Resource],
    unmanaged: Mapping[str, Resource] | frozenset[str],
) -> list[str]:
    """What ``check_befores`` refuses, one line per address."""
    problems: list[str] = []
    for change in changes:
        address = printable(change.address)
        held = managed.get(change.address)
        if change.address in unmanaged:
            problems.append(
                f"{address} is not managed by llmform (it was not created by llmform), and a "
                "plan never changes it"
            )
        elif change.before is None and held is not None:
            problems.append(f"{address} already exists in the store")
        elif change.before is not None and held is None:
            problems.append(f"{address} is no longer in the store")
        elif not same_resource(held, change.before):
            problems.append(f"{address} changed in the store since the plan was made")
    return problems
