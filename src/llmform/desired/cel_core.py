"""The CEL library's compiled core, loaded without the rest of its package.

``import cel`` (common-expression-language) runs the package's ``__init__``, which imports the
library's command-line tool and with it typer, rich and prompt-toolkit: about 0.15-0.2 s, a
fifth of what 20 policies add to a 10,000-config validate and most of what they add to a small
one. llmform uses only what the Rust extension ``cel.cel`` defines (``compile``, ``Context``,
``Program``), so it loads that extension by itself. It is registered in ``sys.modules`` under
its own name, so that a later ``import cel`` (by anyone) reuses it: the extension can be
initialised once per process only (a second initialisation panics in pyo3-log).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType

EXTENSION = "cel.cel"


def load() -> ModuleType:
    """The extension module ``cel.cel`` (imported by now, or loaded alone)."""
    loaded = sys.modules.get(EXTENSION)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("cel")
    folders = package.submodule_search_locations if package is not None else None
    for folder in folders or ():
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "cel" + suffix)
            spec = importlib.util.spec_from_file_location(EXTENSION, path)
            if spec is None or spec.loader is None or not os.path.isfile(path):
                continue
            module = importlib.util.module_from_spec(spec)
            sys.modules[EXTENSION] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[EXTENSION]
                raise
            return module
    import cel  # laid out otherwise than this expects: the whole package, at its cost

    return cel
