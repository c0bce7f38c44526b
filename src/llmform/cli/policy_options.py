"""The policy options of plan and apply: --policy PATH, --override-policy NAME (repeatable)
with --reason; and ``llmform policy check``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..console import paint
from ..core.policy_results import PolicyError, policy_error
from ..core.render.escape import json_dumps
from ..core.render.escape import text_lines as plain_lines
from ..core.render.policies import result_lines, results_json
from ..desired.secret_shapes import holds_key
from ..engine.policy_runs import check_store
from .options import StateGiven, echo_warning, located, options_of, state_option, store_option

F = TypeVar("F", bound=Callable[..., Any])


def policy_path_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--policy",
        "policy_paths",
        multiple=True,
        metavar="PATH",
        type=click.Path(exists=True),
        help=help_text,
    )


def policy_options(command: F) -> F:
    command = policy_path_option(
        "Policies from a file or folder outside the scanned ones (another repository's; "
        "repeatable); they take precedence over a policy of the same name in PATHS."
    )(command)
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
    if reason is not None and holds_key(reason):  # it is printed and kept in the audit trail
        raise PolicyError(
            "--reason holds what looks like an API key (not shown); the reason is printed and "
            "kept in the audit trail: say why without it"
        )
    return {name: reason or "" for name in names}


@click.group()
def policy() -> None:
    """Policies (see the README's "Policies").

    \b
    Examples:
      llmform policy check                           # the store's policies on the store
      llmform policy check --policy org-policies/    # and another repository's
    """


@policy.command("check")
@store_option
@state_option
@policy_path_option(
    "Policies to check besides those in force in the store (repeatable); they take "
    "precedence over a stored policy of the same name."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.pass_context
def check(
    ctx: click.Context,
    store_url: str,
    state: StateGiven | None,
    policy_paths: tuple[str, ...],
    fmt: str,
) -> None:
    """Judge what the store holds now by the policies in force in it (and --policy PATH):
    how a new policy is rolled out, advisory first, before it judges changes. Reads only.
    Exits 1 when a hard or soft policy fails on something in the store, 0 otherwise.

    \b
    Examples:
      llmform policy check --store sqlite:///registry.db
      llmform policy check --policy examples/policies --format json
    """
    checked = check_store(located(store_url, state), policy_paths, echo_warning)
    if fmt == "json":
        document = {"store": checked.store_url, "serial": checked.serial}
        click.echo(json_dumps(document | results_json(checked.results, ())))
    else:
        color = options_of(ctx).color()
        lines = result_lines(checked.results, (), paint, color)
        click.echo(
            plain_lines([f"Store {checked.store_url}, serial {checked.serial}", *lines], color),
            nl=False,
        )
    blocked = policy_error(checked.results, "the store does not satisfy its policies")
    if blocked is not None:
        raise blocked
