"""The command line: parse options, call the library, print, map errors to exit codes.

Nothing else in llmform prints or exits. Every error a user can cause is an LlmformError and is
printed as a message; anything else is a bug and is reported as one, still without a traceback
(set LLMFORM_DEBUG=1 to see it).
"""

from __future__ import annotations

import json
import sys

import click

from ..catalog import builtin_factories, catalog_factory, factory_json, model_table
from ..desired.provider_types import PROVIDER_TYPES
from ..desired.schema import schema_text
from ..files import write_file
from ..version import __version__
from .guard import run_guarded
from .options import Group, Options, group_state_option, group_store_option, pass_options
from .validating import validate_command

__all__ = ["Options", "cli", "pass_options", "run_click"]


# The commands that use a store, imported when run (see Group): the offline ones below
# (validate, schema, catalog) start without the engine, the HTTP client or the provider adapters.
STORE_COMMANDS = {
    "init": "llmform.cli.init:init",
    "plan": "llmform.cli.plan_apply:plan",
    "apply": "llmform.cli.plan_apply:apply",
    "show": "llmform.cli.saved_plans:show",
    "export": "llmform.cli.store:export",
    "audit": "llmform.cli.store:audit",
    "force-unlock": "llmform.cli.store:force_unlock",
    "destroy": "llmform.cli.destroy:destroy",
    "policy": "llmform.cli.policy_options:policy",
}


@click.group(
    cls=Group,
    lazy_commands=STORE_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--no-color", is_flag=True, help="Plain output (also when NO_COLOR is set).")
@group_store_option
@group_state_option
@click.version_option(__version__, prog_name="llmform")
@click.pass_context
def cli(ctx: click.Context, no_color: bool) -> None:
    """Manage LLM provider configuration as code.

    \b
    Examples:
      llmform validate configs/               check YAML offline (the pre-commit hook)
      llmform init                            create an empty store
      llmform plan configs/                   what would change in the store
      llmform plan -o ci.plan configs/        save a plan; later: llmform apply ci.plan
      llmform show ci.plan                    print a saved plan for review
      llmform apply configs/                  plan, confirm with 'yes', apply
      llmform destroy -w staging              delete a workspace's resources, after a 'yes'
      llmform export > adopted.yaml           the store's state as YAML
      llmform audit --verify                  check the audit log's hash chain
      llmform catalog                         list the built-in factories
      llmform catalog OpenAI                  one vendor's models
      llmform schema > llmform.schema.json    the JSON Schema, for editors

    The store is chosen with --store (before or after the command) or LLMFORM_STORE
    (default sqlite:///.llmform/llmform.db). Only init and apply create a store.

    Files that have not changed since a run found no problem in them are not parsed again:
    llmform keeps what it found in ~/.cache/llmform/parsed (LLMFORM_CACHE_DIR, else
    XDG_CACHE_HOME, moves it; LLMFORM_NO_CACHE=1 turns it off; it is safe to delete).
    """
    ctx.obj = Options(no_color=no_color)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--ignore-foreign",
    is_flag=True,
    help="Pass over named files that are not llmform's (another tool's YAML, or not YAML at "
    "all) instead of reporting them, and do not require an llmform document; a file that is "
    "almost llmform's (a misspelt apiVersion) is still an error. The pre-commit hook uses this.",
)
@click.option(
    "--whole-state",
    is_flag=True,
    help="Validate each named file with the state it belongs to: the file alone if everything "
    "it names is declared in it (and the files beside it use nothing it declares), else the "
    "llmform files of the nearest folder above it (up to the working directory) in which it "
    "is; report errors in the named files, and those the change to them makes in other files "
    "(compared with git's HEAD). The pre-commit hook uses this.",
)
@pass_options
def validate(
    options: Options, paths: tuple[str, ...], fmt: str, ignore_foreign: bool, whole_state: bool
) -> None:
    """Check llmform YAML offline: syntax, schema, references, secret-reference syntax, and
    policies: every rule compiled, and judged on the state (a hard failure is an error; a soft
    or advisory one a warning, since plan and apply enforce soft ones with their overrides).

    PATHS are files or directories (scanned for *.yaml and *.yml); the default is the current
    directory. Finding no llmform document is an error. Exits 1 if any error was found, 0
    otherwise (warnings alone pass).

    \b
    Examples:
      llmform validate
      llmform validate examples/quickstart
      llmform validate --format json prod.yaml staging.yaml
      llmform validate --ignore-foreign --whole-state llm/configs/prod.yaml   # as pre-commit
    """
    code = validate_command(
        paths,
        fmt=fmt,
        ignore_foreign=ignore_foreign,
        whole_state=whole_state,
        no_color=options.no_color,
        echo=click.echo,
    )
    sys.exit(code)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the llmform format.

    \b
    Example (editor support through yaml-language-server):
      llmform schema > schema/llmform.schema.json
      # then at the top of a file:  # yaml-language-server: $schema=schema/llmform.schema.json
    """
    click.echo(schema_text(), nl=False)


class _CatalogGroup(Group):
    """``llmform catalog [NAME]`` beside subcommands (``import-ragflow``): a first argument
    that names no subcommand is the vendor NAME, wherever it stands among the options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest: list[str] = []
        takes_value = {
            opt
            for param in self.params
            if not getattr(param, "is_flag", True)
            for opt in param.opts
        }
        index = 0
        while index < len(args):
            arg = args[index]
            index += 1
            if arg.startswith("-") and arg != "-":
                rest.append(arg)
                if arg in takes_value and index < len(args):
                    rest.append(args[index])
                    index += 1
            elif "catalog_name" in ctx.meta:
                raise click.UsageError(f"unexpected extra argument {arg!r}", ctx)
            elif arg in self.commands:
                rest += args[index - 1 :]
                break
            else:
                ctx.meta["catalog_name"] = arg
        return super().parse_args(ctx, rest)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[OPTIONS]", "[NAME | COMMAND [ARGS]...]"]


@cli.group(cls=_CatalogGroup, invoke_without_command=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the factories (or NAME's models) as data, for scripts.",
)
@click.pass_context
def catalog(ctx: click.Context, fmt: str) -> None:
    """List the built-in factories (vendors, endpoints and model counts), or with NAME one
    vendor's models: name, types, max_tokens, tools. NAME is matched whatever its case.

    \b
    Examples:
      llmform catalog
      llmform catalog OpenAI
      llmform catalog deepseek --format json
      llmform catalog import-ragflow llm_factories.json > factories.yaml
    """
    if ctx.invoked_subcommand is not None:
        return
    name = ctx.meta.get("catalog_name")
    if name is not None:
        factory = catalog_factory(name)
        if fmt == "json":
            click.echo(json.dumps(factory_json(factory), indent=2))
            return
        endpoint = factory.api_base or _no_default_endpoint(factory.type)
        click.echo(
            f"{factory.name}: {len(factory.models)} models, type {factory.type}, "
            f"endpoint {endpoint}"
        )
        if factory.models:
            click.echo()
            for line in model_table(factory):
                click.echo(line)
        else:
            click.echo("No models in the catalog: a config lists its own, as custom models.")
        return
    factories = sorted(builtin_factories().items(), key=lambda kv: kv[0].lower())
    if fmt == "json":
        listing = [
            {k: v for k, v in factory_json(f).items() if k != "models"} | {"models": len(f.models)}
            for _, f in factories
        ]
        click.echo(json.dumps(listing, indent=2))
        return
    width = max(len(name) for name, _ in factories)
    for name, factory in factories:
        click.echo(
            f"{name:<{width}}  {factory.type:<18} {len(factory.models):>3} models  "
            f"{factory.api_base or _no_default_endpoint(factory.type)}"
        )


def _no_default_endpoint(provider_type: str) -> str:
    derived = PROVIDER_TYPES[provider_type].endpoint_from
    return f"(from the config's {derived})" if derived else "(set api_base per config)"


@catalog.command("import-ragflow")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
def import_ragflow_command(file: str, out: str | None) -> None:
    """Convert RAGFlow's llm_factories.json into llmform factories YAML.

    Each vendor maps to its provider type where llmform knows it, and to openai-compatible
    otherwise.

    \b
    Example:
      llmform catalog import-ragflow conf/llm_factories.json -o factories.yaml
    """
    from ..catalog.ragflow import import_ragflow  # start-up time: for this one command only

    text = import_ragflow(file)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_file(out, text, private=False)


def run_click(args: list[str]) -> int:
    """Run the command line ``args`` through click (``entry.main``'s way for every command line
    but the fast path's)."""

    def click_main() -> int:
        try:
            cli.main(args=args, prog_name="llmform", standalone_mode=False)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            return 1
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code
        return 0

    return run_guarded(click_main, args, click.echo)
