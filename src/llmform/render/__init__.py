"""Renderers of a Plan: ``text`` (the terminal, like Terraform), ``markdown`` (a pull-request
comment) and ``json`` (machines). Pure: a Plan in, a string out; the CLI decides on colour.

A renderer never prints a secret fingerprint: sensitive values appear only as
``(sensitive value)`` / ``(sensitive value changed)`` or as a path in JSON's ``sensitive``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ..plan import Plan
from .json import render_json
from .markdown import render_markdown
from .text import render_text


class Renderer(Protocol):
    def __call__(self, plan: Plan, color: bool = False) -> str: ...


RENDERERS: Mapping[str, Renderer] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
}


def render(plan: Plan, fmt: str, color: bool = False) -> str:
    """``plan`` in the format ``fmt`` (a key of ``RENDERERS``); ``color`` applies to text only."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        known = ", ".join(RENDERERS)
        raise ValueError(f"unknown plan format {fmt!r}; use one of {known}") from None
    return renderer(plan, color)


__all__ = ["RENDERERS", "Renderer", "render", "render_json", "render_markdown", "render_text"]
