"""What command-line paths name: the files to read, in a stable order, each once; the YAML files
found in the folders given (through links, never a FIFO or a device); paths that do not exist."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import Diagnostic, Location, error

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Discovered:
    """What command-line paths name: (file, named explicitly) pairs in a stable order, the
    problems with the paths, and for each folder given the real paths of the files in it."""

    files: list[tuple[str, bool]]
    diagnostics: list[Diagnostic]
    folders: dict[str, list[str]]


def discover(paths: Iterable[str]) -> Discovered:
    """Expand command-line paths into files to read (see ``Discovered``)."""
    files: list[tuple[str, bool]] = []
    diagnostics: list[Diagnostic] = []
    folders: dict[str, list[str]] = {}
    # by real path, so that "a.yaml ./a.yaml" or "dir dir/a.yaml" read a file once instead of
    # reporting everything in it as duplicated by itself
    seen: set[str] = set()
    for given in paths:
        folder = as_pathlib_writes(given)
        if os.path.isdir(folder):
            found = sorted(_scan(folder))
            folders[given] = [os.path.realpath(file) for file in found]
            for file in found:
                if (real := os.path.realpath(file)) not in seen:
                    seen.add(real)
                    files.append((file, False))
        elif os.path.lexists(given):  # a symlink loop too: reading it reports the real cause
            if (real := os.path.realpath(given)) not in seen:
                seen.add(real)
                files.append((given, True))
        else:
            diagnostics.append(error(Location(given), "", "no such file or directory"))
    return Discovered(files, diagnostics, folders)


def as_pathlib_writes(given: str) -> str:
    """``str(Path(given))``, as a folder's files have always been named from it ("./llm/" ->
    "llm/prod.yaml"), without pathlib's import on POSIX (4 ms with what it imports, of the
    pre-commit hook's start-up): "." and empty parts dropped, ".." kept, "//" a root of its own.
    """
    if os.name == "nt":
        from pathlib import Path

        return str(Path(given))
    root = "/" if given.startswith("/") else ""
    if given.startswith("//") and not given.startswith("///"):
        root = "//"
    return root + "/".join(part for part in given.split("/") if part not in ("", ".")) or "."


def _scan(root: str) -> Iterator[str]:
    """The YAML files under ``root``: any case of the suffix (``prod.YAML``), and through
    symbolic links to folders (a folder shared between states), each real folder once. Passing
    over a file or folder of the state would plan the deletion of what it declares."""
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:  # a link loop, or a folder reached twice
            dirnames[:] = []
            continue
        visited.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.lower().endswith(YAML_SUFFIXES) and not name.startswith("."):
                path = os.path.join(dirpath, name)
                if not _special(path):
                    yield path


def _special(path: str) -> bool:
    """A FIFO, socket or device: reading one found by a scan could block forever. (Named
    explicitly it is read, as cat would: ``llmform validate <(generate)`` is a FIFO.)"""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # a dangling link: reading it reports why
