"""``--state URL`` (issue 10): where llmform keeps its state for a target that cannot keep it.

The registry, the only target so far, keeps its own, so ``--state`` omitted or naming the
registry itself works and writes only the registry; any other URL is refused by every command
that opens a store, before anything is opened or created; a malformed one gets the URL hints
``--store`` gets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.stores import OFFLINE, cli, listing, serial, write_state

REGISTRY = "sqlite:///registry.db"


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMFORM_STORE", raising=False)
    monkeypatch.delenv("LLMFORM_STATE", raising=False)
    write_state(tmp_path)
    return tmp_path


SAME = {
    "omitted": ([], []),
    "after the command": ([], ["--state", REGISTRY]),
    "before the command": (["--state", REGISTRY], []),
    "spelled another way": ([], ["--state", "sqlite:///./registry.db"]),
}


@pytest.mark.parametrize("given", SAME, ids=str)
def test_a_state_that_is_the_registry_itself_is_fine(
    here: Path, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    before, after = SAME[given]
    args = [*before, "apply", "--store", REGISTRY, *after, "--auto-approve", OFFLINE]
    code, out, err = cli(capsys, *args, "llmform.yaml")
    assert code == 0, err
    assert "Apply complete! Resources: 3 added" in out
    assert sorted(listing(here)) == ["llmform.yaml", "registry.db"]
    assert serial(here / "registry.db") == 1
    code, out, _ = cli(capsys, *before, "plan", "--store", REGISTRY, *after, OFFLINE, ".")
    assert code == 0 and "No changes" in out


def test_the_state_variable_naming_the_registry_is_fine(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORM_STATE", REGISTRY)
    code, _, err = cli(capsys, "init", "--store", REGISTRY)
    assert code == 0, err
    assert sorted(listing(here)) == ["llmform.yaml", "registry.db"]


COMMANDS = {
    "plan": ["plan", OFFLINE, "."],
    "apply": ["apply", "--auto-approve", OFFLINE, "."],
    "destroy": ["destroy", "--auto-approve"],
    "export": ["export"],
    "audit": ["audit"],
    "audit --verify": ["audit", "--verify"],
    "force-unlock": ["force-unlock", "3f2a9c1b7d4e"],
    "show": ["show", "saved.plan"],
    "init": ["init"],
}


@pytest.mark.parametrize("command", COMMANDS, ids=str)
@pytest.mark.parametrize("where", ["flag", "variable"])
def test_another_state_is_refused_with_nothing_created(
    here: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    where: str,
) -> None:
    (here / "saved.plan").write_text("{}", encoding="utf-8")
    before = listing(here)
    other = "sqlite:///state/elsewhere.db"
    if where == "variable":
        monkeypatch.setenv("LLMFORM_STATE", other)
        args = [*COMMANDS[command][:1], "--store", REGISTRY, *COMMANDS[command][1:]]
        named = "LLMFORM_STATE"
    else:
        args = [*COMMANDS[command][:1], "--store", REGISTRY, "--state", other]
        args += COMMANDS[command][1:]
        named = "--state"
    code, _, err = cli(capsys, *args)
    assert code == 1
    assert f"{named} is for targets that keep no state of their own" in err, err
    assert f"the registry {REGISTRY} keeps its state in its own database: drop {named}" in err
    assert listing(here) == before  # neither registry.db nor state/ was made


def test_a_malformed_state_url_gets_the_url_hint(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "plan", "--state", "./state.db", OFFLINE, ".")
    assert code == 1
    assert "--state: './state.db' is a path, not a store URL; write 'sqlite:///./state.db'" in err
    assert listing(here) == {"llmform.yaml": listing(here)["llmform.yaml"]}
