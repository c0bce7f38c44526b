"""Writes ``catalog/compiled.py``, the checked built-in catalog as data, from its YAML files:
``python -m llmform.catalog.write_compiled`` after editing ``catalog/data/*.yaml``
(tests/unit/test_catalog_compiled.py fails until it is run). See the catalog's docstring."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict

from . import catalog_digest, catalog_files, parse_catalog

COMPILED = os.path.join(os.path.dirname(__file__), "compiled.py")

HEADER = '''\
"""The built-in catalog, checked, as data: written by ``python -m llmform.catalog.write_compiled``
from ``catalog/data/*.yaml`` (DIGEST is theirs). Do not edit: edit the YAML and run it again
(tests/unit/test_catalog_compiled.py holds the two together).

Over 400 lines: as soon as the catalog has that many models; generated data, a line a model.
"""

# fmt: off
# ruff: noqa: E501
from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see the catalog's modules
if TYPE_CHECKING:
    from typing import Any
'''


def compiled_text() -> str:
    """The module's text for the catalog's YAML files as they are: a line for each factory and
    for each model, so that a change to the catalog is a readable change to the file."""
    files = catalog_files()
    factories = []
    for factory in parse_catalog(files).values():
        spec = asdict(factory)
        models = spec.pop("models")
        location = spec.pop("location")
        spec["location"] = (location["file"], location["line"], location["column"])
        head = repr(spec)[:-1]
        lines = "".join(f"        {model!r},\n" for model in models)
        factories.append(f"    {head}, 'models': [\n{lines}    ]}},\n")
    digest = f"DIGEST = {catalog_digest(files)!r}\n"
    return f"{HEADER}\n{digest}\nFACTORIES: list[dict[str, Any]] = [\n{''.join(factories)}]\n"


def main() -> int:
    with open(COMPILED, "w", encoding="utf-8") as handle:
        handle.write(compiled_text())
    print(f"wrote {COMPILED}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
