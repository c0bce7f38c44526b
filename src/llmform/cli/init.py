"""``llmform init``: create an empty store, the one command besides apply that creates one."""

from __future__ import annotations

import click

from ..console import printable
from ..targets import OpenMode
from .options import opened, store_option


@click.command()
@store_option
def init(store_url: str) -> None:
    """Create an empty store (the commands that only read never create one).

    Nothing happens to a store that exists already. apply creates a missing store by itself;
    init is for what needs the store first: a saved plan (plan -o), or a new store's owner and
    permissions set before anything is in it.

    \b
    Examples:
      llmform init
      llmform init --store sqlite:////srv/llm/registry.db
    """
    with opened(store_url, OpenMode.CREATE) as store:
        state = store.read()
        created = store.created
    if created:
        click.echo(f"Created the store {printable(store_url)} (empty, serial 0).")
    else:
        click.echo(
            f"The store {printable(store_url)} exists already (serial {state.serial}); "
            "nothing was changed."
        )
