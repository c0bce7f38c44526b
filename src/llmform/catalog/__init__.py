"""The built-in factory catalog: llmform YAML files shipped in ``catalog/data``."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from importlib import resources

from ..errors import InputError, has_errors
from ..loader import load_text
from ..model import Factory


@cache
def builtin_factories() -> dict[str, Factory]:
    """Every built-in factory by name. The files are checked like user input, so a broken
    catalog fails loudly here (and in the tests) rather than producing odd plans."""
    from ..validate import check_documents

    documents = []
    diagnostics = []
    data = resources.files("llmform.catalog").joinpath("data")
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
