"""The offline pipeline: files -> documents -> schema -> semantic checks -> DesiredState."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from ..catalog import builtin_factories
from ..collector import collector_off
from ..errors import Diagnostic, InputError, Location, Severity, has_errors, warning
from .build import check_documents, checker
from .loader import Document, LoadCache, load_paths
from .model import DesiredState, Factory
from .parsed_cache import ParsedCache

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from .built_load import BuiltState
    from .model import KnownDigest
    from .scope import Scope

# Named files smaller than this in all are checked whole, not file by file through the cache of
# built files: building them costs less than that cache's modules and its pack take to load (a
# pre-commit hook's validate of the files a commit changed). A folder is always taken file by
# file. The two ways give the same state and problems (tests/integration/test_built_cache.py).
BY_FILE_FROM_BYTES = 256 * 1024


@dataclass(frozen=True)
class Validation:
    """Everything ``llmform validate`` found; ``state`` is None when there are errors."""

    state: DesiredState | None
    diagnostics: list[Diagnostic]
    files: int

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def validate_paths(
    paths: Iterable[str],
    catalog: Mapping[str, Factory] | None = None,
    *,
    ignore_foreign: bool = False,
    judge: bool = True,
) -> Validation:
    """Validate the desired state under ``paths`` offline: no store, no secrets, no network.

    ``ignore_foreign`` passes over named files that are not llmform's (see ``load_paths``).
    ``judge`` evaluates the policies on the state (a hard failure is an error).
    """
    validation, built = _validated(paths, catalog, ignore_foreign, judge)
    if built is not None:
        built.remember({})
    return validation


def _validated(
    paths: Iterable[str],
    catalog: Mapping[str, Factory] | None,
    ignore_foreign: bool,
    judge: bool,
) -> tuple[Validation, BuiltState | None]:
    """``validate_paths``, file by file through the caches when it can (``built_load``),
    else the whole state at once; the cache of built files is to be saved by the caller."""
    paths = list(paths)
    factories = builtin_factories() if catalog is None else catalog
    parsed = ParsedCache.for_paths(paths, ignore_foreign=ignore_foreign)
    built = None
    seen: LoadCache = {}  # files the first way loaded with a problem, for the second
    with collector_off():  # see collector.py
        if parsed is not None and _by_file(paths):
            from .built_cache import built_for  # see BY_FILE_FROM_BYTES
            from .built_load import load_built

            cache = built_for(parsed)
            built = load_built(
                paths,
                factories,
                ignore_foreign=ignore_foreign,
                parsed=parsed,
                cache=cache,
                loaded=seen,
            )
        if built is None:
            loaded = load_paths(paths, ignore_foreign=ignore_foreign, cache=seen, parsed=parsed)
            state, diagnostics = check_documents(loaded.documents, factories, judge=judge)
    if parsed is not None:
        parsed.save()
    if built is not None:
        warnings = sorted(built.warnings, key=Diagnostic.sort_key)
        return Validation(built.state, warnings, built.files), built
    all_diagnostics = sorted(loaded.diagnostics + diagnostics, key=Diagnostic.sort_key)
    files = len({d.file for d in loaded.documents})
    return Validation(None if has_errors(all_diagnostics) else state, all_diagnostics, files), None


def _by_file(paths: list[str]) -> bool:
    """Whether ``paths`` are worth building file by file (``BY_FILE_FROM_BYTES``)."""
    size = 0
    for path in paths:
        try:
            info = os.stat(path)
        except (OSError, ValueError):  # reported as always, by either way
            return True
        if not stat.S_ISREG(info.st_mode):
            return True
        size += info.st_size
    return size >= BY_FILE_FROM_BYTES


def validate_states_of(
    paths: Iterable[str],
    catalog: Mapping[str, Factory] | None = None,
    *,
    ignore_foreign: bool = False,
) -> Validation:
    """Validate each named file with the rest of the state it belongs to (see
    ``scope``), reporting errors in the named files only; a named folder is a state of
    its own, reported whole. For a hook handed some files of a state (pre-commit)."""
    # start-up time: what finds a file's state and compares with git's HEAD, for this alone
    from .before_change import at_head
    from .scope import Scope, find_scope, merge

    factories = builtin_factories() if catalog is None else catalog
    cache: LoadCache = {}
    paths = list(paths)
    parsed = ParsedCache.for_paths(paths, ignore_foreign=ignore_foreign)

    def load(folder: str) -> list[Document]:
        return load_paths(
            [folder], ignore_foreign=ignore_foreign, cache=cache, parsed=parsed
        ).documents

    def previous(file: str) -> list[Document]:
        return at_head(file, explicit=not ignore_foreign, ignore_foreign=ignore_foreign)

    diagnostics: list[Diagnostic] = []
    scopes: list[Scope] = []
    with collector_off():  # see collector.py
        for given in paths:
            if os.path.isdir(given):
                scopes.append(Scope((given,), ()))
                continue
            loaded = load_paths([given], ignore_foreign=ignore_foreign, cache=cache, parsed=parsed)
            if not loaded.documents:  # not llmform's, or broken: nothing to put in a state
                diagnostics.extend(loaded.diagnostics)
                continue
            scopes.append(find_scope(given, loaded.documents, factories, load, previous))
        states = [
            _check_scope(scope, factories, ignore_foreign, cache, parsed) for scope in merge(scopes)
        ]
    if parsed is not None:
        parsed.save()
    files: set[str] = set()
    merged = DesiredState({}, {}, {})
    for state, found, scope_files in states:
        diagnostics.extend(found)
        files.update(scope_files)
        merged = DesiredState(
            {**merged.factories, **state.factories},
            {**merged.workspaces, **state.workspaces},
            {**merged.configs, **state.configs},
            {**merged.policies, **state.policies},
        )
    diagnostics.sort(key=Diagnostic.sort_key)
    return Validation(None if has_errors(diagnostics) else merged, diagnostics, len(files))


def _check_scope(
    scope: Scope,
    catalog: Mapping[str, Factory],
    ignore_foreign: bool,
    cache: LoadCache,
    parsed: ParsedCache | None,
) -> tuple[DesiredState, list[Diagnostic], set[str]]:
    """The state of one scope, the diagnostics to report from it, and its files."""
    from .before_change import errors_before  # start-up time: see validate_states_of

    loaded = load_paths(scope.paths, ignore_foreign=ignore_foreign, cache=cache, parsed=parsed)
    state, found = check_documents(loaded.documents, catalog, judge=True)
    files = {os.path.realpath(d.file) for d in loaded.documents}
    everything = loaded.diagnostics + found
    if not scope.owners:  # a named folder: all of it is the user's to see
        return state, everything, files
    owners = {os.path.realpath(owner): owner for owner in scope.owners}
    reported: list[Diagnostic] = []
    elsewhere: list[Diagnostic] = []
    for diagnostic in everything:
        owner = owners.get(os.path.realpath(diagnostic.location.file))
        if owner is not None:  # spelt as named: "./a.yaml" from a scan of "." is "a.yaml"
            reported.append(replace(diagnostic, location=replace(diagnostic.location, file=owner)))
        elif diagnostic.severity is Severity.ERROR:
            elsewhere.append(diagnostic)
    folder = scope.paths[0]
    before = None
    if elsewhere:
        before = errors_before(folder, scope.owners, ignore_foreign, cache, checker(catalog))
    made = [d for d in elsewhere if before is not None and before.lacks(d)]
    reported += [replace(d, message=f"{d.message} ({before.made_by})") for d in made if before]
    if len(elsewhere) > len(made):
        reported.append(
            warning(
                Location(folder),
                "",
                f"{len(elsewhere) - len(made)} error(s) in other files of the state under "
                f"{folder!r}, not reported here; run 'llmform validate {folder}' to see them",
            )
        )
    return state, reported, files


def load_state(paths: Iterable[str]) -> DesiredState:
    """The desired state under ``paths``, or InputError listing every problem. Policies are
    compiled, not judged: plan and apply enforce them with their levels and overrides."""
    loaded = loading_state(paths)
    loaded.remember({})
    return loaded.state


@dataclass(frozen=True)
class LoadedState:
    """``load_state``'s state, and the cache of built files to save once a plan has made the
    digests of its configs (``remember``)."""

    state: DesiredState
    built: BuiltState | None = None  # None: checked whole, not through the cache

    def remember(self, made: Mapping[str, KnownDigest]) -> None:
        """Save the cache of built files, with the config digests a plan ``made``."""
        if self.built is not None:
            self.built.remember(made)


def loading_state(paths: Iterable[str]) -> LoadedState:
    """``load_state``, the cache of built files left to the caller to save (``remember``)."""
    result, built = _validated(paths, None, False, False)
    if result.state is None:
        raise InputError(result.diagnostics)
    return LoadedState(result.state, built)
