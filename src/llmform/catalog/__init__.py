"""The built-in factory catalog: llmform YAML files shipped in ``catalog/data``."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from ..console import printable
from ..desired.build import check_documents
from ..desired.loader import load_text
from ..desired.model import Factory
from ..errors import InputError, LlmformError, has_errors


@cache
def builtin_factories() -> dict[str, Factory]:
    """Every built-in factory by name. The files are checked like user input, so a broken
    catalog fails loudly here (and in the tests) rather than producing odd plans."""
    documents = []
    diagnostics = []
    # the package's own folder, not importlib.resources: its import is ~10 ms of every command
    # (the package is installed as files; package-data ships the catalog beside this module)
    data = Path(__file__).with_name("data")
    for entry in sorted(data.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            loaded = load_text(f"<catalog>/{entry.name}", entry.read_text("utf-8"))
            documents.extend(loaded.documents)
            diagnostics.extend(loaded.diagnostics)
    state, problems = check_documents(documents, catalog={})
    diagnostics.extend(problems)
    if has_errors(diagnostics):
        raise InputError(diagnostics)
    return {name: replace(f, builtin=True) for name, f in state.factories.items()}


class UnknownFactoryError(LlmformError):
    pass


def catalog_factory(name: str, catalog: Mapping[str, Factory] | None = None) -> Factory:
    """The built-in factory called ``name``, whatever its case (``openai`` is ``OpenAI``);
    an unknown name is an error with the closest name and the command that lists them."""
    factories = builtin_factories() if catalog is None else catalog
    by_folded = {known.casefold(): factory for known, factory in factories.items()}
    found = by_folded.get(name.strip().casefold())
    if found is not None:
        return found
    close = difflib.get_close_matches(name.strip().casefold(), sorted(by_folded), n=1, cutoff=0.6)
    hint = f" (did you mean {by_folded[close[0]].name!r}?)" if close else ""
    raise UnknownFactoryError(
        f"no factory '{printable(name)}' in the built-in catalog{hint}; "
        "'llmform catalog' lists them"
    )


def factory_json(factory: Factory) -> dict[str, Any]:
    """One catalog factory as ``llmform catalog NAME --format json`` prints it; models in the
    catalog's order."""
    return {
        "name": factory.name,
        "type": factory.type,
        "api_base": factory.api_base,
        "tags": list(factory.tags),
        "models": [
            {
                "name": model.name,
                "type": list(model.types),
                "max_tokens": model.max_tokens,
                "tools": model.tools,
            }
            for model in factory.models
        ],
    }


def model_table(factory: Factory) -> list[str]:
    """A factory's models as a table with a header row: name, types, max_tokens, tools."""
    header = ("MODEL", "TYPES", "MAX_TOKENS", "TOOLS")
    rows = [
        (
            model.name,
            ", ".join(model.types),
            "-" if model.max_tokens is None else str(model.max_tokens),
            "yes" if model.tools else "no",
        )
        for model in factory.models
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        f"{name:<{widths[0]}}  {types:<{widths[1]}}  {tokens:>{widths[2]}}  {tools}".rstrip()
        for name, types, tokens, tools in [header, *rows]
    ]
