"""plan and apply (a saved plan is applied by saved_plans.py, which also has show; export,
audit and force-unlock are in store.py, init and destroy in their own modules).

Kept apart from main.py (the offline commands) so that each stays readable; both only parse
options, call the library (``engine.plan_run``, ``engine.apply_run``) and print: the plan, the
prompt between planning and the lock, the outcome.
"""

from __future__ import annotations

import shlex
import sys

import click

from ..console import printable
from ..core.plan import Plan
from ..core.policy_results import policy_error
from ..core.protect import protection_error
from ..engine.apply import key_check_error
from ..engine.apply_run import ApplyRequest, planned_apply
from ..engine.plan_run import PlanRequest, run_plan, run_refresh_only
from ..engine.saved_apply import SavedApplyRequest
from ..engine.saved_plans import is_plan_file, save_plan
from ..errors import LlmformError
from ..files import FileWriteError, check_writable
from ..targets import shown_url
from .common import (
    audit_file_option,
    check_audit_file,
    echo_failure,
    key_check_options,
    key_checker,
    lock_timeout_option,
    print_head,
    render_plan,
    report_applied,
    show_and_confirm,
    show_replanned,
    verbose_option,
    workspace_option,
)
from .options import StateGiven, echo_warning, located, options_of, state_option, store_option
from .policy_options import overrides_of, policy_options
from .saved_plans import apply_command, apply_saved


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@store_option
@state_option
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
    "--refresh-only",
    is_flag=True,
    help="Report only what changed in the target outside llmform since llmform last applied "
    "(drift), proposing no change; reads no configuration (no PATHS) and no secret. With "
    "--detailed-exitcode: 0 without drift, 2 with. Cannot be saved with -o. A registry keeps "
    "llmform's state itself, so it has no drift to report.",
)
@click.option(
    "--no-secrets",
    is_flag=True,
    help="Plan without secret access (a pull request from a fork): compare references only, "
    "read no value (no Vault login, no environment lookup), skip the key checks. Such a plan "
    "says so and can never be applied.",
)
@key_check_options
@policy_options
@click.pass_context
def plan(
    ctx: click.Context,
    paths: tuple[str, ...],
    store_url: str,
    state: StateGiven | None,
    workspaces: tuple[str, ...],
    out: str | None,
    fmt: str,
    detailed_exitcode: bool,
    verbose: bool,
    refresh_only: bool,
    no_secrets: bool,
    validate_keys: bool,
    parallelism: int,
    check_cache_ttl: float,
    trust_endpoints: tuple[str, ...],
    policy_paths: tuple[str, ...],
    override_policies: tuple[str, ...],
    reason: str | None,
) -> None:
    """Show what apply would change in the store.

    Validates PATHS (default: the current directory), resolves secrets, checks every key
    against its provider, reads the store and diffs. Nothing is written to the store (it is
    opened read-only). A store that does not exist yet is planned as new and empty (the plan
    says so; apply creates it); such a plan cannot be saved with -o. A key that fails its
    check is shown in the plan and makes the command exit 1. A key whose
    endpoint is not yet trusted is not sent anywhere: the plan says "not checked: endpoint
    not yet trusted" (exit 0, so the change can be reviewed) and apply refuses it. The
    policies' verdicts are part of the plan: a hard failure, or a soft one not overridden with
    --override-policy NAME --reason TEXT, makes the command exit 1 (advisory ones only warn).
    Against a target that keeps no state of its own (MLflow's gateway), what changed there
    outside llmform since it last applied is shown first ("changed outside llmform");
    --refresh-only shows only that.

    \b
    Examples:
      llmform plan examples/quickstart
      llmform plan -w prod -o prod.plan configs/
      llmform plan --format markdown --detailed-exitcode configs/ > plan.md
      llmform plan --no-validate-keys configs/     # offline: no provider calls
      llmform plan --trust-endpoint http://vllm.internal:8000/v1 configs/
      llmform plan --no-secrets --format markdown configs/   # a fork's pull request
      llmform plan -v configs/       # catalog factories with their model lists
      llmform plan --refresh-only --detailed-exitcode --store mlflow+https://mlflow.internal
                     # drift only, for a scheduled job: exit 2 when there is some
      llmform plan --override-policy vault-keys --reason "break-glass, INC-123" configs/
    """
    if refresh_only:
        drifted = plan_refresh_only(ctx, paths, store_url, state, workspaces, out, fmt, verbose)
        if detailed_exitcode and drifted.drift:
            sys.exit(2)
        return
    try:
        overrides = overrides_of(override_policies, reason)
        where = located(store_url, state)
        if out:  # before anything is planned: a plan that cannot be saved is wasted
            check_plan_file(out)
        planned = run_plan(
            PlanRequest(
                paths,
                where,
                workspaces,
                saving=bool(out),
                no_secrets=no_secrets,
                checker=lambda: key_checker(validate_keys, parallelism, check_cache_ttl),
                trust_endpoints=trust_endpoints,
                overrides=overrides,
                policy_paths=policy_paths,
            ),
            echo_warning,
        )
    except LlmformError as exc:
        echo_failure(exc, fmt)
        raise
    result, mac_key = planned.plan, planned.mac_key
    not_saved = None
    if out and mac_key is None:
        shown = shown_url(store_url)
        not_saved = LlmformError(
            f"the plan was not saved: the store {shown} does not exist yet, and a saved "
            f"plan needs the store's key; create the store first with: llmform init --store "
            f"{shlex.quote(shown)}, or apply without saving a plan (apply creates the store)"
        )
    errors = [str(not_saved)] if not_saved else []
    click.echo(render_plan(result, fmt, options_of(ctx).color(), verbose, errors), nl=False)
    consequence = "the plan cannot be applied" + (" and was not saved" if out else "")
    for error in (
        protection_error(result.refusals, consequence),
        key_check_error(result, consequence),
        policy_error(result.policies, consequence),
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


def plan_refresh_only(
    ctx: click.Context,
    paths: tuple[str, ...],
    store_url: str,
    state: StateGiven | None,
    workspaces: tuple[str, ...],
    out: str | None,
    fmt: str,
    verbose: bool,
) -> Plan:
    """plan --refresh-only: print the drift (``engine.plan_run.run_refresh_only``). It reads
    no configuration, so PATHS are refused rather than silently unread; and it is not saved,
    since there is nothing in it to apply (llmform does not take drift into its state: the
    next apply puts the configuration back instead)."""
    try:
        if paths:
            raise LlmformError(
                "--refresh-only reads no configuration (drift is the target against llmform's "
                f"state): drop {' '.join(printable(p) for p in paths)}"
            )
        if out:
            raise LlmformError(
                "--refresh-only plans cannot be saved with -o: they propose nothing to apply; "
                "keep the report with --format json > FILE"
            )
        result = run_refresh_only(located(store_url, state), workspaces, echo_warning)
    except LlmformError as exc:
        echo_failure(exc, fmt)
        raise
    click.echo(render_plan(result, fmt, options_of(ctx).color(), verbose), nl=False)
    return result


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
@state_option
@workspace_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@lock_timeout_option
@audit_file_option
@key_check_options
@policy_options
@click.pass_context
def apply(
    ctx: click.Context,
    paths: tuple[str, ...],
    store_url: str,
    state: StateGiven | None,
    workspaces: tuple[str, ...],
    auto_approve: bool,
    lock_timeout: float,
    audit_file: str | None,
    validate_keys: bool,
    parallelism: int,
    check_cache_ttl: float,
    trust_endpoints: tuple[str, ...],
    policy_paths: tuple[str, ...],
    override_policies: tuple[str, ...],
    reason: str | None,
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
    ('Audit chain head: SEQ:HASH'), for llmform audit --verify --head. Refuses a plan that
    policies block (a hard failure, or a soft one not overridden); --override-policy NAME
    --reason TEXT lets a soft policy's failures through, and the audit trail records who did,
    why, and for which objects. A saved plan carries its overrides: give them to plan -o.

    \b
    Examples:
      llmform apply examples/quickstart
      llmform plan -o prod.plan configs/ && llmform apply prod.plan
      llmform apply --auto-approve --audit-file audit.jsonl configs/
      llmform apply --trust-endpoint http://vllm.internal:8000/v1 configs/
      llmform apply --override-policy vault-keys --reason "break-glass, INC-123" configs/
    """
    color = options_of(ctx).color()
    overrides = overrides_of(override_policies, reason)
    where = located(store_url, state)
    if audit_file:
        check_audit_file(audit_file)
    if len(paths) == 1 and is_plan_file(paths[0]):
        if workspaces:
            raise LlmformError("-w/--workspace applies when planning, not to a saved plan")
        if overrides or policy_paths:
            raise LlmformError(
                "--override-policy and --policy apply when planning, not to a saved plan: the "
                "plan records its verdicts and overrides; make it again with plan -o and them"
            )
        apply_saved(
            SavedApplyRequest(
                paths[0], where, lock_timeout, audit_file, validate_keys, trust_endpoints
            ),
            color,
        )
        return
    request = ApplyRequest(
        paths,
        where,
        workspaces,
        auto_approve=auto_approve,
        can_prompt=sys.stdin.isatty(),
        lock_timeout=lock_timeout,
        audit_file=audit_file,
        validate_keys=validate_keys,
        checker=lambda: key_checker(validate_keys, parallelism, check_cache_ttl),
        trust_endpoints=trust_endpoints,
        overrides=overrides,
        policy_paths=policy_paths,
    )
    with planned_apply(request, echo_warning) as planned:
        # shown, refused or confirmed before the lock: a refusal or a 'no' writes nothing
        show_and_confirm(planned.shown, validate_keys, auto_approve, color)
        if planned.shown.summary.empty:
            print_head(planned.audit_head())
            return
        applied = planned.carry_out(lambda shown, fresh: show_replanned(shown, fresh, color))
    if not applied.events:
        click.echo("Nothing to apply: another run made these changes meanwhile.")
        print_head(applied.head)
        return
    report_applied(applied.plan, applied.events, color)
