"""The document ``plan --format markdown|json`` prints when there is no plan to show (invalid
input, a secret that cannot be resolved, a store error, a refused empty state), so that a
pull-request comment says why the plan failed. Text keeps its diagnostics on stderr.

The JSON has the plan's shape (PRODUCT §3): no changes, a zero summary, and the reasons in
``errors``, each with its message and, where known, file, line, column, YAML path and address.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import __version__
from ..problems import Problem
from .json import FORMAT_VERSION

FAILED = "Plan failed"


def failure_json(errors: Sequence[Problem], warnings: Sequence[str]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "llmform_version": __version__,
        "changes": [],
        "summary": {"add": 0, "change": 0, "destroy": 0},
        "validation": [],
        "warnings": list(warnings),
        "errors": [e.to_json() for e in errors],
    }


def render_failure_json(errors: Sequence[Problem], warnings: Sequence[str]) -> str:
    return json.dumps(failure_json(errors, warnings), indent=2, ensure_ascii=False) + "\n"


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
        path = f"`{_code(error.path)}`: " if error.path else ""
        lines.append(f"- {where}{path}{_text(error.message)}")
    lines.append("")
    if warnings:
        lines += ["**Warnings**", "", *(f"- {_text(w)}" for w in warnings), ""]
    return "\n".join(lines)


FailureRenderer = Callable[[Sequence[Problem], Sequence[str]], str]

FAILURE_RENDERERS: Mapping[str, FailureRenderer] = {
    "markdown": render_failure_markdown,
    "json": render_failure_json,
}

_INLINE_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]|~"})


def _text(value: str) -> str:
    """Plain text in a list item: one line, HTML escaped, inline markup escaped (and a block
    marker at its start), so a message (which may quote a file name or a YAML key) cannot
    break out into markup."""
    text = html.escape(" ".join(value.split()), quote=False).translate(_INLINE_SPECIAL)
    return "\\" + text if text[:1] in ("#", "+", "-", "=", "!") else text


def _code(value: str) -> str:
    """Inside a code span: no backtick can end it early."""
    return " ".join(value.split()).replace("`", "'")
