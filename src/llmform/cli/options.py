"""Options that every command shares: ``--no-color``, ``--store`` and ``--state``, accepted
before the command (``llmform --store URL plan``) and after it (``llmform plan --store URL``; by
the commands that use no store too, which ignore them), and where a command's backend is.

Given in both places, the command's own ``--store`` wins (it is the nearer, more specific one);
then the one before the command, then ``LLMFORM_STORE``, then the default; ``--state`` the same
way with ``LLMFORM_STATE`` (and no default: the registry keeps its own state). ``--no-color``
anywhere turns colour off.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import click

from ..console import printable, use_color
from ..state.urls import DEFAULT_STATE_URL, DEFAULT_STORE_URL

if TYPE_CHECKING:
    from ..engine.backend import Location

STORE_ENV = "LLMFORM_STORE"
STATE_ENV = "LLMFORM_STATE"
_STORE_BEFORE = "llmform.store"  # ctx.meta (shared by a command and its group): --store before
_STATE_BEFORE = "llmform.state"  # the same for --state


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
_unused_state_option = click.option(
    "--state", metavar="URL", expose_value=False, hidden=True, help="Not used by this command."
)


class Group(click.Group):
    """A group whose commands all accept ``--no-color``, ``--store`` and ``--state`` after
    their name too.

    ``lazy_commands`` names commands by where they are (``NAME: "module:attribute"``) instead
    of holding them: a command's module is imported when the command is run or listed (--help),
    so that one command does not pay for another's imports. validate, which the pre-commit hook
    runs on every commit, would otherwise import the engine, the HTTP client and the provider
    adapters that only plan and apply use."""

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = self.lazy_commands.get(cmd_name)
        if where is not None and cmd_name not in self.commands:
            module, _, attribute = where.partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.list_commands(ctx):
            # no such command: click suggests the nearest of those it holds ("Did you mean
            # 'plan'?"), so all are loaded first (an error's path, where start-up time is free)
            for name in self.lazy_commands:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(param.name == "no_color" for param in cmd.params):
            _no_color_option(cmd)
        if not any("--store" in getattr(param, "opts", ()) for param in cmd.params):
            _unused_store_option(cmd)
        if not any("--state" in getattr(param, "opts", ()) for param in cmd.params):
            _unused_state_option(cmd)
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
    f"Target store URL: sqlite:///relative/path.db or sqlite:////absolute/path.db, or "
    f"postgresql://USER@HOST:PORT/DBNAME (the password from PGPASSWORD or ~/.pgpass) (env "
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


def _state_before(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[_STATE_BEFORE] = value


@dataclass(frozen=True)
class StateGiven:
    """A ``--state`` URL and where it was given (named by the message that refuses it)."""

    url: str
    given_by: str


def _state_url(ctx: click.Context, _param: click.Parameter, value: str | None) -> StateGiven | None:
    if value is not None:
        return StateGiven(value, "--state")
    before = ctx.meta.get(_STATE_BEFORE)
    if isinstance(before, str):
        return StateGiven(before, "--state")
    from_env = os.environ.get(STATE_ENV)
    return StateGiven(from_env, STATE_ENV) if from_env else None


STATE_HELP = (
    "Where llmform keeps its state (lineage, serial, lock, audit trail) for a target that "
    "cannot keep it: an external system such as MLflow's gateway. The registry keeps its own; "
    f"default for external targets: {DEFAULT_STATE_URL} (env {STATE_ENV}). May also come "
    "before the command."
)

group_state_option = click.option(
    "--state",
    metavar="URL",
    expose_value=False,
    callback=_state_before,
    help=f"The state of the command that follows (env {STATE_ENV}).",
)

state_option = click.option("--state", "state", metavar="URL", callback=_state_url, help=STATE_HELP)


def located(store_url: str, state: StateGiven | None) -> Location:
    """Where a command's backend is, from its ``--store`` and ``--state``; a ``--state`` that
    does not fit is refused here, before the command reads or opens anything."""
    # start-up time: the engine (and the targets, the state's SQL) only for a command that
    # opens a backend, which imports it anyway; validate, schema and catalog never do
    from ..engine.backend import Location, check_state_url

    if state is None:
        return Location(store_url)
    where = Location(store_url, state.url, state.given_by)
    check_state_url(where)
    return where


def echo_warning(warning: str) -> None:
    """A warning found on opening a backend, on stderr."""
    click.echo(f"warning: {printable(warning)}", err=True)
