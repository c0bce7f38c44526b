"""``llmform init``: create an empty store, the one command besides apply that creates one."""

from __future__ import annotations

import click

from ..console import printable
from ..engine.store_commands import init_store
from ..targets import shown_url
from .options import StateGiven, echo_warning, located, state_option, store_option


@click.command()
@store_option
@state_option
def init(store_url: str, state: StateGiven | None) -> None:
    """Create an empty store (the commands that only read never create one).

    Nothing happens to a store that exists already. apply creates a missing store by itself;
    init is for what needs the store first: a saved plan (plan -o), or a new store's owner and
    permissions set before anything is in it.

    For MLflow's gateway (--store mlflow+http://...), init reads the gateway (so the URL and
    credentials are checked) and creates llmform's state of it in the state store (--state);
    it never creates an MLflow server nor changes anything in it.

    \b
    Examples:
      llmform init
      llmform init --store sqlite:////srv/llm/registry.db
      llmform init --store mlflow+https://mlflow.example.com
    """
    done = init_store(located(store_url, state), echo_warning)
    if done.state is not None:  # a target that keeps no state (MLflow's gateway): only read
        target, where = printable(shown_url(store_url)), printable(done.state)
        if done.created:
            click.echo(
                f"Created llmform's state of {target} in {where} (empty, serial 0); "
                f"{target} was only read: init creates and changes nothing there."
            )
        else:
            click.echo(
                f"llmform's state of {target} in {where} exists already (serial {done.serial}); "
                "nothing was changed."
            )
    elif done.created:
        click.echo(f"Created the store {printable(shown_url(store_url))} (empty, serial 0).")
    else:
        click.echo(
            f"The store {printable(shown_url(store_url))} exists already (serial {done.serial}); "
            "nothing was changed."
        )
