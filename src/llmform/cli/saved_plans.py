"""The commands about saved plans: ``show``, and ``apply`` of a saved plan.

A saved plan is read and type-checked (``engine.saved_plans.read_plan``) before any store is
opened, verified against the store's key before anything in it is used, and checked against the
store (``engine.apply.check_fresh``) before the lock is taken, so that every refusal writes
nothing.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import replace

import click

from ..checks.trust import NormalUrl
from ..console import paint, printable
from ..core.plan import Plan
from ..engine.apply import (
    apply_plan,
    check_fresh,
    refusal_ahead,
    require_cipher,
    require_secrets_compared,
    require_trusted,
)
from ..engine.saved_plans import plan_mac_key, read_plan
from ..errors import LlmformError
from ..secrets.chain import chain_from_env
from ..state.audit import check_trail_extendable, detect_run
from ..state.audit_keys import configured_chain_key
from ..targets import OpenMode
from .common import (
    configured_cipher,
    echo_failure,
    print_head,
    refuse_protected,
    render_plan,
    report_applied,
    show_and_confirm,
    verbose_option,
)
from .options import existing_store, options_of, store_option


def apply_command(path: str, store_url: str, plan: Plan) -> str:
    """The command that applies the plan saved at ``path``, as a shell (a CI step) runs it:
    quoted, naming the store unless LLMFORM_STORE already does, and with --no-validate-keys
    when the plan's keys were not checked (apply refuses such a plan without it)."""
    words = ["llmform", "apply"]
    if store_url != os.environ.get("LLMFORM_STORE"):
        words += ["--store", shell_word(store_url)]
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


def apply_saved(
    path: str,
    store_url: str,
    lock_timeout: float,
    audit_file: str | None,
    validate_keys: bool,
    trusted: Sequence[NormalUrl],
    color: bool,
) -> None:
    """Apply a saved plan and report it: every check that can refuse it runs before the lock is
    taken, so a refusal writes nothing; the store checks serial and befores again as it
    writes."""
    saved = read_plan(path)
    # The audit key first: a bad or unusable one is refused before the store is touched.
    with (
        configured_chain_key(probe=True) as chain_key,
        existing_store(store_url, OpenMode.EXISTING) as store,
        configured_cipher() as cipher,
    ):
        if store is None:
            raise LlmformError(
                f"no store at {printable(store_url)}; a saved plan applies to the store it was "
                "made for: pass its URL with --store (or LLMFORM_STORE)"
            )
        plan = saved.verify(plan_mac_key(store.fingerprint_key()), store.display_url)
        require_secrets_compared(plan)  # a --no-secrets plan is for review only
        check_trail_extendable(store.audit_events(), chain_key)
        if validate_keys:  # keys whose endpoint is not trusted: refused before anything else
            let_through = require_trusted(plan, None, store, trusted)
            if let_through:
                click.echo(
                    f"Note: {let_through} key(s) of this plan were not checked when it was made "
                    "(their endpoint was not trusted then); it is trusted now. Plan again to "
                    "have them checked.",
                    err=True,
                )
        refuse_protected(plan, color)
        secrets = check_fresh(plan, store, chain_from_env())
        require_cipher(plan, cipher)
        show_and_confirm(plan, validate_keys, True, color)
        if plan.summary.empty:
            print_head(store.audit_events())
            return
        with store.lock("apply", lock_timeout) as lock:
            result = apply_plan(
                plan,
                store,
                detect_run(plan.plan_id, actor=lock.actor),
                secrets=secrets,
                cipher=cipher,
                audit_file=audit_file,
                chain_key=chain_key,
            )
    report_applied(plan, result.events, color)


@click.command()
@click.argument("planfile", type=click.Path(dir_okay=False))
@store_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@verbose_option
@click.pass_context
def show(ctx: click.Context, planfile: str, store_url: str, fmt: str, verbose: bool) -> None:
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
        saved = read_plan(planfile)
        with existing_store(store_url, OpenMode.READ) as store:
            if store is None:
                plan = saved.unverified()
                note = (
                    f"{planfile} is not verified: there is no store at {store_url} to check it "
                    "against (pass --store); apply verifies it and refuses a modified plan"
                )
            else:
                plan = saved.verify(plan_mac_key(store.fingerprint_key()), store.display_url)
                reason = refusal_ahead(plan, store)
                note = f"{reason}; apply will refuse this plan" if reason else ""
    except LlmformError as exc:  # markdown and json still print a document: its errors
        echo_failure(exc, fmt)
        raise
    if note:
        warn = paint("warning", "yellow", options_of(ctx).color(err=True))
        click.echo(f"{warn}: {printable(note)}", err=True)
        if fmt != "text":  # a document pasted into a pull request carries it too
            plan = replace(plan, warnings=(*plan.warnings, note))
    click.echo(render_plan(plan, fmt, options_of(ctx).color(), verbose), nl=False)


COMMANDS = (show,)
