"""Helpers for the store and file tests: a small state that needs no key nor server, running
the CLI in-process or as a user that file permissions apply to, and snapshots of what is on disk.

Root reads and writes a file whatever its mode, so as root a run that must meet a read-only file
or directory drops the capabilities that bypass file permissions (util-linux's setpriv removes
them from the bounding set, so the new process never has them).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from llmform.cli import main

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    labels: {team: platform}
configs:
  - name: local
    workspace: prod
    factory: Ollama
    description: DESCRIPTION
    models: [{name: llama3.2, type: chat}]
"""

# Key checks are tested elsewhere; here no provider is asked.
OFFLINE = "--no-validate-keys"

AS_USER = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    if os.geteuid() == 0
    else []
)


def write_state(directory: Path, description: str = "first") -> Path:
    path = directory / "llmform.yaml"
    path.write_text(STATE.replace("DESCRIPTION", description), encoding="utf-8")
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``llmform --no-color ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main(["--no-color", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in out + err, out + err
    return code, out, err


def cli_as_user(
    args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """``llmform ARGS`` in a new process that file permissions apply to, even as root."""
    done = subprocess.run(
        [*AS_USER, sys.executable, "-m", "llmform.cli", "--no-color", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out, err = done.stdout, done.stderr
    assert "Traceback" not in out + err and "internal error" not in out + err, out + err
    return done.returncode, out, err


def listing(root: Path) -> dict[str, int]:
    """Every path under ``root`` with its mode: what a command created, removed or chmodded."""
    return {
        str(p.relative_to(root)): p.lstat().st_mode for p in sorted(root.rglob("*")) if p != root
    }


def dump(db: Path) -> list[str]:
    """The store's content, row by row: what a committed write changes (the file's bytes also
    change when an apply takes the lock row and releases it)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def serial(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'serial'").fetchone()[0])
    finally:
        conn.close()
