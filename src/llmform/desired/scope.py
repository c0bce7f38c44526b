"""Which state a file belongs to, for checking files one at a time (the pre-commit hook).

pre-commit hands over the staged files, not whole states: a config file staged alone names a
workspace declared in a file that was not staged. So each named file is validated with the
state it belongs to, which is the first of these in which everything the file refers to
(workspaces and factories of its configs, the configs of its workspaces' defaults) is declared:

1. the file itself (a state in one file), unless the nearest folder above it that holds other
   llmform files names what the file declares (or declared before the change, as git's HEAD
   has it), without declaring it: then that folder, whose files a change to the file can break;
2. the llmform files under the file's folder, then under each folder above it, up to the
   working directory (or, for a file outside it, the root of its git repository).

If no folder is, the one in which the fewest references are missing, the nearest first, so
that the error is about what is really missing (with the names around it to suggest). A
folder is never left for a folder above it once the file's references resolve, so separate
states side by side (examples/quickstart and examples/multi-workspace) stay separate. Errors
are reported in the named files only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .loader import Document

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any

# What a state declares: factory names, workspace names, (workspace, config) names.
Names = tuple[set[str], set[str], set[tuple[str, str]]]


@dataclass(frozen=True)
class Scope:
    """Paths validated together as one state; errors are reported in ``owners`` only."""

    paths: tuple[str, ...]
    owners: tuple[str, ...]


def find_scope(
    file: str,
    documents: Sequence[Document],
    catalog: Iterable[str],
    load_folder: Callable[[str], Sequence[Document]],
    previous: Callable[[str], Sequence[Document]] = lambda _: (),
) -> Scope:
    """The state ``file`` (whose llmform documents are ``documents``, and ``previous(file)``
    before the change being checked, as git's HEAD has them) belongs to."""
    builtin = set(catalog)
    needed = _references(documents)
    if _missing(needed, _declared(documents), builtin) == 0:
        # what it declares now or before the change; before (git, 10 ms) only when asked
        def names() -> Names:
            return _union(_declared(documents), _declared(previous(file)))

        return Scope((_used_by(file, names, load_folder) or file,), (file,))
    best: tuple[int, str] | None = None
    for folder in folders_up(file):
        missing = _missing(needed, _declared(load_folder(folder)), builtin)
        if best is None or missing < best[0]:
            best = (missing, folder)
        if missing == 0:
            break
    assert best is not None  # there is always the file's own folder
    return Scope((best[1],), (file,))


def _used_by(
    file: str, declared_by: Callable[[], Names], load_folder: Callable[[str], Sequence[Document]]
) -> str | None:
    """The nearest folder above ``file`` with other llmform files in it, if those name (without
    declaring it themselves) something ``file`` declares, or declared before the change: then
    ``file`` is part of their state, and removing or renaming what it declares breaks them. A
    folder whose files name nothing of it holds other states: ``file`` is a state of its own."""
    real = os.path.realpath(file)
    for folder in folders_up(file):
        others = [d for d in load_folder(folder) if os.path.realpath(d.file) != real]
        if not others:
            continue
        (factories, workspaces, configs), declared = _references(others), _declared(others)
        names = declared_by()
        uses = (
            (factories - declared[0]) & names[0]
            or (workspaces - declared[1]) & names[1]
            or (configs - declared[2]) & names[2]
        )
        return folder if uses else None
    return None


def _union(first: Names, second: Names) -> Names:
    return first[0] | second[0], first[1] | second[1], first[2] | second[2]


def folders_up(file: str) -> list[str]:
    """The folder of ``file``, then each one above it up to the boundary, as spelt from the
    file's own spelling (so that scanned paths read like the named one)."""
    boundary = _boundary(file)
    folders: list[str] = []
    folder = os.path.dirname(file) or "."
    while True:
        folders.append(folder)
        real = os.path.realpath(folder)
        if real == boundary or boundary not in _parents(real):
            return folders
        folder = os.path.normpath(os.path.join(folder, os.pardir))


def _boundary(file: str) -> str:
    """The working directory, for a file under it (pre-commit runs at the repository's root);
    otherwise the root of the file's git repository, or else its own folder."""
    here = os.path.realpath(os.getcwd())
    folder = os.path.dirname(os.path.realpath(file))
    if folder == here or here in _parents(folder):
        return here
    for parent in (folder, *_parents(folder)):
        if os.path.exists(os.path.join(parent, ".git")):
            return parent
    return folder


def _parents(real: str) -> list[str]:
    """The folders above ``real``, a real path (absolute, normalised), nearest first: its
    ``Path.parents`` without pathlib (4 ms of the pre-commit hook's start-up)."""
    found = []
    parent = os.path.dirname(real)
    while parent != real:
        found.append(parent)
        real, parent = parent, os.path.dirname(parent)
    return found


def merge(scopes: Iterable[Scope]) -> list[Scope]:
    """One scope per state: a folder inside another folder's scope is part of that one."""
    folders: dict[str, tuple[str, list[str]]] = {}  # real path -> (as spelt, owners)
    files: list[Scope] = []
    for scope in scopes:
        if len(scope.paths) == 1 and os.path.isdir(scope.paths[0]):
            real = os.path.realpath(scope.paths[0])
            folders.setdefault(real, (scope.paths[0], []))[1].extend(scope.owners)
        else:
            files.append(scope)
    merged: list[Scope] = []
    # in the order of their parts, as pathlib's paths sort ("/a/b" before "/a-c")
    for real, (spelt, _) in sorted(folders.items(), key=lambda item: item[0].split(os.sep)):
        if any(parent in folders for parent in _parents(real)):
            continue
        owners = [
            owner
            for inner, (_, inner_owners) in folders.items()
            if inner == real or real in _parents(inner)
            for owner in inner_owners
        ]
        merged.append(Scope((spelt,), tuple(dict.fromkeys(owners))))
    return merged + files


def _references(documents: Sequence[Document]) -> Names:
    factories: set[str] = set()
    workspaces: set[str] = set()
    configs: set[tuple[str, str]] = set()
    for document in documents:
        for config in _items(document.data, "configs"):
            workspace, factory = config.get("workspace"), config.get("factory")
            if isinstance(workspace, str):
                workspaces.add(workspace)
            if isinstance(factory, str):
                factories.add(factory)
        for workspace in _items(document.data, "workspaces"):
            name, defaults = workspace.get("name"), workspace.get("defaults")
            if isinstance(name, str) and isinstance(defaults, Mapping):
                for target in defaults.values():
                    if isinstance(target, str):
                        configs.add((name, target.partition("/")[0]))
    return factories, workspaces, configs


def _declared(documents: Sequence[Document]) -> Names:
    factories: set[str] = set()
    workspaces: set[str] = set()
    configs: set[tuple[str, str]] = set()
    for document in documents:
        factories.update(_names(_items(document.data, "factories")))
        workspaces.update(_names(_items(document.data, "workspaces")))
        for config in _items(document.data, "configs"):
            workspace, name = config.get("workspace"), config.get("name")
            if isinstance(workspace, str) and isinstance(name, str):
                configs.add((workspace, name))
    return factories, workspaces, configs


def _missing(needed: Names, declared: Names, builtin: set[str]) -> int:
    factories, workspaces, configs = needed
    return (
        len(factories - declared[0] - builtin)
        + len(workspaces - declared[1])
        + len(configs - declared[2])
    )


def _items(data: Mapping[str, Any], section: str) -> list[Mapping[str, Any]]:
    items = data.get(section)
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, Mapping)]


def _names(items: Iterable[Mapping[str, Any]]) -> Iterable[str]:
    return (name for item in items if isinstance(name := item.get("name"), str))
