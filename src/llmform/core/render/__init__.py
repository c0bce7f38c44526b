"""Renderers of a Plan: ``text`` (the terminal, like Terraform), ``markdown`` (a pull-request
comment) and ``json`` (machines). Pure: a Plan in, a string out; the CLI decides on colour.

A renderer never prints a secret fingerprint: sensitive values appear only as
``(sensitive value)`` / ``(sensitive value changed)`` or as a path in JSON's ``sensitive``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ...errors import LlmformError
from ..plan import Plan
from ..problems import problems_of
from .drift import render_text_with_drift
from .failure import FAILURE_RENDERERS
from .json import render_json
from .markdown import render_markdown
from .text import render_text


class Renderer(Protocol):
    def __call__(
        self, plan: Plan, color: bool = False, verbose: bool = False, errors: Sequence[str] = ()
    ) -> str: ...


RENDERERS: Mapping[str, Renderer] = {
    "text": render_text_with_drift,  # render_text, after what changed outside llmform
    "markdown": render_markdown,
    "json": render_json,
}


def render(
    plan: Plan, fmt: str, color: bool = False, verbose: bool = False, errors: Sequence[str] = ()
) -> str:
    """``plan`` in the format ``fmt`` (a key of ``RENDERERS``); ``color`` applies to text only,
    ``verbose`` (catalog factories' model lists in full) to text and markdown. ``errors``: why
    a plan that is shown failed, besides what the plan holds itself (its refusals and failed
    keys), such as a plan that could not be saved: markdown and json list them; text leaves
    them to stderr."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        known = ", ".join(RENDERERS)
        raise ValueError(f"unknown plan format {fmt!r}; use one of {known}") from None
    return renderer(plan, color, verbose, errors)


def render_failure(exc: LlmformError, fmt: str) -> str | None:
    """The document that stands for a plan that failed with ``exc``, in ``fmt``; None for
    text, whose diagnostics go to stderr."""
    renderer = FAILURE_RENDERERS.get(fmt)
    if renderer is None:
        return None
    errors, warnings = problems_of(exc)
    return renderer(errors, warnings)


__all__ = [
    "RENDERERS",
    "Renderer",
    "render",
    "render_failure",
    "render_json",
    "render_markdown",
    "render_text",
]
