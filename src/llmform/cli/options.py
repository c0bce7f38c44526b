"""Options that every command shares: ``--no-color`` and ``--store``, accepted before the
command (``llmform --store URL plan``) and after it (``llmform plan --store URL``; by the
commands that use no store too, which ignore it), and opening the store a command names.

Given in both places, the command's own ``--store`` wins (it is the nearer, more specific one);
then the one before the command, then ``LLMFORM_STORE``, then the default. ``--no-color``
anywhere turns colour off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace

import click

from ..console import printable, use_color
from ..targets import DEFAULT_STORE_URL, NoStoreError, OpenMode, Store, open_store

STORE_ENV = "LLMFORM_STORE"
_STORE_BEFORE = "llmform.store"  # ctx.meta (shared by a command and its group): --store before


@dataclass(frozen=True)
class Options:
    no_color: bool = False

    def color(self, err: bool = False) -> bool:
        return use_color(sys.stderr if err else sys.stdout, self.no_color)


pass_options = click.make_pass_decorator(Options, ensure=True)


def options_of(ctx: click.Context) -> Options:
    """The shared options of the command ``ctx`` runs (``--no-color`` before or after it)."""
    return ctx.obj if isinstance(ctx.obj, Options) else Options()


def _no_color_after(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.obj = replace(ctx.obj if isinstance(ctx.obj, Options) else Options(), no_color=True)


NO_COLOR_HELP = "Plain output (also when NO_COLOR is set)."

_no_color_option = click.option(
    "--no-color", is_flag=True, expose_value=False, callback=_no_color_after, help=NO_COLOR_HELP
)


# A command that uses no store (validate, schema, catalog) still takes --store after its name,
# as it does before it: one habit (or one CI variable in every command line) for all commands.
_unused_store_option = click.option(
    "--store", metavar="URL", expose_value=False, hidden=True, help="Not used by this command."
)


class Group(click.Group):
    """A group whose commands all accept ``--no-color`` and ``--store`` after their name too."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(param.name == "no_color" for param in cmd.params):
            _no_color_option(cmd)
        if not any("--store" in getattr(param, "opts", ()) for param in cmd.params):
            _unused_store_option(cmd)
        super().add_command(cmd, name)


def _store_before(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[_STORE_BEFORE] = value


def _store_url(ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    if value is not None:
        return value
    before = ctx.meta.get(_STORE_BEFORE)
    if isinstance(before, str):
        return before
    return os.environ.get(STORE_ENV) or DEFAULT_STORE_URL


STORE_HELP = (
    f"Target store URL: sqlite:///relative/path.db or sqlite:////absolute/path.db (env "
    f"{STORE_ENV}; default {DEFAULT_STORE_URL}). May also come before the command."
)

group_store_option = click.option(
    "--store",
    metavar="URL",
    expose_value=False,
    callback=_store_before,
    help=f"The store of the command that follows (env {STORE_ENV}).",
)

store_option = click.option(
    "--store", "store_url", metavar="URL", callback=_store_url, help=STORE_HELP
)


def echo_warnings(store: Store) -> None:
    for warning in store.warnings:
        click.echo(f"warning: {printable(warning)}", err=True)


@contextmanager
def opened(url: str, mode: OpenMode) -> Iterator[Store]:
    """The store at ``url`` opened as ``mode`` (see OpenMode), its warnings on stderr, closed
    after. Read-only commands: READ; plan: PLAN; apply: APPLY; destroy, force-unlock and apply
    of a saved plan: EXISTING; init: CREATE."""
    store = open_store(url, mode)
    try:
        echo_warnings(store)
        yield store
    finally:
        store.close()


@contextmanager
def existing_store(url: str, mode: OpenMode) -> Iterator[Store | None]:
    """``opened``, for a command that has nothing to do without a store (READ or EXISTING,
    neither creates one): None when there is none."""
    with ExitStack() as stack:
        try:
            store: Store | None = stack.enter_context(opened(url, mode))
        except NoStoreError:
            store = None
        yield store
