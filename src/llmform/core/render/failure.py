"""The document ``plan --format markdown|json`` prints when there is no plan to show (invalid
input, a secret that cannot be resolved, a store error, a refused empty state), so that a
pull-request comment says why the plan failed. Text keeps its diagnostics on stderr.

The JSON has the plan's shape (PRODUCT §3): no changes, a zero summary, and the reasons in
``errors``, each with its message and, where known, file, line, column, YAML path and address.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...secrets.redaction import redact
from ...version import __version__
from ..problems import Problem
from ..unchanged import Unchanged
from .escape import json_dumps, md_code, md_lines, md_text
from .json import FORMAT_VERSION

FAILED = "Plan failed"


def failure_json(errors: Sequence[Problem], warnings: Sequence[str]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "llmform_version": __version__,
        "changes": [],
        "unchanged": Unchanged().to_json(),  # nothing was compared
        "summary": {"add": 0, "change": 0, "destroy": 0},
        "validation": [],
        "warnings": list(warnings),
        # a message may quote what a server said: masked like everything printed on stderr
        "errors": [{**e.to_json(), "message": redact(e.message)} for e in errors],
        # as a plan's: nothing was judged
        "policies": [],
        "policy_overrides": [],
    }


def render_failure_json(errors: Sequence[Problem], warnings: Sequence[str]) -> str:
    return json_dumps(failure_json(errors, warnings)) + "\n"


def render_failure_markdown(errors: Sequence[Problem], warnings: Sequence[str]) -> str:
    count = f"{len(errors)} error{'' if len(errors) == 1 else 's'}"
    lines = [
        "### llmform plan",
        "",
        f"**{FAILED}: {count}.** Nothing was planned; fix {'it' if len(errors) == 1 else 'them'} "
        "and run the plan again.",
        "",
        "**Errors**",
        "",
    ]
    for error in errors:
        where = f"{_text(error.where)}: " if error.where else ""
        path = f"{_code(error.path)}: " if error.path else ""
        lines.append(f"- {where}{path}{_text(redact(error.message))}")
    lines.append("")
    if warnings:
        lines += ["**Warnings**", "", *(f"- {_text(w)}" for w in warnings), ""]
    return md_lines(lines)


FailureRenderer = Callable[[Sequence[Problem], Sequence[str]], str]

FAILURE_RENDERERS: Mapping[str, FailureRenderer] = {
    "markdown": render_failure_markdown,
    "json": render_failure_json,
}


def _text(value: str) -> str:
    """Plain text in a list item, on one line (a message's own line breaks become spaces):
    nothing in it can become markup (``escape.md_text``)."""
    return md_text(" ".join(value.split()))


def _code(value: str) -> str:
    """A code span that nothing in ``value`` can end early (``escape.md_code``)."""
    return md_code(" ".join(value.split()))
