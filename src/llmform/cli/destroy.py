"""``llmform destroy``: the one way to delete everything (or whole workspaces) from a store.

``plan`` and ``apply`` refuse a configuration that declares nothing (see protect.py), so that
a wrong folder never wipes a store; deleting on purpose is this explicit command, with its own
prompt. Kept apart from plan_apply.py, whose helpers it reuses.
"""

from __future__ import annotations

import sys

import click

from ..console import paint, printable
from ..core.plan import Plan
from ..core.render import render
from ..core.render.text import scope_text
from ..engine.apply_run import require_prompt
from ..engine.destroy import DestroyRequest, planned_destroy
from ..errors import LlmformError
from ..targets import shown_url
from .common import (
    audit_file_option,
    check_audit_file,
    lock_timeout_option,
    print_head,
    refuse_protected,
    show_replanned,
)
from .options import StateGiven, echo_warning, located, options_of, state_option, store_option


@click.command()
@store_option
@state_option
@click.option(
    "-w",
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="NAME",
    help="Destroy only this workspace and its configs (repeatable); factories are kept.",
)
@click.option("--auto-approve", is_flag=True, help="Destroy without asking.")
@lock_timeout_option
@audit_file_option
@click.pass_context
def destroy(
    ctx: click.Context,
    store_url: str,
    state: StateGiven | None,
    workspaces: tuple[str, ...],
    auto_approve: bool,
    lock_timeout: float,
    audit_file: str | None,
) -> None:
    """Delete every resource llmform manages in the store (or those of some workspaces).

    Needs no YAML and no secrets. Shows what will be destroyed and asks for 'yes'; without a
    terminal, --auto-approve is required. Factories are destroyed only when no -w is given.
    Rows llmform did not create are left alone. A resource the store holds as protected
    (protect: true) is refused and nothing is deleted: apply 'protect: false' on it first.

    \b
    Examples:
      llmform destroy
      llmform destroy -w staging -w dev
      llmform destroy --auto-approve --audit-file audit.jsonl --store sqlite:///registry.db
    """
    color = options_of(ctx).color()
    require_prompt(auto_approve, sys.stdin.isatty(), "destroy without a prompt")
    if audit_file:
        check_audit_file(audit_file, "nothing was destroyed")
    request = DestroyRequest(
        located(store_url, state), workspaces, auto_approve, lock_timeout, audit_file
    )
    with planned_destroy(request, echo_warning) as planned:
        if planned is None:
            click.echo(
                f"Nothing to destroy: there is no store at {printable(shown_url(store_url))}."
            )
            return
        shown = planned.shown
        if shown.summary.empty:
            where = f" in {scope_text(shown.scope)}" if shown.scope else ""
            click.echo(f"Nothing to destroy: the store holds no managed resources{where}.")
            return
        # shown, refused or confirmed before the lock: a refusal or a 'no' writes nothing
        refuse_protected(shown, color, "nothing was destroyed")
        _show_and_confirm(shown, auto_approve, color)
        destroyed = planned.carry_out(lambda shown, fresh: show_replanned(shown, fresh, color))
    if not destroyed.events:
        click.echo("Nothing to destroy: another run deleted it meanwhile.")
        return
    count = destroyed.plan.summary.destroy
    click.echo(paint(f"\nDestroy complete! Resources: {count} destroyed.", "green", color))
    print_head(destroyed.events)


def _show_and_confirm(plan: Plan, auto_approve: bool, color: bool) -> None:
    click.echo(render(plan, "text", color=color), nl=False)
    if auto_approve:
        return
    click.echo()
    answer = click.prompt(
        "Destroy these resources? There is no undo. Only 'yes' is accepted",
        default="",
        show_default=False,
    )
    if answer != "yes":
        raise LlmformError("destroy cancelled; nothing was changed")
