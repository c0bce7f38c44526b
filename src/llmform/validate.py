"""The offline pipeline: files -> documents -> schema -> semantic checks -> DesiredState."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import Diagnostic, InputError, has_errors
from .loader import Document, load_paths
from .model import DesiredState, Factory
from .schema import check_document
from .semantic import Broken, build_state


@dataclass(frozen=True)
class Validation:
    """Everything ``llmform validate`` found; ``state`` is None when there are errors."""

    state: DesiredState | None
    diagnostics: list[Diagnostic]
    files: int

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def check_documents(
    documents: list[Document], catalog: Mapping[str, Factory]
) -> tuple[DesiredState, list[Diagnostic]]:
    """Schema and semantic checks of loaded documents."""
    diagnostics: list[Diagnostic] = []
    broken: Broken = set()
    for document in documents:
        problems, rejected = check_document(document)
        diagnostics.extend(problems)
        broken.update((document.file, item) for item in rejected)
    state, semantic = build_state(documents, broken, catalog)
    return state, diagnostics + semantic


def validate_paths(
    paths: Iterable[str],
    catalog: Mapping[str, Factory] | None = None,
    *,
    ignore_foreign: bool = False,
) -> Validation:
    """Validate the desired state under ``paths`` offline: no store, no secrets, no network.

    ``ignore_foreign`` passes over named files that are not llmform's (see ``load_paths``).
    """
    from .catalog import builtin_factories

    with _collector_paused():
        loaded = load_paths(paths, ignore_foreign=ignore_foreign)
        state, diagnostics = check_documents(
            loaded.documents, builtin_factories() if catalog is None else catalog
        )
    all_diagnostics = sorted(loaded.diagnostics + diagnostics, key=Diagnostic.sort_key)
    files = len({d.file for d in loaded.documents})
    return Validation(None if has_errors(all_diagnostics) else state, all_diagnostics, files)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading makes hundreds of thousands of objects that all live until the state is built
    and form no reference cycles, so the cyclic garbage collector, triggered by the sheer
    number of allocations, walks them again and again for nothing: half the time of validating
    10,000 configs. Reference counting still frees whatever is dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_state(paths: Iterable[str]) -> DesiredState:
    """The desired state under ``paths``, or InputError listing every problem."""
    result = validate_paths(paths)
    if result.state is None:
        raise InputError(result.diagnostics)
    return result.state
