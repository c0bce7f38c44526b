"""The policy options of plan and apply: --override-policy NAME (repeatable) with --reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..core.policy_results import PolicyError

F = TypeVar("F", bound=Callable[..., Any])


def policy_options(command: F) -> F:
    command = click.option(
        "--reason",
        metavar="TEXT",
        default=None,
        help="Why the policies named by --override-policy are overridden; recorded with who "
        "overrode them and the objects concerned in the audit trail.",
    )(command)
    return click.option(
        "--override-policy",
        "override_policies",
        multiple=True,
        metavar="NAME",
        help="Let the soft policy NAME's failures through (repeatable; needs --reason). A hard "
        "policy cannot be overridden.",
    )(command)


def overrides_of(names: tuple[str, ...], reason: str | None) -> dict[str, str]:
    """Policy name -> reason; refused: a reason without a policy to override (a slip that
    would otherwise pass silently)."""
    if reason is not None and not names:
        raise PolicyError("--reason goes with --override-policy NAME; name the policy overridden")
    return {name: reason or "" for name in names}
