"""Saved plans, continued: the command ``plan -o`` prints applies the plan whatever the file is
called (``*.yaml`` too, a name starting with '-', a name with a control character), a plan file
that is missing is named as such, and a factory marked as the built-in catalog's must be the
catalog's (its one-line summary must not hide a file's own api_base).

The repository, the helpers and the shell runner are test_saved_plans.py's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_saved_plans import (
    HINT,
    _llmform,
    change_at,
    dump,
    load,
    rebuild,
    refused,
    repo,
    resign,
    run,
    save,
)

__all__ = ["repo"]  # the fixture, imported to be used here


@pytest.mark.parametrize(
    ("name", "shell"),
    [
        ("prod.yaml", "/bin/sh"),  # JSON is YAML: apply must still see a saved plan
        ("prod.YML", "/bin/sh"),
        ("-prod.plan", "/bin/sh"),  # would be read as an option
        ("--store.plan", "/bin/sh"),
        ("tab\there.plan", "/bin/bash"),  # printed escaped, in bash's $'...'
        ("nl\nhere.plan", "/bin/bash"),
        ("quote'\\back.plan", "/bin/bash"),
    ],
)
def test_the_printed_hint_applies_whatever_the_name(repo: Path, name: str, shell: str) -> None:
    env = dict(os.environ)
    store = env.pop("LLMFORM_STORE")
    planned = _llmform(["plan", "--store", store, "-o", name, "llmform.yaml"], repo, env)
    assert planned.returncode == 0, planned.stderr
    (line,) = [line for line in planned.stderr.splitlines() if HINT in line]
    command = line.split(HINT, 1)[1]
    assert command.isprintable()  # nothing in the name reaches the terminal raw
    applied = _llmform(command, repo, env, shell)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete! Resources: 1 added, 1 changed, 2 destroyed." in applied.stdout


def test_a_yaml_file_that_is_no_plan_is_still_configuration(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a file that begins as a plan file does is taken for one when named *.yaml."""
    code, out, err = run(capsys, "apply", "--auto-approve", "llmform.yaml")
    assert code == 0, err
    assert "Apply complete! Resources: 1 added, 1 changed, 2 destroyed." in out


def test_a_missing_plan_file_is_named(repo: Path) -> None:
    """The artifact that was not downloaded: said so, not 'no terminal to confirm on'."""
    env = dict(os.environ)
    done = _llmform(["apply", "missing.plan"], repo, env)
    assert (done.returncode, done.stderr) == (
        1,
        "missing.plan: error: no such file or directory\n",
    )
    done = _llmform(["show", "missing.plan"], repo, env)
    assert (done.returncode, done.stderr) == (
        1,
        "error: missing.plan: cannot read the plan file: No such file or directory\n",
    )


def test_a_factory_marked_as_the_catalogs_must_be_the_catalogs(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A forgery signed with the store's own key (or a file shown with no store to check it)
    that gives a catalog factory its own api_base: the plan would show it as one line,
    '(built-in catalog, N models)', hiding the URL; refused by show and apply alike."""
    path = save(capsys)
    data = load(path)
    openai = change_at(data, "factory.OpenAI")  # unchanged, so added from the store
    openai["after"]["catalog"] = True  # as a plan marks the catalog's factory
    openai["after"]["attrs"]["api_base"] = "https://collector.example/v1"
    rebuild(data)
    dump(path, data)
    resign(repo, path)
    expected = (
        f"error: {path}: refused: changes[2] (factory.OpenAI) is marked as the built-in "
        "catalog's factory but is not what this llmform's catalog holds, so the file was "
        "modified after 'llmform plan' wrote it, or by another llmform version; plan again "
        "with this llmform: llmform plan -o FILE\n"
    )
    apply_err, show_err = refused(repo, capsys, path)
    assert apply_err == expected
    assert show_err == expected
    code, _, err = run(capsys, "show", "--store", f"sqlite:///{repo / 'none.db'}", str(path))
    assert (code, err) == (1, expected)


@pytest.mark.parametrize(
    "command",
    [["validate"], ["plan"], ["apply", "--auto-approve", "llmform.yaml"]],
    ids=["validate", "plan", "apply with configuration"],
)
def test_a_saved_plan_where_configuration_goes_is_named(
    repo: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """Not 'add apiVersion: llmform/v1 at the top', which would be wrong advice."""
    path = save(capsys)
    before = (repo / "store.db").read_bytes()
    code, _, err = run(capsys, *command, str(path))
    assert code == 1
    assert (
        f"{path}:1:1: error: a saved plan (llmform plan -o), not configuration: apply it alone, "
        "as in llmform apply FILE, or read it with llmform show FILE\n"
    ) in err
    assert (repo / "store.db").read_bytes() == before
