"""--store and --no-color before or after the command (issue 9, item 14), as the README has
them: ``llmform --store URL plan`` and ``llmform plan --store URL``; given both, the command's
own --store wins; LLMFORM_STORE when neither is given."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from support.stores import OFFLINE, cli, write_state

from llmform.cli import main


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMFORM_STORE", raising=False)
    write_state(tmp_path)
    return tmp_path


STORE_COMMANDS = {
    "init": ["init"],
    "plan": ["plan", OFFLINE],
    "apply": ["apply", OFFLINE, "--auto-approve"],
    "export": ["export"],
    "audit": ["audit"],
    "audit --verify": ["audit", "--verify"],
    "force-unlock": ["force-unlock", "3f2a9c1b7d4e"],
    "destroy": ["destroy", "--auto-approve"],
    "show": ["show", "p.plan"],
}


def _saved_plan(capsys: pytest.CaptureFixture[str]) -> None:
    """p.plan, made for a store of its own (source.db)."""
    assert cli(capsys, "init", "--store", "sqlite:///source.db")[0] == 0
    assert cli(capsys, "plan", OFFLINE, "-o", "p.plan", "--store", "sqlite:///source.db")[0] == 0


def _outcome(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str, str]:
    """The run's result with what differs between two stores' runs (ids, times) left out."""
    code, out, err = cli(capsys, *args)
    lines = [line for line in out.splitlines() if not line.startswith("Audit chain head: ")]
    return str(code), lines[-1] if lines else "", err


@pytest.mark.parametrize("command", STORE_COMMANDS)
def test_store_before_or_after_the_command_names_the_same_store(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    args = STORE_COMMANDS[command]
    if command == "show":
        _saved_plan(capsys)
    for name in ("before.db", "after.db", "env.db"):
        assert cli(capsys, "init", "--store", f"sqlite:///{name}")[0] == 0
    before = _outcome(capsys, "--store", "sqlite:///before.db", *args)
    after = _outcome(capsys, *args, "--store", "sqlite:///after.db")
    assert before[0] != "2" and after[0] != "2", (before, after)  # not a usage error
    assert before == tuple(part.replace("after.db", "before.db") for part in after)
    if command == "apply":  # each went to its own store
        assert "Apply complete!" in before[1] and "Apply complete!" in after[1]
    # the same through the environment, and the option wins over it
    monkeypatch.setenv("LLMFORM_STORE", "sqlite:///env.db")
    assert _outcome(capsys, *args) == tuple(part.replace("after.db", "env.db") for part in after)


@pytest.mark.parametrize("command", STORE_COMMANDS)
def test_the_commands_own_store_wins_then_the_one_before_then_the_environment(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """No store exists: each run names the store it tried (init creates that one)."""
    if command == "show":
        _saved_plan(capsys)
    monkeypatch.setenv("LLMFORM_STORE", "sqlite:///env.db")
    args = STORE_COMMANDS[command]
    runs = {
        "mine.db": ["--store", "sqlite:///group.db", *args, "--store", "sqlite:///mine.db"],
        "group.db": ["--store", "sqlite:///group.db", *args],
        "env.db": args,
    }
    for expected, argv in runs.items():
        others = {"mine.db", "group.db", "env.db"} - {expected}
        existing = {name for name in others if (here / name).exists()}
        code, out, err = cli(capsys, *argv)
        if command in ("init", "apply"):
            assert (here / expected).exists() and code == 0, err
        else:
            assert f"sqlite:///{expected}" in out + err, (argv, out, err)
        assert not any(f"sqlite:///{other}" in out + err for other in others)
        assert {name for name in others if (here / name).exists()} == existing


ALL_COMMANDS = {
    **STORE_COMMANDS,
    "validate": ["validate"],
    "schema": ["schema"],
    "catalog": ["catalog"],
    "catalog import-ragflow": ["catalog", "import-ragflow", "missing.json"],
}


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_no_color_is_accepted_before_and_after_every_command(
    here: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    args = ALL_COMMANDS[command]
    before = main(["--no-color", *args])
    out_before, err_before = capsys.readouterr()
    if (here / ".llmform/llmform.db").exists():  # made by init or apply: start again without
        (here / ".llmform/llmform.db").unlink()
    after = main([*args, "--no-color"])
    out_after, err_after = capsys.readouterr()
    assert after != 2, err_after  # not "no such option"
    assert after == before
    if command not in ("init", "plan", "apply"):  # whose output holds ids and times
        assert (out_after, err_after) == (out_before, err_before)


STORELESS_COMMANDS = {
    "validate": ["validate"],
    "schema": ["schema"],
    "catalog": ["catalog"],
    "catalog NAME": ["catalog", "OpenAI"],
    "catalog NAME --format json": ["catalog", "OpenAI", "--format", "json"],
    "catalog import-ragflow": ["catalog", "import-ragflow", "missing.json"],
}


@pytest.mark.parametrize("command", STORELESS_COMMANDS)
def test_store_is_accepted_after_a_command_that_uses_none_as_before_it(
    here: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """``llmform --store URL validate`` is accepted (the store is not used), so is
    ``llmform validate --store URL``: one habit for every command, no usage error."""
    args = STORELESS_COMMANDS[command]
    before = cli(capsys, "--store", "sqlite:///unused.db", *args)
    after = cli(capsys, *args, "--store", "sqlite:///unused.db")
    assert after[0] != 2, after  # not "no such option"
    assert after == before
    assert not (here / "unused.db").exists()


def _on_a_terminal(cwd: Path, *args: str) -> str:
    """What ``llmform ARGS`` writes to a terminal (stdout and stderr)."""
    main_end, child_end = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    process = subprocess.Popen(
        [sys.executable, "-m", "llmform.cli", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=child_end,
        stderr=child_end,
    )
    os.close(child_end)
    chunks = []
    while True:
        try:
            chunk = os.read(main_end, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(main_end)
    return b"".join(chunks).decode()


@pytest.mark.parametrize(
    "args", [["plan", OFFLINE], ["validate"], ["apply", OFFLINE, "--auto-approve"]], ids=str
)
def test_no_color_after_the_command_turns_colour_off(here: Path, args: list[str]) -> None:
    assert "\x1b[" in _on_a_terminal(here, "--store", "sqlite:///a.db", *args)
    for argv in (["--no-color", *args], [*args, "--no-color"]):
        text = _on_a_terminal(here, "--store", "sqlite:///b.db", *argv)
        assert "\x1b[" not in text and "error" not in text, text
