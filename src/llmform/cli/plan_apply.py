"""plan and apply (a saved plan is applied by saved_plans.py, which also has show; export,
audit and force-unlock are in store.py, init and destroy in their own modules).

Kept apart from main.py (the offline commands) so that each stays readable; both only parse
options, call the library and print.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence

import click

from ..checks.trust_sources import configured_urls
from ..console import printable
from ..core.plan import Plan
from ..core.protect import protection_error
from ..desired.model import DesiredState
from ..desired.validate import load_state
from ..engine.apply import apply_plan, key_check_error, require_checked, require_trusted
from ..engine.plan import plan_prepared, prepare
from ..engine.saved_plans import is_plan_file, plan_mac_key, save_plan
from ..errors import LlmformError
from ..files import FileWriteError, check_writable
from ..secrets.chain import chain_from_env
from ..state.audit import check_trail_extendable, detect_run
from ..state.audit_keys import configured_chain_key
from ..targets import OpenMode, Store
from .common import (
    audit_file_option,
    check_audit_file,
    configured_cipher,
    echo_failure,
    key_check_options,
    key_checker,
    lock_timeout_option,
    print_head,
    render_plan,
    report_applied,
    show_and_confirm,
    still_approved,
    verbose_option,
    workspace_option,
)
from .options import opened, options_of, store_option
from .saved_plans import apply_command, apply_saved


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
        if out:  # before anything is planned: a plan that cannot be saved is wasted
            check_plan_file(out)
        state = load_state(paths or (".",))
        if no_secrets:
            result, mac_key = plan_without_secrets(state, store_url, workspaces, bool(out))
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
                mac_key = saved_plan_key(store) if out else None
    except LlmformError as exc:
        echo_failure(exc, fmt)
        raise
    not_saved = None
    if out and mac_key is None:
        not_saved = LlmformError(
            f"the plan was not saved: the store {store_url} does not exist yet, and a saved "
            f"plan needs the store's key; create the store first with: llmform init --store "
            f"{shlex.quote(store_url)}, or apply without saving a plan (apply creates the store)"
        )
    errors = [str(not_saved)] if not_saved else []
    click.echo(render_plan(result, fmt, options_of(ctx).color(), verbose, errors), nl=False)
    consequence = "the plan cannot be applied" + (" and was not saved" if out else "")
    for error in (
        protection_error(result.refusals, consequence),
        key_check_error(result, consequence),
        not_saved,
    ):
        if error is not None:
            raise error
    if out:
        save_plan(result, out, mac_key)
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


def plan_without_secrets(
    state: DesiredState, store_url: str, scope: Sequence[str], saving: bool = False
) -> tuple[Plan, bytes | None]:
    """--no-secrets: no resolver and no cipher are made, so nothing logs in to Vault or reads
    a secret; whether values are to be sealed is taken from the variables' presence alone.
    With ``saving``, also returns the key of the saved plan's MAC (``saved_plan_key``)."""
    encrypted = any(
        os.environ.get(name, "").strip()
        for name in ("LLMFORM_ENCRYPTION_KEY", "LLMFORM_TRANSIT_KEY")
    )
    with opened(store_url, OpenMode.PLAN) as store:
        prepared = prepare(state, store, None, scope=scope)
        plan = plan_prepared(state, store, prepared, scope=scope, encrypted=encrypted)
        return plan, saved_plan_key(store) if saving else None


def saved_plan_key(store: Store) -> bytes | None:
    """The key of a saved plan's MAC, which only the store holds; None for a store that does
    not exist yet (its key is made when apply creates it)."""
    return plan_mac_key(store.fingerprint_key()) if store.exists else None


def check_plan_file(path: str) -> None:
    """plan -o: the file can be written (its folder exists and is writable)."""
    try:
        check_writable(path)
    except OSError as exc:
        raise FileWriteError(
            f"cannot save the plan to {printable(path)}: {exc.strerror or exc}; nothing was planned"
        ) from None


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@store_option
@workspace_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@lock_timeout_option
@audit_file_option
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
    color = options_of(ctx).color()
    if audit_file:
        check_audit_file(audit_file)
    if len(paths) == 1 and is_plan_file(paths[0]):
        if workspaces:
            raise LlmformError("-w/--workspace applies when planning, not to a saved plan")
        trusted = configured_urls(trust_endpoints, ())
        apply_saved(paths[0], store_url, lock_timeout, audit_file, validate_keys, trusted, color)
        return
    # The files first: a path that does not exist (a saved plan's artifact that was not
    # downloaded) is named as such, not reported as a missing terminal.
    state = load_state(paths or (".",))
    if not auto_approve and not sys.stdin.isatty():
        raise LlmformError(
            "no terminal to confirm on; pass --auto-approve to apply without a prompt, or "
            "apply a saved plan (llmform plan -o FILE, then llmform apply FILE)"
        )
    resolver = chain_from_env()
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
        with store.lock("apply", lock_timeout) as lock:
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
            run = detect_run(to_apply.plan_id, actor=lock.actor)
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


COMMANDS = (plan, apply)
