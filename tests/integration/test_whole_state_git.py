"""validate --whole-state in a real git repository, as the pre-commit hook runs it: a staged
change that breaks a file it does not touch fails the check (issue 9, item 18), while an error
that was there before the change stays a warning.

Each case commits a valid split state (llm/, as examples/multi-workspace) and a separate state
beside it (other/), changes some files, stages them (``git add``/``git rm``) and validates the
staged files that still exist, as pre-commit hands them over. The comparison is with git's
HEAD: a file the change does not touch keeps its errors from before.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from llmform.cli import main

WORKSPACES = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    defaults: {chat: main/gpt-4o}
  - name: staging
"""
FACTORY = """\
apiVersion: llmform/v1
factories:
  - name: Internal
    type: openai-compatible
    api_base: https://llm.internal.example/v1
    models: [{name: llama, type: chat}]
"""
PROD = """\
apiVersion: llmform/v1
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: OPENAI_API_KEY}
    models: [gpt-4o]
"""
STAGING = """\
apiVersion: llmform/v1
configs:
  - name: internal
    workspace: staging
    factory: Internal
    api_key: {env: INTERNAL_KEY}
    models: [llama]
"""
OTHER = """\
apiVersion: llmform/v1
workspaces: [{name: prod}]
configs:
  - {name: main, workspace: prod, factory: OpenAI, api_key: {env: K}, models: [gpt-4o]}
"""
STATE = {
    "llm/workspaces.yaml": WORKSPACES,
    "llm/factories/internal.yaml": FACTORY,
    "llm/configs/prod.yaml": PROD,
    "llm/configs/staging.yaml": STAGING,
    "other/llmform.yaml": OTHER,
    ".github/workflows/ci.yaml": "name: ci\non: [push]\njobs: {}\n",
}
NO_STAGING = WORKSPACES.replace("  - name: staging\n", "")
MADE = "(made by the changes to {changed})"
UNKNOWN_STAGING = (
    "llm/configs/staging.yaml:4:16: error: configs[0].workspace: unknown workspace 'staging'; "
    "declare it under 'workspaces' " + MADE
)
UNKNOWN_INTERNAL = (
    "llm/configs/staging.yaml:5:14: error: configs[0].factory: unknown factory 'Internal'"
)
WARNING = (
    "llm: warning: 1 error(s) in other files of the state under 'llm', not reported here; "
    "run 'llmform validate llm' to see them"
)
BROKEN_BEFORE = STAGING.replace("models: [llama]", "models: [llama, nonexistent]")

# name: (files changed (None: deleted), files staged, exit code, what stderr starts with)
CASES: dict[str, tuple[dict[str, str | None], list[str], int, list[str]]] = {
    "one file of the split state, valid": (
        {"llm/configs/prod.yaml": PROD.replace("gpt-4o]", "gpt-4o, gpt-4o-mini]")},
        ["llm/configs/prod.yaml"],
        0,
        [],
    ),
    "a workspace removed that an unstaged config uses": (
        {"llm/workspaces.yaml": NO_STAGING},
        ["llm/workspaces.yaml"],
        1,
        [UNKNOWN_STAGING.format(changed="llm/workspaces.yaml")],
    ),
    "every workspace removed but the one the defaults need": (
        {"llm/workspaces.yaml": NO_STAGING.replace("    defaults: {chat: main/gpt-4o}\n", "")},
        ["llm/workspaces.yaml"],
        1,
        [UNKNOWN_STAGING.format(changed="llm/workspaces.yaml")],
    ),
    "a factory renamed that an unstaged config uses": (
        {"llm/factories/internal.yaml": FACTORY.replace("Internal", "Internal-2")},
        ["llm/factories/internal.yaml"],
        1,
        [UNKNOWN_INTERNAL],
    ),
    "a config renamed that unstaged defaults name": (
        {"llm/configs/prod.yaml": PROD.replace("name: main", "name: primary")},
        ["llm/configs/prod.yaml"],
        1,
        [
            "llm/workspaces.yaml:4:22: error: workspaces[0].defaults.chat: unknown config "
            "'main' in workspace 'prod'; a default is 'config/model' naming a config of the "
            "same workspace " + MADE.format(changed="llm/configs/prod.yaml")
        ],
    ),
    "a file deleted that an unstaged config uses, beside a staged one": (
        {"llm/factories/internal.yaml": None, "llm/configs/prod.yaml": PROD + "# reviewed\n"},
        ["llm/configs/prod.yaml"],
        1,
        [
            "llm/configs/staging.yaml:5:14: error: configs[0].factory: unknown factory "
            "'Internal'; declare it under 'factories' or pick one from 'llmform catalog' "
            "(made by the changes to llm/configs/prod.yaml; the deletion of "
            "llm/factories/internal.yaml)"
        ],
    ),
    "an unstaged file broken before the change": (
        {
            "llm/configs/staging.yaml": BROKEN_BEFORE,
            "llm/configs/prod.yaml": PROD + "# reviewed\n",
        },
        ["llm/configs/prod.yaml"],
        0,
        [WARNING],
    ),
    "a separate state with the same names beside it": (
        {"other/llmform.yaml": OTHER.replace("gpt-4o]", "gpt-4o, gpt-4o-mini]")},
        ["other/llmform.yaml"],
        0,
        [],
    ),
    "another tool's YAML only": (
        {".github/workflows/ci.yaml": "name: ci\non: [push, pull_request]\njobs: {}\n"},
        [".github/workflows/ci.yaml"],
        0,
        [],
    ),
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "tests@llmform.invalid")
    git(tmp_path, "config", "user.name", "llmform tests")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(repo: Path, files: dict[str, str | None]) -> None:
    for name, text in files.items():
        if text is None:
            (repo / name).unlink()
        else:
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)


def hook(capsys: pytest.CaptureFixture[str], staged: list[str]) -> tuple[int, list[str]]:
    code = main(["--no-color", "validate", "--ignore-foreign", "--whole-state", *staged])
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    return code, err.splitlines()[:-1]  # the last line is the summary


@pytest.mark.parametrize(("changed", "staged", "code", "lines"), CASES.values(), ids=CASES.keys())
def test_a_staged_change_is_checked_against_what_it_breaks(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    changed: dict[str, str | None],
    staged: list[str],
    code: int,
    lines: list[str],
) -> None:
    changed = dict(changed)
    broken_before = changed.pop("llm/configs/staging.yaml", None)
    write(repo, STATE)
    if broken_before:  # committed so, and left unstaged
        write(repo, {"llm/configs/staging.yaml": broken_before})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "state")
    write(repo, changed)
    git(repo, "add", "-A")
    got = hook(capsys, staged)
    assert got[0] == code, got
    assert len(got[1]) == len(lines), got
    for line, start in zip(got[1], lines, strict=True):
        assert line.startswith(start), (line, start)


def test_an_initial_commit_with_files_not_added(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No HEAD yet, the other files of the state not added: the state is checked with them,
    and as the staged file is new, the state before the change is theirs without it, so their
    errors count as older than the change: warnings."""
    write(repo, STATE)
    git(repo, "add", "llm/configs/prod.yaml")
    assert hook(capsys, ["llm/configs/prod.yaml"]) == (0, [])
    write(repo, {"llm/workspaces.yaml": NO_STAGING})
    git(repo, "add", "llm/workspaces.yaml")
    assert hook(capsys, ["llm/workspaces.yaml"]) == (0, [WARNING])


def test_outside_a_git_work_tree_every_unnamed_files_error_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {**STATE, "llm/workspaces.yaml": NO_STAGING})
    assert hook(capsys, ["llm/workspaces.yaml"]) == (0, [WARNING])
