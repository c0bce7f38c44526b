"""Helpers for the independent regression tests of issue 9 (items 11-20, CI, acceptance),
written from the issue's words and the README only: how a user runs llmform, nothing inside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

LLMFORM = str(Path(sys.executable).with_name("llmform"))
REPO = Path(__file__).resolve().parent.parent.parent

# Settings a developer's or CI's environment may hold that would change what a test sees.
SETTINGS = (
    "LLMFORM_STORE",
    "LLMFORM_TRUSTED_ENDPOINTS",
    "LLMFORM_TRUSTED_ENDPOINTS_FILE",
    "LLMFORM_AUDIT_KEY",
    "LLMFORM_AUDIT_TRANSIT_KEY",
    "LLMFORM_ENCRYPTION_KEY",
    "LLMFORM_TRANSIT_KEY",
    "LLMFORM_DEBUG",
    "NO_COLOR",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_NAMESPACE",
    "LLMFORM_VAULT_AUTH",
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "BUILDKITE_BUILD_CREATOR",
    "CIRCLE_USERNAME",
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
    "BUILDKITE_COMMIT",
    "CIRCLE_SHA1",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)

# Runs a process as root without the capabilities that let root ignore file modes, so that a
# read-only file or directory is read-only to it, as it is to every other user.
WITHOUT_ROOT_OVERRIDES = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def isolate(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    """Work in ``cwd`` with none of the settings above, and key-check retries without waiting."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0")
    monkeypatch.chdir(cwd)


def url(path: Path) -> str:
    """The store URL of a file: four slashes before an absolute path."""
    return "sqlite:///" + str(path.absolute())


def state(
    api_base: str,
    *,
    models: Sequence[str] = ("m1",),
    key: str = "{env: LLMFORM_TEST_KEY}",
    workspace: str = "w",
    config: str = "c",
    extra: str = "",
) -> str:
    """One openai-compatible factory at ``api_base``, a workspace and a config using it."""
    declared = ", ".join(f"{{name: {m}, type: chat}}" for m in models)
    return (
        "apiVersion: llmform/v1\n"
        "factories:\n"
        "  - name: Local\n"
        "    type: openai-compatible\n"
        f"    api_base: {api_base}\n"
        f"    models: [{declared}]\n"
        "workspaces:\n"
        f"  - name: {workspace}\n"
        "configs:\n"
        f"  - name: {config}\n"
        f"    workspace: {workspace}\n"
        "    factory: Local\n"
        f"    api_key: {key}\n"
        f"    models: [{', '.join(models)}]\n" + extra
    )


def tree(root: Path) -> dict[str, bytes | str]:
    """Every file and link under ``root``: bytes for a file, 'link -> target' for a link."""
    found: dict[str, bytes | str] = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            found[name] = f"link -> {os.readlink(path)}"
        elif path.is_file():
            found[name] = path.read_bytes()
        elif path.is_dir():
            found[name + "/"] = b""
    return found


def llmform(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """``llmform ARGS`` as a process (stdin closed unless ``input``), with the test's settings
    removed from its environment unless given in ``env``."""
    environment = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    environment["LLMFORM_CHECK_BACKOFF"] = "0"
    environment.update(env or {})
    result = subprocess.run(
        [*prefix, LLMFORM, "--no-color", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        errors="backslashreplace",
    )
    both = result.stdout + result.stderr
    assert "Traceback" not in both and "internal error" not in both, both
    return result


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=environment
    ).stdout


def git_repo(path: Path) -> Path:
    """A git work tree with its own identity, untouched by the machine's global settings."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "tester@example.com")
    git(path, "config", "user.name", "Tester")
    git(path, "config", "commit.gpgsign", "false")
    return path


def copy_example(name: str, to: Path) -> Path:
    target = to / name
    shutil.copytree(REPO / "examples" / name, target)
    return target
