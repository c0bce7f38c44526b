"""Each cache's tag names every module whose code decides what it keeps (``RULES``): llmform's
modules the cache imports, at once or when needed, as the import graph of ``test_layout`` finds
them. A module left out would let a development install (whose version does not move) read
entries an earlier version of that module made."""

from __future__ import annotations

import os

import pytest
from test_layout import PACKAGE, graph, modules

from llmform.desired import built_cache, parsed_cache
from llmform.desired.packs import module_files


def imported_by(start: str) -> set[str]:
    edges = graph(modules())
    seen: set[str] = set()
    stack = [start]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(edges.get(name, ()))
    return {name.removeprefix(PACKAGE + ".") for name in seen}


@pytest.mark.parametrize(
    ("cache", "named"),
    [
        ("desired.parsed_cache", set(parsed_cache.RULES)),
        ("desired.built_cache", {*parsed_cache.RULES, *built_cache.RULES}),
    ],
)
def test_a_cache_tag_names_every_module_it_imports(cache: str, named: set[str]) -> None:
    missing = imported_by(f"{PACKAGE}.{cache}") - named
    assert not missing, f"{cache}'s tag does not name {sorted(missing)}"


def test_every_module_named_exists() -> None:
    for path in module_files({*parsed_cache.RULES, *built_cache.RULES}):
        assert os.path.isfile(path), path
