"""Whether a store file is under version control, where a change under review can write it.

The key check trusts the endpoints a store holds because only a trusted run (an apply, after
review) writes them there. A store file committed to the repository being planned breaks that:
a pull request can commit a store of its own making, in which its endpoint counts as applied,
and the plan on that pull request would send it the keys. So a store file that git tracks, or
whose tracking git cannot tell, is not trusted for endpoints (``Store.applied_by_trusted_runs``)
and is warned about. A store outside any git work tree, or untracked in one (the default
``.llmform/llmform.db`` of a developer's clone), is unaffected.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 10.0


def version_control_warning(path: str) -> str | None:
    """Why the endpoints in the store file ``path`` are not trusted (git tracks it, or cannot
    say whether it does); None when it lies in no git work tree, or git does not track it."""
    real = Path(os.path.realpath(path))
    tree = next((folder for folder in real.parents if (folder / ".git").exists()), None)
    if tree is None:
        return None
    relative = real.relative_to(tree).as_posix()
    consequence = (
        "a change under review can rewrite it, so the endpoints in it are not trusted for key "
        "checks (trust them with LLMFORM_TRUSTED_ENDPOINTS or --trust-endpoint)"
    )
    tracked = _tracked(tree, relative)
    if tracked is None:
        return (
            f"the store file {path} lies in the git work tree {tree} and git could not say "
            f"whether it tracks it; until it can, {consequence}; keep the store outside the "
            "repository"
        )
    if tracked:
        return (
            f"git tracks the store file {path} (in {tree}): {consequence}; keep the store "
            f"outside the repository, and untrack it with: git rm --cached {relative}"
        )
    return None


def _tracked(tree: Path, relative: str) -> bool | None:
    """Whether git tracks ``relative`` in ``tree`` (committed or staged); None if it cannot
    say (no git, a repository it refuses, such as one owned by another user)."""
    command = [
        "git",
        "-c",
        "core.fsmonitor=false",  # no hook of the repository's runs
        "--literal-pathspecs",
        "-C",
        str(tree),
        "ls-files",
        "--error-unmatch",
        "--",
        relative,
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(done.returncode)
