"""Who is running llmform, and on which commit: one answer for the audit trail and the lock.

The actor is the first of: a CI system's user variable (``ci:NAME``), git's ``user.email``
(``git:EMAIL``), the operating system's user (``os:NAME``). The lock row names the same actor
(``ACTOR@HOST``), so a "locked by" message and the audit event of that run agree.

Values are recorded as given, except that bytes which are not UTF-8 (an environment variable or
git output in another encoding) are written as ``\\xNN`` escapes: the store keeps text, and
such a value must still name the run rather than fail it. They may hold control characters (a
newline in ``GITHUB_ACTOR``): whatever prints an actor escapes it (``console.printable``).
"""

from __future__ import annotations

import getpass
import os
import subprocess
from collections.abc import Mapping

CI_ACTORS = ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR", "CIRCLE_USERNAME")
CI_COMMITS = ("GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "CIRCLE_SHA1")


def as_text(value: str) -> str:
    """``value`` as text the store can keep: characters Python decoded from undecodable bytes
    (``surrogateescape``, as ``os.environ`` does) become ``\\xNN``, any other lone surrogate
    ``\\udcNN``; everything else is kept as it is."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that did not come from a byte
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _first_set(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = as_text(env.get(name) or "").strip()
        if value:
            return value
    return None


def current_actor(environ: Mapping[str, str] | None = None) -> str:
    """``ci:NAME``, ``git:EMAIL`` or ``os:NAME``: who runs this apply or holds this lock."""
    env = os.environ if environ is None else environ
    ci = _first_set(env, CI_ACTORS)
    if ci is not None:
        return f"ci:{ci}"
    email = git("config", "user.email")
    return f"git:{email}" if email else f"os:{_os_user()}"


def current_commit(environ: Mapping[str, str] | None = None) -> str | None:
    """The commit being applied: the CI system's, else git's HEAD, else None."""
    env = os.environ if environ is None else environ
    return _first_set(env, CI_COMMITS) or git("rev-parse", "HEAD")


def git(*args: str) -> str | None:
    """git's answer, or None when there is no git, no repository or no such setting. Output
    that is not UTF-8 is kept, escaped (``\\xNN``), rather than failing the run."""
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, timeout=5, check=True, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "backslashreplace").strip() or None


def _os_user() -> str:
    try:
        return as_text(getpass.getuser())
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry (a bare container)
        return str(os.getuid())
