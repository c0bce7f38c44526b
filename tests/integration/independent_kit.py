"""What the independent tests of issue 9 share: the CLI run in-process, a few states, snapshots.

These tests were written from the issue's words and the README only (commands, flags,
variables, file names), as an outside regression suite would be, so they assert what the issue
promises (exit codes, nothing written, no secret in any output, a message naming the problem)
rather than our exact wording, except where the README gives the wording.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmform.cli import main

# Variables of the user's or the CI's environment that would change what a command does.
_ENVIRONMENT = (
    "LLMFORM_STORE",
    "LLMFORM_AUDIT_KEY",
    "LLMFORM_AUDIT_TRANSIT_KEY",
    "LLMFORM_TRANSIT_MOUNT",
    "LLMFORM_TRANSIT_KEY",
    "LLMFORM_ENCRYPTION_KEY",
    "LLMFORM_TRUSTED_ENDPOINTS",
    "LLMFORM_TRUSTED_ENDPOINTS_FILE",
    "LLMFORM_VAULT_AUTH",
    "LLMFORM_DEBUG",
    "LLMFORM_CHECK_BACKOFF",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_NAMESPACE",
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "BUILDKITE_BUILD_CREATOR",
    "CIRCLE_USERNAME",
    "NO_COLOR",
)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


class Cli:
    """``llmform ARGS`` in this process, in a working directory of its own."""

    def __init__(self, capsys: pytest.CaptureFixture[str], cwd: Path) -> None:
        self.capsys = capsys
        self.cwd = cwd

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # click's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = self.capsys.readouterr()
        text = out + err
        assert "Traceback" not in text, text
        assert "internal error" not in text.lower(), text
        return Result(code, out, err)


def make_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """What each test file's ``cli`` fixture returns: a clean environment, ``tmp_path`` as
    the working directory."""
    for name in _ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CORP_KEY", "sk-corp-" + "A1b2C3d4" * 4)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-demo")
    monkeypatch.chdir(tmp_path)
    return Cli(capsys, tmp_path)


def url(path: Path) -> str:
    """The store URL of an absolute path (four slashes)."""
    assert path.is_absolute()
    return f"sqlite:///{path}"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def snapshot(root: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every file and folder under root (mode and bytes, or a link's target): what 'nothing
    written' compares."""
    seen: dict[str, tuple[int, bytes | str]] = {}
    if not root.exists():
        return seen
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                seen[rel] = (st.st_mode, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                seen[rel] = (st.st_mode, "dir")
            else:
                seen[rel] = (st.st_mode, path.read_bytes())
    return seen


def sql(db: Path, statement: str, *params: object) -> list[tuple[object, ...]]:
    """A statement on the registry, as someone with write access to the file would run it."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute(statement, params).fetchall()
    connection.close()
    return rows


def lines_starting(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith(prefix)]


def section(text: str, heading: str) -> str:
    """The lines from the one starting with ``heading`` to the next blank line."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.lstrip().startswith(heading):
            end = next((i for i in range(index, len(lines)) if not lines[i].strip()), len(lines))
            return "\n".join(lines[index:end])
    return ""


CORP_KEY = "sk-corp-" + "A1b2C3d4" * 4

# A state of one declared factory, two workspaces and two configs; the factory's endpoint is
# a closed local port (key checks are skipped or made against a server the test starts).
BASE_STATE = """\
apiVersion: llmform/v1
factories:
  - name: Corp
    type: openai-compatible
    api_base: http://127.0.0.1:9/v1
    models:
      - {name: m1, type: chat, max_tokens: 1000}
      - {name: m2, type: chat, max_tokens: 1000}
workspaces:
  - name: prod
    description: production
  - name: dev
    description: development
configs:
  - name: main
    workspace: prod
    factory: Corp
    api_key: {env: CORP_KEY}
    models: [m1]
  - name: side
    workspace: dev
    factory: Corp
    api_key: {env: CORP_KEY}
    models: [m2]
"""


def applied(cli: Cli, state: str = BASE_STATE, name: str = "registry.db") -> tuple[str, Path]:
    """A store holding ``state``, applied as a user would."""
    folder = cli.cwd / "applied-state"
    write(folder / "llmform.yaml", state)
    db = cli.cwd / "stores" / name
    result = cli("apply", "--auto-approve", "--no-validate-keys", "--store", url(db), str(folder))
    assert result.code == 0, result.both
    return url(db), db


def no_key_fragment(text: str, key: str, length: int = 8) -> None:
    """Not the key, nor any piece of it of ``length`` characters or more."""
    for start in range(len(key) - length + 1):
        piece = key[start : start + length]
        assert piece not in text, f"a piece of the key ({piece!r}) is in the output"


ESCAPES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")
