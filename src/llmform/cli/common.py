"""What the commands that plan or change a store share (plan, apply, show, destroy): the
key-check options and checker, rendering a plan, and showing, refusing or confirming it before
the lock is taken, and showing the plan made again under it (the engine decides which is
carried out: ``engine.apply_run.approved_under_lock``)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..checks.results import ResultCache, default_cache_path
from ..collector import collecting_new_objects
from ..console import Progress, paint
from ..core.plan import Plan
from ..core.policy_results import policy_error
from ..core.protect import protection_error
from ..core.render import render, render_failure
from ..engine.apply import require_checked
from ..engine.plan import KeyChecker
from ..errors import LlmformError
from ..files import FileWriteError, check_appendable
from ..state.audit import AuditEvent
from ..state.audit_trail import head_line

if TYPE_CHECKING:
    from ..checks.subjects import CheckTarget  # imports httpx: see key_checker

workspace_option = click.option(
    "-w",
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="NAME",
    help="Limit the plan to this workspace (repeatable); everything else is left untouched.",
)


F = TypeVar("F", bound=Callable[..., Any])


class Seconds(click.FloatRange):
    """A duration: 0 or more seconds (``inf``: no limit). NaN is refused: every comparison
    with it is false, so a NaN timeout would wait forever and a NaN TTL would mean nothing."""

    name = "number of seconds"

    def __init__(self) -> None:
        super().__init__(min=0)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{seconds} is not a number of seconds.", param, ctx)
        return seconds


audit_file_option = click.option(
    "--audit-file",
    type=click.Path(dir_okay=False),
    help="Also append audit events here as JSON Lines (checked before anything is applied).",
)
lock_timeout_option = click.option(
    "--lock-timeout",
    type=Seconds(),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another apply to finish.",
)


def key_check_options(command: F) -> F:
    """--no-validate-keys, --parallelism, --check-cache-ttl and --trust-endpoint, shared by
    plan and apply."""
    options = (
        click.option(
            "--validate-keys/--no-validate-keys",
            default=True,
            show_default=True,
            help="Check every key against its provider (the plan says when skipped).",
        ),
        click.option(
            "--parallelism",
            type=click.IntRange(min=1),
            default=10,
            show_default=True,
            metavar="N",
            help="At most N key-check requests in flight.",
        ),
        click.option(
            "--check-cache-ttl",
            type=Seconds(),
            default=900.0,
            show_default=True,
            metavar="SECONDS",
            help="Reuse a key's valid/invalid verdict this long (0: always ask the provider; "
            "its answers still replace the cached ones).",
        ),
        click.option(
            "--trust-endpoint",
            "trust_endpoints",
            multiple=True,
            metavar="URL",
            help="Also send keys to this endpoint and the paths below it (repeatable), e.g. "
            "--trust-endpoint https://llm.example.com/v1. Keys go only to trusted endpoints: "
            "the built-in catalog's, those already applied to the store, this flag, "
            "LLMFORM_TRUSTED_ENDPOINTS and the file LLMFORM_TRUSTED_ENDPOINTS_FILE names.",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def key_checker(validate: bool, parallelism: int, cache_ttl: float) -> KeyChecker | None:
    """run_checks with the command line's options; None with --no-validate-keys. The backoff
    base (1 s) can be lowered with LLMFORM_CHECK_BACKOFF, for tests and impatient CI jobs."""
    if not validate:
        return None
    # start-up time: the runner (asyncio, the HTTP pools) only for a command that checks keys
    from ..checks.run import CheckReport, RetryPolicy, run_checks

    setting = os.environ.get("LLMFORM_CHECK_BACKOFF", "1")
    try:
        base_delay = float(setting)
    except ValueError:
        base_delay = math.nan
    # inf would wait forever at the first retry, NaN makes the wait itself fail
    if not (math.isfinite(base_delay) and base_delay >= 0):
        raise LlmformError(
            f"LLMFORM_CHECK_BACKOFF={setting!r} must be a number of seconds, 0 or more (the "
            "first retry's wait; default 1)"
        )
    # with a ttl of 0 no answer is taken from the cache, but every one the providers give is
    # recorded in it, replacing older ones
    cache = ResultCache(default_cache_path(), cache_ttl)

    def check(targets: Sequence[CheckTarget]) -> CheckReport:
        # the requests' cycles are collected, not what the run had built (see collector.py)
        with collecting_new_objects():
            return run_checks(
                targets,
                parallelism=parallelism,
                retry=RetryPolicy(base_delay=base_delay),
                cache=cache,
                progress=Progress("Key checks", "config"),
            )

    return check


def render_plan(
    plan: Plan, fmt: str, color: bool, verbose: bool = False, errors: Sequence[str] = ()
) -> str:
    return render(plan, fmt, color=color, verbose=verbose, errors=errors)


verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show the model lists of factories taken from the built-in catalog (by default one "
    "line each: name, 'built-in catalog', model count). JSON always has them.",
)


def echo_failure(exc: LlmformError, fmt: str) -> None:
    """In markdown and json, a failed plan still prints a document (its errors), so that a
    pull-request comment says why; text leaves the errors to stderr."""
    document = render_failure(exc, fmt)
    if document is not None:
        click.echo(document, nl=False)


def refuse_protected(plan: Plan, color: bool, consequence: str = "nothing was applied") -> None:
    """Show ``plan`` and refuse it if it would delete protected resources. Called before the
    lock is taken, so that a refused apply writes nothing, not even the lock row."""
    error = protection_error(plan.refusals, consequence)
    if error is not None:
        click.echo(render_plan(plan, "text", color), nl=False)
        raise error


def report_applied(plan: Plan, events: Sequence[AuditEvent], color: bool) -> None:
    """The summary of an apply, then the audit chain head for the CI log to keep."""
    summary = plan.summary
    click.echo(
        paint(
            f"\nApply complete! Resources: {summary.add} added, {summary.change} changed, "
            f"{summary.destroy} destroyed.",
            "green",
            color,
        )
    )
    print_head(events)


def print_head(events: Sequence[AuditEvent]) -> None:
    """``Audit chain head: SEQ:HASH`` of the last of ``events`` (none: nothing to print)."""
    if events:
        click.echo(head_line(events[-1]))


def check_audit_file(path: str, consequence: str = "nothing was applied") -> None:
    """Before anything is applied: an --audit-file that cannot be written stops the run."""
    try:
        check_appendable(path)
    except OSError as exc:
        raise FileWriteError(
            f"cannot write the audit copy to {path}: {exc.strerror or exc}; {consequence}"
        ) from None


def show_and_confirm(plan: Plan, validate_keys: bool, auto_approve: bool, color: bool) -> None:
    """Print the plan; refuse protected deletions and failed key checks; ask unless
    --auto-approve (or nothing to do). Called before the lock: a refusal writes nothing."""
    click.echo(render_plan(plan, "text", color), nl=False)
    refused = protection_error(plan.refusals, "nothing was applied")
    if refused is not None:
        raise refused
    blocked = policy_error(plan.policies, "nothing was applied")
    if blocked is not None:
        raise blocked
    if validate_keys:
        require_checked(plan)
    if plan.summary.empty or auto_approve:
        return
    click.echo()
    answer = click.prompt(
        "Apply these changes? Only 'yes' is accepted", default="", show_default=False
    )
    if answer != "yes":
        raise LlmformError("apply cancelled; nothing was changed")


def show_replanned(shown: Plan, fresh: Plan, color: bool) -> None:
    """--auto-approve, under the lock: the store changed since the plan shown, so the plan made
    again is carried out instead (``engine.apply_run.approved_under_lock``); shown first."""
    click.echo(
        f"\nThe store changed while the plan above was made (serial {shown.serial} -> "
        f"{fresh.serial}); carrying out this plan instead:\n"
    )
    click.echo(render_plan(fresh, "text", color), nl=False)
