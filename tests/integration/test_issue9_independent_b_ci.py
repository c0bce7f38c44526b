"""Issue 9, "CI is red on a fresh machine" and its Acceptance list, tested from the issue's
words: libyaml's own nesting limit is the same "too deep" diagnostic as llmform's, with or
without libyaml; .ci/run lints before it tests; the README's two commands work in a fresh venv.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from support.cli import run
from support.issue9b import LLMFORM, REPO, SETTINGS, isolate, llmform

HEAD = "apiVersion: llmform/v1\nworkspaces: "


def nested(kind: str, depth: int, closed: bool) -> str:
    """A document whose `workspaces` value is nested ``depth`` levels deep."""
    if kind == "flow-seq":
        body = "[" * depth + ("]" * depth if closed else "")
    elif kind == "flow-map":
        body = "{a: " * depth + ("x" + "}" * depth if closed else "")
    elif kind == "flow-mixed":
        body = "[{a: " * (depth // 2) + ("x" + "}]" * (depth // 2) if closed else "")
    else:  # block sequences, one level per line
        body = "\n" + "".join("  " * i + "-\n" for i in range(depth))
        if closed:
            body += "  " * depth + "- x\n"
    return HEAD + body + "\n"


def diagnostic(stderr: str, name: str) -> tuple[str, str]:
    """(the location, the words) of the one error line about ``name``."""
    lines = [line for line in stderr.splitlines() if line.startswith(name) and "error" in line]
    assert len(lines) == 1, stderr
    match = re.match(rf"{re.escape(name)}:(\d+:\d+): error: (.*)", lines[0])
    assert match, f"no line:col in {lines[0]!r}"
    return match.group(1), match.group(2)


CASES = [
    (kind, depth, closed)
    for kind in ("flow-seq", "flow-map", "flow-mixed")
    for depth in (150, 1001, 10_000, 100_000)
    for closed in (True, False)
] + [("block", depth, closed) for depth in (150, 1001) for closed in (True, False)]

LIBYAML_WORDS = ("exceeded maximum nesting depth", "increasing flow level", "nesting depth")


def reference_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    (tmp_path / "ref.yaml").write_text(nested("flow-seq", 150, True))
    code, _, err = run(capsys, "validate", "ref.yaml")
    assert code == 1
    return diagnostic(err, "ref.yaml")[1]


@pytest.mark.parametrize(("kind", "depth", "closed"), CASES)
def test_deep_nesting_is_one_too_deep_diagnostic(
    kind: str,
    depth: int,
    closed: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    words = reference_words(tmp_path, capsys)
    assert "deep" in words.lower()
    (tmp_path / "d.yaml").write_text(nested(kind, depth, closed))
    code, _out, err = run(capsys, "validate", "d.yaml")
    assert code == 1
    where, said = diagnostic(err, "d.yaml")
    assert said == words, f"{kind} x{depth} closed={closed}: {said!r} is not {words!r}"
    assert not any(w in err for w in LIBYAML_WORDS), err
    assert where.split(":")[0] in {str(n) for n in range(2, 200)}


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_deep_flow_nesting_in_a_plan_document(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    words = reference_words(tmp_path, capsys)
    (tmp_path / "d.yaml").write_text(nested("flow-seq", 100_000, False))
    code, out, _err = run(capsys, "plan", "--format", fmt, "--no-validate-keys", "d.yaml")
    assert code == 1
    assert not (tmp_path / ".llmform").exists()
    if fmt == "json":
        errors = json.loads(out)["errors"]
        assert [e["message"] for e in errors if "deep" in e["message"]], errors
        assert any(e.get("line") == 2 and e.get("file", "").endswith("d.yaml") for e in errors)
    else:
        assert "Plan failed" in out and words.split(";")[0] in out


# PyYAML without libyaml (a platform with no binary wheel, or a PyYAML built without it): the
# C extension is hidden from the interpreter, so PyYAML falls back to its pure-Python loader.
NO_LIBYAML = """
import sys
class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name in ("yaml._yaml", "_yaml"):
            raise ImportError("libyaml hidden by the test")
sys.meta_path.insert(0, _Hide())
"""


@pytest.mark.parametrize(
    ("kind", "depth", "closed"),
    [
        ("flow-seq", 100_000, False),
        ("flow-seq", 100_000, True),
        ("flow-seq", 1001, False),
        ("flow-map", 10_000, True),
        ("block", 1001, True),
    ],
)
def test_deep_nesting_without_libyaml_says_the_same(
    kind: str,
    depth: int,
    closed: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    words = reference_words(tmp_path, capsys)
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(NO_LIBYAML)
    (tmp_path / "d.yaml").write_text(nested(kind, depth, closed))
    probe = subprocess.run(
        [str(Path(LLMFORM).with_name("python")), "-c", "import yaml; print(yaml.__with_libyaml__)"],
        env={"PYTHONPATH": str(hide)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "False"
    result = llmform("validate", "d.yaml", cwd=tmp_path, env={"PYTHONPATH": str(hide)})
    assert result.returncode == 1
    assert diagnostic(result.stderr, "d.yaml")[1] == words


def ci_commands() -> list[str]:
    script = (REPO / ".ci" / "run").read_text()
    return [line.strip() for line in script.splitlines() if line.strip() and line.strip()[0] != "#"]


def test_ci_runs_the_quick_checks_before_the_tests() -> None:
    commands = ci_commands()
    index = {
        name: next(i for i, c in enumerate(commands) if probe in c)
        for name, probe in (
            ("ruff check", "ruff check"),
            ("ruff format", "ruff format --check"),
            ("mypy", "mypy"),
            ("pytest", "pytest"),
        )
    }
    assert index["ruff check"] < index["pytest"]
    assert index["ruff format"] < index["pytest"]
    assert index["mypy"] < index["pytest"]


def test_ci_stops_at_the_first_failing_check() -> None:
    """Lint first helps only if a lint failure ends the run (and fails it)."""
    commands = ci_commands()
    errexit = [c for c in commands if re.match(r"set -[a-z]*e", c) or c == "set -o errexit"]
    assert errexit and commands.index(errexit[0]) < next(
        i for i, c in enumerate(commands) if "ruff" in c
    )
    assert (REPO / ".ci" / "run").stat().st_mode & 0o111


def readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    return [line.strip() for line in readme.splitlines() if line.startswith("    python3 -m venv")]


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    assert readme_commands()[1] in ci_commands()


def fresh_checkout(tmp_path: Path) -> Path:
    """The repository's files as a clean clone has them: no venv, no caches, no store."""
    target = tmp_path / "clone"
    shutil.copytree(
        REPO,
        target,
        ignore=shutil.ignore_patterns(
            ".venv*", ".git", "__pycache__", ".llmform", ".mypy_cache", ".ruff_cache", "*.egg-info"
        ),
    )
    return target


def user_environment() -> dict[str, str]:
    """The environment of a user's shell: this test run's venv is not on PATH."""
    ours = str(Path(LLMFORM).parent)
    environment = {k: v for k, v in os.environ.items() if k not in SETTINGS and k != "VIRTUAL_ENV"}
    environment["PATH"] = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if p != ours
    )
    return environment


def test_readme_first_command_in_a_fresh_venv(tmp_path: Path) -> None:
    command = readme_commands()[0]
    assert "llmform plan" in command and "llmform apply" in command
    clone = fresh_checkout(tmp_path)
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=900,
        env=user_environment(),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Plan: 5 to add, 0 to change, 0 to destroy." in result.stdout
    assert "Apply complete!" in result.stdout
    assert re.search(r"^Audit chain head: 7:\S+$", result.stdout, re.M)
    assert (clone / ".llmform" / "llmform.db").stat().st_mode & 0o777 == 0o600


def test_readme_test_command_installs_and_runs_in_a_fresh_venv(tmp_path: Path) -> None:
    """The README's second command, with the test run narrowed to one file: running the whole
    suite inside the suite would run this test again."""
    command = readme_commands()[1]
    assert command.endswith("python -m pytest")
    clone = fresh_checkout(tmp_path)
    narrowed = command + " -q -p no:cacheprovider tests/test_cases.py && python -m pytest -q --co"
    result = subprocess.run(
        ["bash", "-c", narrowed],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=1500,
        env=user_environment(),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-2000:]
    assert re.search(r"\d+ tests collected", result.stdout), result.stdout[-2000:]
    assert shlex.split(command)[:3] == ["python3", "-m", "venv"]
