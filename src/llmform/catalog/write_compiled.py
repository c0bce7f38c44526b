"""Writes ``catalog/compiled.json``, the checked built-in catalog as data, from its YAML files:
``python -m llmform.catalog.write_compiled`` after editing ``catalog/data/*.yaml``
(tests/unit/test_catalog_compiled.py fails until it is run). See the catalog's docstring."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from . import COMPILED, catalog_digest, catalog_files, parse_catalog


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def compiled_text() -> str:
    """The data file's text for the catalog's YAML files as they are: a line for each factory
    and for each model, so that a change to the catalog is a readable change to the file."""
    files = catalog_files()
    factories = []
    for factory in parse_catalog(files).values():
        spec = asdict(factory)
        models = spec.pop("models")
        location = spec.pop("location")
        spec["location"] = [location["file"], location["line"], location["column"]]
        head = _json(spec)[:-1]
        lines = ",\n".join(f"    {_json(model)}" for model in models)
        factories.append(
            f'  {head}, "models": [\n{lines}\n  ]}}' if models else f'  {head}, "models": []}}'
        )
    body = ",\n".join(factories)
    return f'{{"digest": "{catalog_digest(files)}", "factories": [\n{body}\n]}}\n'


def main() -> int:
    with open(COMPILED, "w", encoding="utf-8") as handle:
        handle.write(compiled_text())
    print(f"wrote {COMPILED}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
