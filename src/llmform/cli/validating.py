"""``llmform validate``'s run and output, without click: the click command (cli/commands.py) and
the console script's fast path for the pre-commit hook's command line (cli/entry.py) both call
``validate_command``, so that the two cannot print differently."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..console import format_diagnostic, paint, use_color
from ..desired.validate import Validation, validate_paths, validate_states_of
from ..errors import Severity
from .guard import Echo


def validate_command(
    paths: Sequence[str],
    *,
    fmt: str,
    ignore_foreign: bool,
    whole_state: bool,
    no_color: bool,
    echo: Echo,
) -> int:
    """Validate ``paths`` (the current directory if none), print the result with ``echo``;
    the exit code: 1 if any error was found, else 0."""
    check = validate_states_of if whole_state else validate_paths
    result = check(paths or (".",), ignore_foreign=ignore_foreign)
    if fmt == "json":
        import json  # start-up time: for this format only

        echo(json.dumps(validation_json(result), indent=2))
    else:
        color = use_color(sys.stderr, no_color)
        for diagnostic in result.diagnostics:
            echo(format_diagnostic(diagnostic, color), err=True)
        echo(validation_summary(result, color), err=True)
    return 0 if result.ok else 1


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
    if not result.files:  # --ignore-foreign: nothing was llmform's
        return paint("Nothing to check: no llmform document among the files given", "green", color)
    return paint(
        f"Valid: {result.files} file(s), {len(state.factories)} factories, "
        f"{len(state.workspaces)} workspaces, {len(state.configs)} configs"
        + (f", {len(state.policies)} policies" if state.policies else "")
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
