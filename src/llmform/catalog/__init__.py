"""The built-in factory catalog: llmform YAML files shipped in ``catalog/data``.

Every command needs the catalog, and the pre-commit hook pays for its start-up on every commit:
parsing and checking the YAML is about 6 ms of a one-file validate. So the checked catalog is
also shipped as data, ``compiled.py`` (written from the YAML by ``python -m
llmform.catalog.write_compiled``; tests/unit/test_catalog_compiled.py holds it to the YAML),
with the digest of the files it came from. The YAML stays the source: when its files are not
the ones the data came from (the catalog edited, the data not written again), they are parsed
and checked as before.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from functools import cache

from ..console import printable
from ..desired.build import check_documents
from ..desired.loader import load_text
from ..desired.model import Factory, Model
from ..desired.packs import sha256
from ..errors import InputError, LlmformError, Location, has_errors

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any

# the package's own folder, not importlib.resources: its import is ~10 ms of every command
# (the package is installed as files; package-data ships the catalog beside this module)
_HERE = os.path.dirname(__file__)
DATA = os.path.join(_HERE, "data")


def catalog_files() -> list[tuple[str, bytes]]:
    """The catalog's YAML files, by name, in order, as bytes."""
    found = []
    for name in sorted(os.listdir(DATA)):
        if name.endswith(".yaml"):
            with open(os.path.join(DATA, name), "rb") as handle:
                found.append((name, handle.read()))
    return found


def catalog_digest(files: list[tuple[str, bytes]]) -> str:
    """What the compiled data is held to: each file's name and bytes."""
    digest = sha256()
    for name, raw in files:
        digest.update(b"%s\0%d\0" % (name.encode(), len(raw)))
        digest.update(raw)
    result: str = digest.hexdigest()
    return result


@cache
def builtin_factories() -> dict[str, Factory]:
    """Every built-in factory by name: from the compiled data when it came from these YAML
    files, else from the files, checked like user input, so a broken catalog fails loudly here
    (and in the tests) rather than producing odd plans."""
    files = catalog_files()
    compiled = _compiled(catalog_digest(files))
    return compiled if compiled is not None else parse_catalog(files)


def parse_catalog(files: list[tuple[str, bytes]]) -> dict[str, Factory]:
    """The catalog's factories, parsed and checked from its YAML files."""
    documents = []
    diagnostics = []
    for name, raw in files:
        loaded = load_text(f"<catalog>/{name}", raw.decode("utf-8"))
        documents.extend(loaded.documents)
        diagnostics.extend(loaded.diagnostics)
    state, problems = check_documents(documents, catalog={})
    diagnostics.extend(problems)
    if has_errors(diagnostics):
        raise InputError(diagnostics)
    return {name: replace(f, builtin=True) for name, f in state.factories.items()}


def _compiled(digest: str) -> dict[str, Factory] | None:
    """The factories of the compiled data, or None when it is missing or came from other files
    (``write_compiled`` writes it). A Python module: its import is the interpreter's unmarshal
    of the cached bytecode, where a JSON file would be json's import (1 ms) and a parse."""
    try:
        from . import compiled
    except ImportError:
        return None
    if getattr(compiled, "DIGEST", None) != digest:
        return None
    return {spec["name"]: _factory(spec) for spec in compiled.FACTORIES}


def _factory(spec: dict[str, Any]) -> Factory:
    return Factory(
        name=spec["name"],
        type=spec["type"],
        api_base=spec["api_base"],
        tags=tuple(spec["tags"]),
        models=tuple(
            Model(
                name=model["name"],
                types=tuple(model["types"]),
                max_tokens=model["max_tokens"],
                tools=model["tools"],
                custom=model["custom"],
            )
            for model in spec["models"]
        ),
        builtin=spec["builtin"],
        location=Location(*spec["location"]),
    )


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
    import difflib  # start-up time: for this error only

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
