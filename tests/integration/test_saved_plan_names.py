"""Saved plans, continued: the command ``plan -o`` prints applies the plan whatever the file is
called (``*.yaml`` too, a name starting with '-', a name with a control character), and a plan
file that is missing is named as such.

The repository, the helpers and the shell runner are test_saved_plans.py's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_saved_plans import (
    HINT,
    _llmform,
    repo,
    run,
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
