"""Files as git's HEAD has them, for checking what a commit changes (the pre-commit hook).

A commit that stages one file of a state can break another file it does not touch (a
workspace removed that a config elsewhere still names). To tell such an error from one that
was there before, the hook validates the state again with the staged files as HEAD has them;
this module reads them. Everything here answers None (or nothing) when git cannot tell: no
git, not a work tree, a file HEAD does not have, an initial commit with no HEAD yet.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

_TIMEOUT = 30.0


def _git(folder: str, args: Sequence[str]) -> bytes | None:
    """``git -C folder ARGS``'s stdout, or None if git is missing or fails."""
    # start-up time: subprocess only when git is asked (the hook, on an error elsewhere)
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None or not os.path.isdir(folder):
        return None
    try:
        done = subprocess.run(
            [git, "-C", folder, *args],
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # read-only: take no index lock
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def in_work_tree(folder: str) -> bool:
    return _git(folder, ["rev-parse", "--is-inside-work-tree"]) == b"true\n"


def head_bytes(file: str) -> bytes | None:
    """``file`` as HEAD has it; None when HEAD has no such file (or git cannot tell). The file
    need not exist (a staged deletion), nor its folder."""
    path = os.path.abspath(file)
    folder = os.path.dirname(path)
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return _git(folder, ["show", f"HEAD:./{os.path.relpath(path, folder)}"])


def staged_deletions(folder: str) -> list[str]:
    """The files under ``folder`` (as paths joined to it) that the index deletes from HEAD:
    pre-commit hands a hook only the files that exist, so these are never named."""
    out = _git(
        folder, ["diff", "--cached", "--name-only", "--diff-filter=D", "-z", "--relative", "HEAD"]
    )
    if not out:
        return []
    return [os.path.join(folder, name) for name in out.decode(errors="replace").split("\0") if name]
