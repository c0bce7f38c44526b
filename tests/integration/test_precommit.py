"""The real pre-commit runs the llmform-validate hook from this repository.

``pre-commit try-repo`` builds the hook's virtualenv and pip-installs llmform from a git
repository, the way a user's pre-commit does. It is pointed at a temporary git repository
holding the working tree's packaging files (not at HEAD), so the test checks the code as it is
on disk; in CI's fresh clone the two are the same. try-repo keeps no environment between runs,
so the failing and the passing run go concurrently to halve the wall time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What pip needs to build llmform, and the hook manifest.
PACKAGING = ["pyproject.toml", "README.md", "LICENSE", "src", ".pre-commit-hooks.yaml"]
CANARY = "sk-canary-9f3b2e7d41"

GOOD = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    api_key: {env: OPENAI_API_KEY}
    models: [gpt-4o]
"""

BAD = f"""\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    api_key: {CANARY}
    models: [gpt-4o]
"""

# A state split over files (as examples/multi-workspace): the workspace of the config in
# llm/configs/team-a.yaml is declared in llm/workspaces.yaml. Only team-a.yaml is staged in the
# passing run; llm/configs/broken.yaml, never staged, has an error of its own.
SPLIT = {
    "llm/workspaces.yaml": "apiVersion: llmform/v1\nworkspaces:\n  - name: team-a\n",
    "llm/configs/team-a.yaml": GOOD.replace("workspaces:\n  - name: prod\n", "")
    .replace("openai-main", "team-a-openai")
    .replace("workspace: prod", "workspace: team-a"),
    "llm/configs/broken.yaml": GOOD.replace("workspaces:\n  - name: prod\n", "").replace(
        "workspace: prod", "workspace: team-b"
    ),
}
# An llmform file whose apiVersion key is misspelt: almost llmform's, so it fails the commit.
NEAR_MISS = GOOD.replace("apiVersion:", "apiversion:").replace("prod", "dev")

# Staged YAML that is not llmform's: pre-commit hands it to the hook as well.
FOREIGN = {
    ".github/workflows/ci.yaml": "name: ci\non: [push]\njobs: {}\n",
    "deploy/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
    "chart/templates/cm.yaml": "{{- if .Values.enabled }}\nkind: ConfigMap\n{{- end }}\n",
}


def _git_env(home: Path) -> dict[str, str]:
    """Git and pre-commit isolated from the user's configuration and caches."""
    return {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "PRE_COMMIT_HOME": str(home / "pre-commit-home"),
        "NO_COLOR": "1",
    }


def _git(cwd: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def _init_repo(path: Path, env: dict[str, str]) -> None:
    _git(path, env, "init", "-q")
    _git(path, env, "config", "user.name", "llmform tests")
    _git(path, env, "config", "user.email", "tests@llmform.invalid")
    _git(path, env, "config", "commit.gpgsign", "false")


def _hook_repo(dest: Path, env: dict[str, str]) -> Path:
    """A committed git repository holding the working tree's packaging files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *PACKAGING],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # listed but deleted in the working tree: leave it out
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    assert (dest / ".pre-commit-hooks.yaml").is_file()
    _init_repo(dest, env)
    _git(dest, env, "add", "-A")
    _git(dest, env, "commit", "-q", "-m", "llmform working tree")
    return dest


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    root = tmp_path_factory.mktemp("precommit")
    env = _git_env(root)
    hook = _hook_repo((root / "hook").resolve(), env)
    project = root / "project"
    project.mkdir()
    _init_repo(project, env)
    files = {"good.yaml": GOOD, "bad.yaml": BAD, "near-miss.yaml": NEAR_MISS, **SPLIT, **FOREIGN}
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    _git(project, env, "add", "-A")

    def start(llmform_files: list[str]) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "pre_commit", "try-repo", str(hook), "llmform-validate"]
        return subprocess.Popen(
            [*command, "--verbose", "--files", *llmform_files, *FOREIGN],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    staged = {
        "bad.yaml": ["bad.yaml", "near-miss.yaml"],
        "good.yaml": ["good.yaml", "llm/configs/team-a.yaml"],
    }
    processes = {name: start(files) for name, files in staged.items()}
    results = {}
    for name, process in processes.items():
        output, _ = process.communicate(timeout=600)
        results[name] = Run(process.returncode, output)
    yield results


def test_hook_fails_on_a_bad_file_and_names_the_error(runs: dict[str, Run]) -> None:
    run = runs["bad.yaml"]
    assert run.returncode == 1, run.output
    assert (
        "bad.yaml:8:14: error: configs[0].api_key: a literal secret is not allowed here; "
        'write a reference instead: {vault: "path/to/secret#key"} or {env: VARIABLE_NAME}'
    ) in run.output
    assert (
        "near-miss.yaml:1:1: error: 'apiversion' is not 'apiVersion': llmform reads only that "
        "exact key (case-sensitive); write 'apiVersion: llmform/v1'"
    ) in run.output
    assert "2 error(s), 0 warning(s)" in run.output
    assert CANARY not in run.output
    assert "Traceback" not in run.output


def test_hook_passes_on_good_files_among_foreign_yaml(runs: dict[str, Run]) -> None:
    """good.yaml is a state of its own; llm/configs/team-a.yaml, staged without the file that
    declares its workspace, is checked with the rest of llm/, its state. The error in
    llm/configs/broken.yaml, not staged, is a warning pointing at the state, not a failure."""
    run = runs["good.yaml"]
    assert run.returncode == 0, run.output
    assert "llmform validate" in run.output and "Passed" in run.output
    assert "unknown workspace" not in run.output
    assert (
        "llm: warning: 1 error(s) in other files of the state under 'llm', not reported here; "
        "run 'llmform validate llm' to see them"
    ) in run.output
    # the foreign files were handed over and passed over: good.yaml and llm/ were read
    assert "Valid: 4 file(s), 1 factories, 2 workspaces, 2 configs, 1 warning(s)" in run.output


def test_git_commit_runs_the_hook_on_what_the_commit_changes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The user's flow: pre-commit installed as the repository's git hook, commits made with
    git. A commit that touches one file of a split state, another state or only another tool's
    YAML passes; one whose staged file breaks a file it does not touch (a workspace removed
    that an unstaged config names) is refused, naming the error where it is."""
    root = tmp_path_factory.mktemp("git-commit")
    env = _git_env(root)
    hook = _hook_repo((root / "hook").resolve(), env)
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=hook, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    project = root / "project"
    project.mkdir()
    _init_repo(project, env)
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook}\n    rev: {rev}\n    hooks:\n      - id: llmform-validate\n"
    )
    files = {"good.yaml": GOOD, **SPLIT, **FOREIGN}
    files["llm/configs/broken.yaml"] = files["llm/configs/broken.yaml"].replace("team-b", "team-a")
    files["llm/workspaces.yaml"] += "  - name: team-c\n"
    files["llm/configs/team-c.yaml"] = files["llm/configs/team-a.yaml"].replace("team-a", "team-c")
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"], cwd=project, env=env, check=True
    )

    def commit(*paths: str) -> Run:
        _git(project, env, "add", *paths)
        done = subprocess.run(
            ["git", "commit", "-q", "-m", "change"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return Run(done.returncode, done.stdout + done.stderr)

    def edit(name: str, old: str, new: str) -> str:
        (project / name).write_text((project / name).read_text().replace(old, new))
        return name

    first = commit(".")
    assert first.returncode == 0 and "llmform validate" in first.output, first.output
    one = commit(edit("llm/configs/team-a.yaml", "[gpt-4o]", "[gpt-4o, gpt-4o-mini]"))
    assert one.returncode == 0, one.output
    other = commit(edit("good.yaml", "[gpt-4o]", "[gpt-4o, gpt-4o-mini]"))
    assert other.returncode == 0, other.output
    foreign = commit(edit(".github/workflows/ci.yaml", "[push]", "[push, pull_request]"))
    assert foreign.returncode == 0, foreign.output
    breaking = commit(edit("llm/workspaces.yaml", "  - name: team-c\n", ""))
    assert breaking.returncode == 1, breaking.output
    assert (
        "llm/configs/team-c.yaml:4:16: error: configs[0].workspace: unknown workspace 'team-c' "
        "(did you mean 'team-a'?); declare it under 'workspaces' (made by the changes to "
        "llm/workspaces.yaml)"
    ) in breaking.output
    assert "Traceback" not in breaking.output
