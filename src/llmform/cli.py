"""The command line: parse options, call the library, print, map errors to exit codes.

Nothing else in llmform prints or exits. Every error a user can cause is an LlmformError and is
printed as a message; anything else is a bug and is reported as one, still without a traceback
(set LLMFORM_DEBUG=1 to see it).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

import click

from . import __version__
from .console import format_diagnostic, paint, use_color
from .errors import InputError, LlmformError, Severity
from .provider_types import PROVIDER_TYPES
from .validate import Validation, validate_paths


@dataclass(frozen=True)
class Options:
    no_color: bool

    def color(self, err: bool = False) -> bool:
        return use_color(sys.stderr if err else sys.stdout, self.no_color)


pass_options = click.make_pass_decorator(Options)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--no-color", is_flag=True, help="Plain output (also when NO_COLOR is set).")
@click.version_option(__version__, prog_name="llmform")
@click.pass_context
def cli(ctx: click.Context, no_color: bool) -> None:
    """Manage LLM provider configuration as code.

    \b
    Examples:
      llmform validate configs/               check YAML offline (the pre-commit hook)
      llmform plan configs/                   what would change in the store
      llmform plan -o ci.plan configs/        save a plan; later: llmform apply ci.plan
      llmform apply configs/                  plan, confirm with 'yes', apply
      llmform destroy -w staging              delete a workspace's resources, after a 'yes'
      llmform export > adopted.yaml           the store's state as YAML
      llmform audit --verify                  check the audit log's hash chain
      llmform catalog                         list the built-in factories
      llmform schema > llmform.schema.json    the JSON Schema, for editors

    The store is chosen with --store on each command or LLMFORM_STORE
    (default sqlite:///.llmform/llmform.db).
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
    help="Pass over named files that are not llmform's (no apiVersion, or no mention of "
    "llmform at all) instead of reporting them; the pre-commit hook uses this.",
)
@pass_options
def validate(options: Options, paths: tuple[str, ...], fmt: str, ignore_foreign: bool) -> None:
    """Check llmform YAML offline: syntax, schema, references, secret-reference syntax.

    PATHS are files or directories (scanned for *.yaml and *.yml); the default is the current
    directory. Exits 1 if any error was found, 0 otherwise (warnings alone pass).

    \b
    Examples:
      llmform validate
      llmform validate examples/quickstart
      llmform validate --format json prod.yaml staging.yaml
    """
    result = validate_paths(paths or (".",), ignore_foreign=ignore_foreign)
    if fmt == "json":
        click.echo(json.dumps(validation_json(result), indent=2))
    else:
        color = options.color(err=True)
        for diagnostic in result.diagnostics:
            click.echo(format_diagnostic(diagnostic, color), err=True)
        click.echo(validation_summary(result, color), err=True)
    sys.exit(0 if result.ok else 1)


def validation_summary(result: Validation, color: bool) -> str:
    errors = sum(d.severity is Severity.ERROR for d in result.diagnostics)
    warnings = len(result.diagnostics) - errors
    if errors:
        return paint(
            f"{errors} error(s), {warnings} warning(s); fix the errors and run again",
            "red",
            color,
        )
    state = result.state
    assert state is not None
    return paint(
        f"Valid: {result.files} file(s), {len(state.factories)} factories, "
        f"{len(state.workspaces)} workspaces, {len(state.configs)} configs"
        + (f", {warnings} warning(s)" if warnings else ""),
        "green",
        color,
    )


def validation_json(result: Validation) -> dict[str, object]:
    errors = sum(d.severity is Severity.ERROR for d in result.diagnostics)
    return {
        "valid": result.ok,
        "files": result.files,
        "errors": errors,
        "warnings": len(result.diagnostics) - errors,
        "diagnostics": [
            {
                "file": d.location.file,
                "line": d.location.line,
                "column": d.location.column,
                "severity": d.severity.value,
                "path": d.path,
                "message": d.message,
            }
            for d in result.diagnostics
        ],
    }


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the llmform format.

    \b
    Example (editor support through yaml-language-server):
      llmform schema > schema/llmform.schema.json
      # then at the top of a file:  # yaml-language-server: $schema=schema/llmform.schema.json
    """
    from .schema import schema_text

    click.echo(schema_text(), nl=False)


@cli.group(invoke_without_command=True)
@click.pass_context
def catalog(ctx: click.Context) -> None:
    """List the built-in factories (vendors, endpoints and model counts).

    \b
    Examples:
      llmform catalog
      llmform catalog import-ragflow llm_factories.json > factories.yaml
    """
    if ctx.invoked_subcommand is not None:
        return
    from .catalog import builtin_factories

    factories = builtin_factories()
    width = max(len(name) for name in factories)
    for name, factory in sorted(factories.items(), key=lambda kv: kv[0].lower()):
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
    from .catalog.ragflow import import_ragflow

    text = import_ragflow(file)
    if out is None:
        click.echo(text, nl=False)
    else:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)


def _register_state_commands() -> None:
    from .cli_destroy import destroy
    from .cli_state import COMMANDS

    for command in (*COMMANDS, destroy):
        cli.add_command(command)


_register_state_commands()


def _report(exc: LlmformError, no_color: bool) -> None:
    color = use_color(sys.stderr, no_color)
    if isinstance(exc, InputError):
        for diagnostic in exc.diagnostics:
            click.echo(format_diagnostic(diagnostic, color), err=True)
        return
    click.echo(f"{paint('error', 'red', color)}: {exc}", err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llmform`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="llmform", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except LlmformError as exc:
        _report(exc, "--no-color" in args)
        return 1
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except Exception as exc:  # a bug: say so plainly, without a traceback unless asked
        if os.environ.get("LLMFORM_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"error: internal error ({type(exc).__name__}); please report it "
            "with LLMFORM_DEBUG=1 output",
            err=True,
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
