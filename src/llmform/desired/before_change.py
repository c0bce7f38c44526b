"""A state as it was before the change being checked, for the pre-commit hook.

``validate --whole-state`` checks the staged files with the state they belong to and reports
the errors in them. An error in a file the commit does not touch is either older than the
commit (someone else's, or an untracked draft: a warning) or made by it (a workspace removed
that a config elsewhere still names: an error). To tell them apart, the state is validated
again as it was before the change: the named files as git's HEAD has them (left out where
HEAD has none), the files the index deletes restored, every other file as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import Diagnostic, Severity
from .git_head import head_bytes, in_work_tree, staged_deletions
from .loader import (
    MAX_FILE_BYTES,
    Document,
    LoadCache,
    LoadResult,
    discover,
    load_bytes,
    load_cached,
)

Check = Callable[[list[Document]], list[Diagnostic]]  # schema and semantic checks
_Key = tuple[str, int, int, str, str]


def _key(diagnostic: Diagnostic) -> _Key:
    where = diagnostic.location
    return (where.file, where.line, where.column, diagnostic.path, diagnostic.message)


@dataclass(frozen=True)
class Before:
    """The errors of a state before the change, and the change in words."""

    errors: frozenset[_Key]
    made_by: str  # "made by the changes to a.yaml; the deletion of b.yaml"

    def lacks(self, diagnostic: Diagnostic) -> bool:
        """Whether ``diagnostic`` (spelt as a scan of the same folder spells it) is new."""
        return _key(diagnostic) not in self.errors


def errors_before(
    folder: str, named: Sequence[str], ignore_foreign: bool, cache: LoadCache, check: Check
) -> Before | None:
    """The state under ``folder`` before the changes to ``named`` and the staged deletions;
    None when git cannot tell (not a work tree, no git): every error in an unnamed file is
    then taken as older than the change."""
    if not os.path.isdir(folder) or not in_work_tree(folder):
        return None
    changed = {os.path.realpath(file) for file in named}
    files = [file for file, _ in discover([folder]).files]
    present = {os.path.realpath(file) for file in files}
    deleted = [file for file in staged_deletions(folder) if os.path.realpath(file) not in present]
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    for file in sorted(files + deleted):  # in the order a scan of the folder reads them
        real = os.path.realpath(file)
        if real in changed or file in deleted:
            result = load_at_head(file, explicit=False, ignore_foreign=ignore_foreign)
        else:  # as the scan of the folder loaded it
            result = load_cached(
                file, real, explicit=False, ignore_foreign=ignore_foreign, cache=cache
            )
        documents += result.documents
        diagnostics += result.diagnostics
    errors = frozenset(
        _key(d) for d in diagnostics + check(documents) if d.severity is Severity.ERROR
    )
    made_by = "made by the changes to " + ", ".join(named)
    if deleted:
        made_by += "; the deletion of " + ", ".join(deleted)
    return Before(errors, made_by)


def load_at_head(file: str, *, explicit: bool, ignore_foreign: bool) -> LoadResult:
    """``file`` loaded as git's HEAD has it (nothing: not in HEAD, no git)."""
    raw = head_bytes(file)
    if raw is None or len(raw) > MAX_FILE_BYTES:
        return LoadResult([], [])
    return load_bytes(file, raw, explicit=explicit, ignore_foreign=ignore_foreign)


def at_head(file: str, *, explicit: bool, ignore_foreign: bool) -> list[Document]:
    """The llmform documents of ``file`` as git's HEAD has it."""
    return load_at_head(file, explicit=explicit, ignore_foreign=ignore_foreign).documents
