"""The desired state file by file: each file's build taken from the cache of built files when
its bytes have not changed, or loaded (from the parsed-file cache when it can), built and its
trees dropped; then the checks across files and the state, from the builds alone
(``built.merged``). A plan after one file changed builds that one, and a cold run holds one
file's trees at a time.

Anything unusual (a file with a problem or policies, a check across files that fails, a path
that names nothing) gives None: the caller checks the whole state at once, as without a cache,
and reports every problem as it always has. So the state and the warnings are the same with the
cache and without it; only how they are made differs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from ..errors import Diagnostic
from .built import FileBuild, all_factories, build_file, built_with_others, factory_digest, merged
from .built_cache import BuiltCache
from .discovery import discover
from .loader import Document, LoadCache, _read
from .model import DesiredState, Factory, KnownDigest
from .parsed_cache import ParsedCache


@dataclass
class _File:
    file: str
    real: str
    explicit: bool
    key: str
    raw: bytes | None  # kept while the file may have to be built again
    build: FileBuild | None = None
    cached: bool = False


@dataclass(frozen=True)
class BuiltState:
    """The state the builds make, their warnings, how many files hold llmform documents, and
    what to keep of them for the next run (``remember``)."""

    state: DesiredState
    warnings: list[Diagnostic]
    files: int
    cache: BuiltCache
    builds: list[tuple[str, FileBuild]] = field(default_factory=list)

    def remember(self, made: Mapping[str, KnownDigest]) -> None:
        """Save the cache, with the digests of configs a plan ``made`` (by address): beside
        those the state came with, for the files kept."""
        if made:
            old = self.state.known_digests
            for key, build in self.builds:
                if any(config.address in made for config in build.configs):
                    self.cache.keep_known(key, build, lambda a: made.get(a) or old.get(a))
        self.cache.save()


@dataclass(frozen=True)
class _Run:
    parsed: ParsedCache
    cache: BuiltCache
    ignore_foreign: bool
    loaded: LoadCache  # files loaded with a problem: the whole state's checks take them


def load_built(
    paths: Iterable[str],
    catalog: Mapping[str, Factory],
    *,
    ignore_foreign: bool,
    parsed: ParsedCache,
    cache: BuiltCache,
    loaded: LoadCache,
) -> BuiltState | None:
    """The state under ``paths`` built file by file (None: check the whole state, with the
    files ``loaded`` with a problem; see the module's docstring)."""
    paths = list(paths)
    discovered = discover(paths)
    if discovered.diagnostics or not paths:
        return None
    run = _Run(parsed, cache, ignore_foreign, loaded)
    files: list[_File] = []
    for file, named in discovered.files:
        explicit = named and not ignore_foreign
        raw, problem = _read(file)
        if problem is not None or raw is None:
            return None
        key = parsed.key(raw, explicit=explicit, ignore_foreign=ignore_foreign)
        entry = _File(file, os.path.realpath(file), explicit, key, raw)
        entry.build = cache.build(file, key)
        if entry.build is not None:
            entry.cached, entry.raw = True, None
        files.append(entry)
    try:
        return _built(files, catalog, run, discovered.folders)
    except _Whole:
        return None


def _built(
    files: list[_File],
    catalog: Mapping[str, Factory],
    run: _Run,
    folders: Mapping[str, list[str]],
) -> BuiltState | None:
    context = all_factories([f.build for f in files if f.build is not None], catalog)
    if context is None:
        return None
    for entry in files:  # those not in the cache, with the factories known so far
        if entry.build is None:
            entry.build, own = _build(entry, run, context)
            context.update(own)
    for _ in range(2):  # a build that failed or used a factory the state overrides: again
        builds = [f.build for f in files if f.build is not None]
        factories = all_factories(builds, catalog) if len(builds) == len(files) else context
        if factories is None:
            return None
        digests = {name: factory_digest(factory) for name, factory in factories.items()}
        again = [f for f in files if f.build is None or built_with_others(f.build, digests)]
        if not again:
            return _state(folders, files, factories, run)
        for entry in again:
            if entry.raw is None and not _reread(entry, run):
                return None
            entry.build, own = _build(entry, run, factories)
            context.update(own)
    return None


def _reread(entry: _File, run: _Run) -> bool:
    """Read a file taken from the cache again, to build it afresh: False when it changed
    since (its build would be kept under the key of other bytes)."""
    raw, _ = _read(entry.file)
    explicit, ignore_foreign = entry.explicit, run.ignore_foreign
    if raw is None or run.parsed.key(raw, explicit=explicit, ignore_foreign=ignore_foreign) != (
        entry.key
    ):
        return False
    entry.raw, entry.cached = raw, False
    return True


class _Whole(Exception):
    """A file that only the whole state's checks can report on (a problem, policies)."""


def _build(
    entry: _File, run: _Run, factories: Mapping[str, Factory]
) -> tuple[FileBuild | None, dict[str, Factory]]:
    """The build of one file with ``factories``, its trees dropped after (None: it failed,
    perhaps for a factory declared in a file built after it)."""
    if entry.raw is None:
        return None, {}
    explicit, ignore_foreign = entry.explicit, run.ignore_foreign
    loaded = run.parsed.load(
        entry.file, entry.raw, explicit=explicit, ignore_foreign=ignore_foreign, key=entry.key
    )
    if loaded.diagnostics or not all(_buildable(d) for d in loaded.documents):
        run.loaded[entry.real, explicit, ignore_foreign] = loaded  # for the whole state's checks
        raise _Whole(entry.file)
    return build_file(entry.file, loaded.documents, factories)


def _buildable(document: Document) -> bool:
    return document.checked and not document.sources and "policies" not in document.data


def _state(
    folders: Mapping[str, list[str]],
    files: list[_File],
    factories: Mapping[str, Factory],
    run: _Run,
) -> BuiltState | None:
    parsed, cache = run.parsed, run.cache
    builds = [f.build for f in files if f.build is not None]
    state = merged(builds, factories)
    found = {f.real for f in files if f.build is not None and f.build.documents}
    if state is None or any(found.isdisjoint(reals) for reals in folders.values()):
        return None
    known: dict[str, KnownDigest] = {}
    kept: list[tuple[str, FileBuild]] = []
    for entry in files:
        assert entry.build is not None
        if entry.cached:
            known.update(cache.known(entry.key, entry.build))
            if parsed.read:  # written this run: the file's trees are kept for the next
                parsed.carry(entry.key)
        else:
            cache.keep(entry.key, entry.build)
        kept.append((entry.key, entry.build))
    warnings = [d for build in builds for d in build.warnings]
    documents = len({f.file for f in files if f.build is not None and f.build.documents})
    return BuiltState(replace(state, known_digests=known), warnings, documents, cache, kept)
