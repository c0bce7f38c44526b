"""The commands that read or repair a store without planning: export, audit, force-unlock.

Kept apart from plan_apply.py (plan and apply); like every command module, they only parse
options, call the library (``engine.store_commands``) and print.
"""

from __future__ import annotations

import json

import click

from ..console import printable
from ..engine.store_commands import audit_events, export_store, verify_audit
from ..engine.store_commands import force_unlock as force_unlock_store
from ..errors import LlmformError
from ..files import write_file
from ..state.audit_trail import INVESTIGATE, listing, matching, parse_head, parse_since, read_copy
from .options import StateGiven, echo_warning, located, state_option, store_option


@click.command()
@store_option
@state_option
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Write here, not stdout.")
def export(store_url: str, state: StateGiven | None, out: str | None) -> None:
    """Print the store's state as llmform YAML (secrets as references, never values).

    \b
    Example (adopt an existing registry):
      llmform export --store sqlite:///registry.db -o llmform.yaml && llmform plan llmform.yaml
    """
    text = export_store(located(store_url, state), echo_warning)
    if out:
        write_file(out, text, private=False)
    else:
        click.echo(text, nl=False)


@click.command()
@store_option
@state_option
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
@click.option(
    "-w", "--workspace", metavar="NAME", help="Only events of this workspace's resources."
)
@click.option("--address", metavar="ADDRESS", help="Only events of this resource address.")
@click.option(
    "--since",
    metavar="ISO-TIME",
    help="Only events at or after this time: a date or a time, UTC unless it names its zone "
    "(2026-01-31, 2026-01-31T14:00+01:00).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
def audit(
    store_url: str,
    state: StateGiven | None,
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
    where = located(store_url, state)
    if check:
        known = parse_head(head) if head else None
        copy = read_copy(copy_file) if copy_file else []
        report = verify_audit(where, echo_warning, known, copy)
        if report.failures:
            raise LlmformError(*report.failures, INVESTIGATE)
        for line in report.lines:
            click.echo(line)
        return
    after = parse_since(since) if since is not None else None
    events = audit_events(where, echo_warning)
    shown = matching(events, workspace, address, after)
    if as_json:
        for event in shown:
            click.echo(json.dumps(event.to_json(), sort_keys=True))
    elif shown:
        for line in listing(shown):
            click.echo(line)
    elif events:  # said on stderr: stdout, which a script may read, stays empty
        click.echo(
            f"No audit event matches the filters ({len(events)} events in the store).", err=True
        )
    else:
        click.echo("No audit events: nothing was applied to this store.", err=True)


@click.command("force-unlock")
@click.argument("lock_id")
@store_option
@state_option
def force_unlock(lock_id: str, store_url: str, state: StateGiven | None) -> None:
    """Release a lock left by a crashed run (its id is in the 'locked' error).

    \b
    Example:
      llmform force-unlock 3f2a9c1b7d4e
    """
    released = force_unlock_store(located(store_url, state), lock_id, echo_warning)
    click.echo(
        f"Released lock {printable(released.lock_id)} held by {released.who} since "
        f"{printable(released.created_at)}."
    )
