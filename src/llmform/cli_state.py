"""The commands that touch a store: plan, apply, export, audit, force-unlock (and, in
cli_plans.py, show and the apply of a saved plan; init and destroy in their own modules).

Kept apart from cli.py (the offline commands) so that each stays readable; both only parse
options, call the library and print.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from .audit import AuditEvent, check_trail_extendable, detect_run
from .audit_keys import configured_chain_key
from .audit_trail import head_line, listing, matching, parse_head, read_copy, verify_trail
from .cli_options import opened, store_option
from .console import Progress, paint, printable, use_color
from .engine import (
    KeyChecker,
    apply_plan,
    key_check_error,
    plan_prepared,
    prepare,
    require_checked,
    require_trusted,
)
from .errors import LlmformError
from .files import FileWriteError, check_appendable, write_file
from .model import DesiredState
from .plan import Plan
from .plan_file import plan_mac_key, save_plan
from .protect import protection_error
from .secrets.chain import chain_from_env
from .secrets.crypto import Cipher, cipher_from_env
from .stores import OpenMode
from .stores.base import StalePlanError
from .trust_sources import configured_urls
from .validate import load_state

__all__ = ["COMMANDS", "check_audit_file", "opened", "store_option"]

workspace_option = click.option(
    "-w",
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="NAME",
    help="Limit the plan to this workspace (repeatable); everything else is left untouched.",
)


F = TypeVar("F", bound=Callable[..., Any])


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
            type=click.FloatRange(min=0),
            default=900.0,
            show_default=True,
            metavar="SECONDS",
            help="Reuse a key's valid/invalid verdict this long (0: always ask the provider).",
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
    from .check_results import ResultCache, default_cache_path
    from .check_targets import CheckTarget
    from .checks import CheckReport, RetryPolicy, run_checks

    try:
        base_delay = float(os.environ.get("LLMFORM_CHECK_BACKOFF", "1"))
    except ValueError:
        raise LlmformError("LLMFORM_CHECK_BACKOFF must be a number of seconds") from None
    cache = ResultCache(default_cache_path(), cache_ttl) if cache_ttl > 0 else None

    def check(targets: Sequence[CheckTarget]) -> CheckReport:
        return run_checks(
            targets,
            parallelism=parallelism,
            retry=RetryPolicy(base_delay=base_delay),
            cache=cache,
            progress=Progress("Key checks", "config"),
        )

    return check


@contextmanager
def configured_cipher() -> Iterator[Cipher | None]:
    """The cipher of LLMFORM_ENCRYPTION_KEY / LLMFORM_TRANSIT_KEY, if any, closed after."""
    cipher = cipher_from_env()
    try:
        yield cipher
    finally:
        close = getattr(cipher, "close", None)
        if close is not None:
            close()


def _color(no_color: bool, err: bool = False) -> bool:
    return use_color(sys.stderr if err else sys.stdout, no_color)


def _no_color(ctx: click.Context) -> bool:
    return bool(getattr(ctx.obj, "no_color", False))


def _render(plan: Plan, fmt: str, color: bool, verbose: bool = False) -> str:
    from .render import render

    return render(plan, fmt, color=color, verbose=verbose)


verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show the model lists of factories taken from the built-in catalog (by default one "
    "line each: name, 'built-in catalog', model count). JSON always has them.",
)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@store_option
@workspace_option
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Save the plan for apply.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are, 1 on error.",
)
@verbose_option
@click.option(
    "--no-secrets",
    is_flag=True,
    help="Plan without secret access (a pull request from a fork): compare references only, "
    "read no value (no Vault login, no environment lookup), skip the key checks. Such a plan "
    "says so and can never be applied.",
)
@key_check_options
@click.pass_context
def plan(
    ctx: click.Context,
    paths: tuple[str, ...],
    store_url: str,
    workspaces: tuple[str, ...],
    out: str | None,
    fmt: str,
    detailed_exitcode: bool,
    verbose: bool,
    no_secrets: bool,
    validate_keys: bool,
    parallelism: int,
    check_cache_ttl: float,
    trust_endpoints: tuple[str, ...],
) -> None:
    """Show what apply would change in the store.

    Validates PATHS (default: the current directory), resolves secrets, checks every key
    against its provider, reads the store and diffs. Nothing is written to the store (it is
    opened read-only). A store that does not exist yet is planned as new and empty (the plan
    says so; apply creates it); such a plan cannot be saved with -o. A key that fails its
    check is shown in the plan and makes the command exit 1. A key whose
    endpoint is not yet trusted is not sent anywhere: the plan says "not checked: endpoint
    not yet trusted" (exit 0, so the change can be reviewed) and apply refuses it.

    \b
    Examples:
      llmform plan examples/quickstart
      llmform plan -w prod -o prod.plan configs/
      llmform plan --format markdown --detailed-exitcode configs/ > plan.md
      llmform plan --no-validate-keys configs/     # offline: no provider calls
      llmform plan --trust-endpoint http://vllm.internal:8000/v1 configs/
      llmform plan --no-secrets --format markdown configs/   # a fork's pull request
      llmform plan -v configs/       # catalog factories with their model lists
    """
    try:
        state = load_state(paths or (".",))
        if no_secrets:
            result, store_exists = plan_without_secrets(state, store_url, workspaces)
        else:
            trusted = configured_urls(trust_endpoints, paths or (".",))
            check = key_checker(validate_keys, parallelism, check_cache_ttl)
            with opened(store_url, OpenMode.PLAN) as store, configured_cipher() as cipher:
                encrypted = cipher is not None  # a plan only says so; apply seals
                prepared = prepare(
                    state,
                    store,
                    chain_from_env(),
                    scope=workspaces,
                    check=check,
                    trusted=trusted,
                    encrypted=encrypted,
                )
                result = plan_prepared(
                    state, store, prepared, scope=workspaces, encrypted=encrypted
                )
                store_exists = store.exists
    except LlmformError as exc:
        _echo_failure(exc, fmt)
        raise
    click.echo(_render(result, fmt, _color(_no_color(ctx)), verbose), nl=False)
    consequence = "the plan cannot be applied" + (" and was not saved" if out else "")
    for error in (
        protection_error(result.refusals, consequence),
        key_check_error(result, consequence),
    ):
        if error is not None:
            raise error
    if out and not store_exists:
        raise LlmformError(
            f"the plan was not saved: the store {store_url} does not exist yet, and a saved "
            f"plan needs the store's key; create the store first with: llmform init --store "
            f"{store_url}, or apply without saving a plan (apply creates the store)"
        )
    if out:
        from .cli_plans import apply_command

        with opened(store_url, OpenMode.READ) as store:  # the MAC's key: only the store has it
            save_plan(result, out, plan_mac_key(store.fingerprint_key()))
        if no_secrets:
            click.echo(
                f"\nSaved the plan to {printable(out)}; made with --no-secrets, it is for review "
                "only and cannot be applied",
                err=True,
            )
        else:
            command = printable(apply_command(out, store_url, result))
            click.echo(f"\nSaved the plan to {printable(out)}; apply it with: {command}", err=True)
        if result.untrusted_keys:
            click.echo("(apply refuses it until the endpoints listed above are trusted)", err=True)
    if detailed_exitcode and not result.summary.empty:
        sys.exit(2)


def _echo_failure(exc: LlmformError, fmt: str) -> None:
    """In markdown and json, a failed plan still prints a document (its errors), so that a
    pull-request comment says why; text leaves the errors to stderr."""
    from .render import render_failure

    document = render_failure(exc, fmt)
    if document is not None:
        click.echo(document, nl=False)


def refuse_protected(plan: Plan, color: bool, consequence: str = "nothing was applied") -> None:
    """Show ``plan`` and refuse it if it would delete protected resources. Called before the
    lock is taken, so that a refused apply writes nothing, not even the lock row."""
    error = protection_error(plan.refusals, consequence)
    if error is not None:
        click.echo(_render(plan, "text", color), nl=False)
        raise error


def plan_without_secrets(
    state: DesiredState, store_url: str, scope: Sequence[str]
) -> tuple[Plan, bool]:
    """--no-secrets: no resolver and no cipher are made, so nothing logs in to Vault or reads
    a secret; whether values are to be sealed is taken from the variables' presence alone.
    Also returns whether the store exists."""
    encrypted = any(
        os.environ.get(name, "").strip()
        for name in ("LLMFORM_ENCRYPTION_KEY", "LLMFORM_TRANSIT_KEY")
    )
    with opened(store_url, OpenMode.PLAN) as store:
        prepared = prepare(state, store, None, scope=scope)
        return plan_prepared(state, store, prepared, scope=scope, encrypted=encrypted), store.exists


def _is_plan_file(paths: tuple[str, ...]) -> bool:
    if len(paths) != 1:
        return False
    path = Path(paths[0])
    return path.is_file() and path.suffix not in (".yaml", ".yml")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@store_option
@workspace_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option(
    "--lock-timeout",
    type=float,
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another apply to finish.",
)
@click.option(
    "--audit-file",
    type=click.Path(dir_okay=False),
    help="Also append audit events here as JSON Lines.",
)
@key_check_options
@click.pass_context
def apply(
    ctx: click.Context,
    paths: tuple[str, ...],
    store_url: str,
    workspaces: tuple[str, ...],
    auto_approve: bool,
    lock_timeout: float,
    audit_file: str | None,
    validate_keys: bool,
    parallelism: int,
    check_cache_ttl: float,
    trust_endpoints: tuple[str, ...],
) -> None:
    """Apply the configuration (or a saved plan) to the store.

    Given PATHS, plans (checking every key) and asks for confirmation; without a terminal,
    --auto-approve is required. A store that does not exist yet is created by the apply,
    together with its changes (a cancelled or failed apply creates nothing). Given one saved
    plan file, applies exactly that plan without
    asking, terminal or not (the saved plan is the approval, as in Terraform): it is refused
    if it was modified after plan wrote it, was made for another store, or the store or a
    secret changed since. Refuses when a key failed its check, unless --no-validate-keys, and
    before anything else when a key's endpoint is not trusted (see --trust-endpoint). The
    audit events are sealed with LLMFORM_AUDIT_KEY
    or LLMFORM_AUDIT_TRANSIT_KEY when set; the last line printed is the audit chain head
    ('Audit chain head: SEQ:HASH'), for llmform audit --verify --head.

    \b
    Examples:
      llmform apply examples/quickstart
      llmform plan -o prod.plan configs/ && llmform apply prod.plan
      llmform apply --auto-approve --audit-file audit.jsonl configs/
      llmform apply --trust-endpoint http://vllm.internal:8000/v1 configs/
    """
    color = _color(_no_color(ctx))
    if audit_file:
        check_audit_file(audit_file)
    if _is_plan_file(paths):
        if workspaces:
            raise LlmformError("-w/--workspace applies when planning, not to a saved plan")
        from .cli_plans import apply_saved

        trusted = configured_urls(trust_endpoints, ())
        apply_saved(paths[0], store_url, lock_timeout, audit_file, validate_keys, trusted, color)
        return
    if not auto_approve and not sys.stdin.isatty():
        raise LlmformError(
            "no terminal to confirm on; pass --auto-approve to apply without a prompt, or "
            "apply a saved plan (llmform plan -o FILE, then llmform apply FILE)"
        )
    resolver = chain_from_env()
    state = load_state(paths or (".",))
    trusted = configured_urls(trust_endpoints, paths or (".",))
    check = key_checker(validate_keys, parallelism, check_cache_ttl)
    mode = OpenMode.APPLY  # a store that does not exist yet is created by the apply
    # The audit key first: a bad or unusable one is refused before the store is touched.
    with (
        configured_chain_key(probe=True) as chain_key,
        opened(store_url, mode) as store,
        configured_cipher() as cipher,
    ):
        # Before anything else: a keyed trail is extended only with a key (the store's apply
        # enforces it again); refused here, the store is not even locked.
        check_trail_extendable(store.audit_events(), chain_key)
        # Secrets and key checks before the lock: slow checks must not hold up other applies.
        encrypted = cipher is not None
        prepared = prepare(
            state,
            store,
            resolver,
            scope=workspaces,
            check=check,
            trusted=trusted,
            encrypted=encrypted,
        )
        # Planned, shown, refused or confirmed before the lock, so that a refusal or a 'no'
        # writes nothing at all, not even the lock row; under the lock it is planned again.
        shown = plan_prepared(state, store, prepared, scope=workspaces, encrypted=encrypted)
        if validate_keys:  # keys whose endpoint is not trusted: refused before anything else
            require_trusted(None, prepared, store, trusted)
        show_and_confirm(shown, validate_keys, auto_approve, color)
        if shown.summary.empty:
            print_head(store.audit_events())
            return
        with store.lock("apply", lock_timeout):
            fresh = plan_prepared(state, store, prepared, scope=workspaces, encrypted=encrypted)
            to_apply = still_approved(
                shown, fresh, auto_approve, color, "apply", "nothing was applied"
            )
            if validate_keys:
                require_checked(to_apply)
            if to_apply.summary.empty:
                click.echo("Nothing to apply: another run made these changes meanwhile.")
                print_head(store.audit_events())
                return
            run = detect_run(to_apply.plan_id)
            result = apply_plan(
                to_apply,
                store,
                run,
                secrets=prepared.secrets,
                cipher=cipher,
                audit_file=audit_file,
                chain_key=chain_key,
            )
    report_applied(to_apply, result.events, color)


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
    click.echo(_render(plan, "text", color), nl=False)
    refused = protection_error(plan.refusals, "nothing was applied")
    if refused is not None:
        raise refused
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


def still_approved(
    shown: Plan, fresh: Plan, auto_approve: bool, color: bool, verb: str, consequence: str
) -> Plan:
    """Under the lock: the plan to carry out. A 'yes' approved the plan shown, so a store that
    changed since it was read is refused; with --auto-approve the fresh plan is carried out,
    shown first, and refused if it now meets protected resources. (A row edited without
    moving the serial is caught by the store's own check of each change's before.)"""
    if (fresh.lineage, fresh.serial) == (shown.lineage, shown.serial):
        return shown
    if not auto_approve:
        raise StalePlanError(
            f"the store changed while {verb} waited for 'yes' (serial {shown.serial} -> "
            f"{fresh.serial}); {consequence}; run llmform {verb} again"
        )
    click.echo(
        f"\nThe store changed while the plan above was made (serial {shown.serial} -> "
        f"{fresh.serial}); carrying out this plan instead:\n"
    )
    click.echo(_render(fresh, "text", color), nl=False)
    refused = protection_error(fresh.refusals, consequence)
    if refused is not None:
        raise refused
    return fresh


@click.command()
@store_option
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Write here, not stdout.")
def export(store_url: str, out: str | None) -> None:
    """Print the store's state as llmform YAML (secrets as references, never values).

    \b
    Example (adopt an existing registry):
      llmform export --store sqlite:///registry.db -o llmform.yaml && llmform plan llmform.yaml
    """
    from .export import export_yaml

    with opened(store_url, OpenMode.READ) as store:
        text = export_yaml(store.read())
    if out:
        write_file(out, text, private=False)
    else:
        click.echo(text, nl=False)


@click.command()
@store_option
@click.option(
    "--verify",
    "check",
    is_flag=True,
    help="Check the trail: its chain (with the audit key, if set), the store's count of "
    "applies, and --head / --audit-file if given; exit 1 on any break.",
)
@click.option(
    "--head",
    metavar="SEQ:HASH",
    help="With --verify: the chain head an apply printed ('Audit chain head: SEQ:HASH'); the "
    "trail must still hold that event, unchanged, and reach it unbroken.",
)
@click.option(
    "--audit-file",
    "copy_file",
    type=click.Path(dir_okay=False),
    help="With --verify: a copy written by apply --audit-file; every event in it must be in the "
    "store, unchanged, and the store must not end before it does.",
)
@click.option("-w", "--workspace", help="Only events of this workspace's resources.")
@click.option("--address", help="Only events of this resource address.")
@click.option("--since", metavar="ISO-TIME", help="Only events at or after this time.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
def audit(
    store_url: str,
    check: bool,
    head: str | None,
    copy_file: str | None,
    workspace: str | None,
    address: str | None,
    since: str | None,
    as_json: bool,
) -> None:
    """List audit events, or verify the trail.

    --verify checks the chain of seals. With LLMFORM_AUDIT_KEY (or LLMFORM_AUDIT_TRANSIT_KEY)
    set, every event sealed with the key is verified with it; without a key it proves only
    that the events agree with each other. A known head or an --audit-file copy also shows
    events removed from the end.

    \b
    Examples:
      llmform audit -w prod
      llmform audit --address config.prod/openai-main --since 2026-01-01
      llmform audit --verify
      llmform audit --verify --head 42:hmac-sha256:3f1c...   # from an apply's CI log
      llmform audit --verify --audit-file audit.jsonl
    """
    if (head or copy_file) and not check:
        raise click.UsageError("--head and --audit-file go with --verify")
    if check:
        known = parse_head(head) if head else None
        copy = read_copy(copy_file) if copy_file else []
        with configured_chain_key() as key, opened(store_url, OpenMode.READ) as store:
            events = store.audit_events()
            applies = store.read().serial
            report = verify_trail(events, key, head=known, copy=copy, applies=applies)
        if report.failures:
            raise LlmformError("\n".join(report.failures))
        for line in report.lines:
            click.echo(line)
        return
    with opened(store_url, OpenMode.READ) as store:
        shown = matching(store.audit_events(), workspace, address, since)
    if as_json:
        for event in shown:
            click.echo(json.dumps(event.to_json(), sort_keys=True))
    elif shown:
        for line in listing(shown):
            click.echo(line)


@click.command("force-unlock")
@click.argument("lock_id")
@store_option
def force_unlock(lock_id: str, store_url: str) -> None:
    """Release a lock left by a crashed run (its id is in the 'locked' error).

    \b
    Example:
      llmform force-unlock 3f2a9c1b7d4e
    """
    with opened(store_url, OpenMode.EXISTING) as store:
        released = store.force_unlock(lock_id)
    click.echo(
        f"Released lock {printable(released.lock_id)} held by {released.who} since "
        f"{printable(released.created_at)}."
    )


COMMANDS = (plan, apply, export, audit, force_unlock)
