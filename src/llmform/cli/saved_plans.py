"""The commands about saved plans: ``show``, and ``apply`` of a saved plan.

The checks and the apply are ``engine.saved_apply``'s; this module prints between its steps
(the note on endpoints trusted since, the plan, the outcome).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import replace

import click

from ..console import paint, printable
from ..core.plan import Plan
from ..engine.saved_apply import SavedApplyRequest, saved_apply, show_saved
from ..errors import LlmformError
from ..targets import shown_url
from .common import (
    echo_failure,
    print_head,
    refuse_protected,
    render_plan,
    report_applied,
    show_and_confirm,
    verbose_option,
)
from .options import StateGiven, echo_warning, located, options_of, state_option, store_option


def apply_command(path: str, store_url: str, plan: Plan) -> str:
    """The command that applies the plan saved at ``path``, as a shell (a CI step) runs it:
    quoted, naming the store unless LLMFORM_STORE already does, and with --no-validate-keys
    when the plan's keys were not checked (apply refuses such a plan without it)."""
    words = ["llmform", "apply"]
    if store_url != os.environ.get("LLMFORM_STORE"):
        words += ["--store", shell_word(shown_url(store_url))]
    if not plan.keys_checked:
        words.append("--no-validate-keys")
    # a name that begins with '-' would be read as an option
    return " ".join([*words, shell_word(f"./{path}" if path.startswith("-") else path)])


def shell_word(text: str) -> str:
    """``text`` as one shell word that is also safe to print: quoted as ``shlex.quote`` does,
    or, when it holds characters a terminal acts on (a tab, a newline, an escape), in bash's
    ``$'...'`` with those written as the escapes ``printable`` uses, which ``$'...'`` reads
    back as the characters themselves."""
    if text.isprintable():
        return shlex.quote(text)
    return "$'" + "".join(_ansi_c(char) for char in text) + "'"


def _ansi_c(char: str) -> str:
    if char in "\\'":
        return "\\" + char
    return char if char.isprintable() else printable(char)


def apply_saved(request: SavedApplyRequest, color: bool) -> None:
    """Apply a saved plan and report it: every check that can refuse it runs before the lock is
    taken (``engine.saved_apply``), so a refusal writes nothing."""
    with saved_apply(request, echo_warning) as saved:
        if saved.let_through:
            click.echo(
                f"Note: {saved.let_through} key(s) of this plan were not checked when it was "
                "made (their endpoint was not trusted then); it is trusted now. Plan again to "
                "have them checked.",
                err=True,
            )
        refuse_protected(saved.plan, color)
        secrets = saved.check_fresh()
        show_and_confirm(saved.plan, request.validate_keys, True, color)
        if saved.plan.summary.empty:
            print_head(saved.audit_head())
            return
        applied = saved.carry_out(secrets)
    report_applied(applied.plan, applied.events, color)


@click.command()
@click.argument("planfile", type=click.Path(dir_okay=False))
@store_option
@state_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@verbose_option
@click.pass_context
def show(
    ctx: click.Context,
    planfile: str,
    store_url: str,
    state: StateGiven | None,
    fmt: str,
    verbose: bool,
) -> None:
    """Print a saved plan (from plan -o) as plan prints it, for review.

    The plan is verified first against the store it is for (--store): a file modified after
    plan wrote it, or made for another store, is refused. With no store at that URL (reading a
    CI artifact on a laptop) it is printed with a warning on stderr that it is unverified;
    apply always verifies. A plan the store has moved past is printed with a note that apply
    will refuse it. Nothing is written. With --format markdown or json, a refused file still
    prints a document (its errors), as plan does.

    \b
    Examples:
      llmform show prod.plan
      llmform show --format markdown prod.plan > plan.md
      llmform show -v prod.plan          # catalog factories with their model lists
      llmform show --format json --store sqlite:////srv/llm/registry.db prod.plan
    """
    try:
        shown = show_saved(planfile, located(store_url, state), echo_warning)
    except LlmformError as exc:  # markdown and json still print a document: its errors
        echo_failure(exc, fmt)
        raise
    plan, note = shown.plan, shown.note
    if note:
        warn = paint("warning", "yellow", options_of(ctx).color(err=True))
        click.echo(f"{warn}: {printable(note)}", err=True)
        if fmt != "text":  # a document pasted into a pull request carries it too
            plan = replace(plan, warnings=(*plan.warnings, note))
    click.echo(render_plan(plan, fmt, options_of(ctx).color(), verbose), nl=False)
