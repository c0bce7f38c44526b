"""The CI examples (examples/ci/): every llmform command line in them parses with the real CLI's
option parser, so a renamed or removed flag fails here, not in a user's pipeline; every
``LLMFORM_*`` setting they name is one llmform reads; and the jobs a pull request can run hold
neither the write credentials nor the audit key, and trust no endpoint of their own.

Only ``llmform.cli`` is imported (its ``cli`` group), whatever module the commands live in.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from llmform.cli import cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "ci"

# file -> the llmform commands it runs (a workflow whose commands cannot be found fails too)
COMMANDS = {
    "github/llmform.yml": {"plan", "validate", "apply"},
    "github/llmform-drift.yml": {"plan", "audit"},
    "gitlab/gitlab-ci.yml": {"plan", "validate", "apply", "audit"},
}
# what no job a pull request can run may hold: the store's write credentials, the audit key,
# the Vault role with both, or trust it gives itself (a file the pull request could edit)
PR_FORBIDDEN = (
    "LLM_REGISTRY_WRITE",
    "LLMFORM_AUDIT_KEY",
    "LLMFORM_AUDIT_TRANSIT_KEY",
    "llmform-apply",
    "--trust-endpoint",
    "LLMFORM_TRUSTED_ENDPOINTS_FILE",
)
PR_COMMANDS = {"plan", "validate"}
SHELL_WORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "{"}


def load(name: str) -> dict[Any, Any]:
    document = yaml.safe_load((EXAMPLES / name).read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def is_github(name: str) -> bool:
    return name.startswith("github/")


def jobs(name: str) -> dict[str, dict[str, Any]]:
    """The jobs, GitLab's with the templates they extend merged in (as GitLab merges them)."""
    document = load(name)
    if is_github(name):
        return dict(document["jobs"])
    reserved = {"workflow", "stages", "variables", "default", "include"}
    found = {key: value for key, value in document.items() if key not in reserved}

    def merged(job: dict[str, Any]) -> dict[str, Any]:
        parents = job.get("extends", [])
        result: dict[str, Any] = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            for key, value in merged(found[parent]).items():
                if isinstance(value, dict) and isinstance(result.get(key), dict):
                    value = {**result[key], **value}
                result[key] = value
        for key, value in job.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                value = {**result[key], **value}
            result[key] = value
        return result

    return {key: merged(job) for key, job in found.items() if not key.startswith(".")}


def scripts(job: dict[str, Any]) -> list[str]:
    lines = [step["run"] for step in job.get("steps", []) if "run" in step]
    for key in ("before_script", "script"):
        lines += job.get(key, [])
    return lines


def llmform_commands(script: str) -> list[list[str]]:
    """The argument lists of the ``llmform`` commands in a shell script: words at a command's
    start (after ``;``, ``&&``, ``|``, ``then``... and ``VAR=value`` prefixes), up to the next
    operator or redirection."""
    lexer = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars=True)
    lexer.whitespace = " \t"  # a newline ends a command, as ; does
    lexer.commenters = ""  # shlex's comments would swallow the newline that ends one
    lexer.wordchars += "$:/=.,-@%{}"
    found: list[list[str]] = []
    current: list[str] | None = None
    at_start, in_comment = True, False
    for token in lexer:
        operator = token == "\n" or all(char in "();<>|&\n" for char in token)
        if in_comment or token.startswith("#"):  # a comment runs to the end of its line
            in_comment = token != "\n"
            token, operator = ("\n", True) if in_comment else (token, operator)
        if current is not None and operator:
            found.append(current)
            current = None
        elif current is not None:
            current.append(token)
        elif at_start and token == "llmform":
            current = []
        at_start = operator or (
            at_start and (token in SHELL_WORDS or re.match(r"[A-Za-z_]\w*=", token) is not None)
        )
    if current is not None:
        found.append(current)
    return found


def parse(argv: list[str]) -> str:
    """Parse ``llmform ARGV`` with the CLI's own parser (options, their values' types, choices;
    nothing runs) and return the command's name; a usage error raises."""
    commands = cli.list_commands(click.Context(cli))
    where = next(
        i
        for i, word in enumerate(argv)
        if word in commands and (i == 0 or argv[i - 1] != "--store")
    )
    with cli.make_context("llmform", argv[: where + 1]) as group:
        name, command, _ = cli.resolve_command(group, [argv[where]])
        assert name is not None and command is not None
        with command.make_context(name, argv[where + 1 :], parent=group):
            return name


def all_commands(name: str) -> dict[str, list[list[str]]]:
    return {
        job_name: [argv for script in scripts(job) for argv in llmform_commands(script)]
        for job_name, job in jobs(name).items()
    }


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_llmform_command_parses_with_the_cli(name: str) -> None:
    parsed = {parse(argv) for commands in all_commands(name).values() for argv in commands}
    assert parsed == COMMANDS[name]


def test_the_parse_check_can_fail() -> None:
    """A flag the CLI does not have, a bad choice or a flag on the wrong command is refused."""
    assert parse(["--store", "postgresql://u@db/x", "plan", "--detailed-exitcode", "c/"]) == "plan"
    for argv in (
        ["plan", "--detailed-exit-code", "c/"],
        ["plan", "--format", "md", "c/"],
        ["apply", "--detailed-exitcode", "c/"],
        ["audit", "--lock-timeout", "5"],
    ):
        with pytest.raises(click.UsageError):
            parse(argv)


def test_command_lines_are_found_where_shells_run_them() -> None:
    script = (
        "pip install llmform\nset +e\nllmform plan -o a.plan --format markdown c/ > plan.md\n"
        "X=1 llmform audit --verify && echo ok\nif llmform validate c/; then :; fi\n"
        'echo "llmform"\n'
        "# llmform apply c/; a comment\nllmform apply \\\n  --audit-file f a.plan  # c"
    )
    assert llmform_commands(script) == [
        ["plan", "-o", "a.plan", "--format", "markdown", "c/"],
        ["audit", "--verify"],
        ["validate", "c/"],
        ["apply", "--audit-file", "f", "a.plan"],
    ]


def triggers(name: str) -> Any:
    document = load(name)
    return document.get(True, document.get("on"))  # YAML 1.1 reads the key `on` as True


def can_run_for_a_pull_request(name: str, job_name: str) -> bool:
    job = jobs(name)[job_name]
    if is_github(name):
        needs = job.get("needs", [])
        return (
            "pull_request" in triggers(name)
            and "== 'push'" not in job.get("if", "")
            and all(
                can_run_for_a_pull_request(name, needed)
                for needed in ([needs] if isinstance(needs, str) else needs)
            )
        )
    rules = job.get("rules")
    return rules is None or any("merge_request_event" in rule.get("if", "") for rule in rules)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_pull_request_jobs_hold_no_write_credentials_nor_audit_key(name: str) -> None:
    document = load(name)
    assert "pull_request_target" not in (triggers(name) or {})
    shared = yaml.safe_dump({key: document.get(key) for key in ("env", "variables")})
    pr_jobs = [job for job in jobs(name) if can_run_for_a_pull_request(name, job)]
    if name.endswith("drift.yml"):
        assert pr_jobs == []
    else:
        assert len(pr_jobs) == 2  # the plan, and a fork's validate
    for job_name in pr_jobs:
        text = shared + yaml.safe_dump(jobs(name)[job_name])
        assert [word for word in PR_FORBIDDEN if word in text] == [], job_name
        commands = all_commands(name)[job_name]
        assert commands and {argv[0] for argv in commands} <= PR_COMMANDS, job_name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_scheduled_and_pull_request_plans_use_the_detailed_exit_code(name: str) -> None:
    plans = [
        argv
        for commands in all_commands(name).values()
        for argv in commands
        if argv[0] == "plan" and "-o" not in argv
    ]
    assert plans and all("--detailed-exitcode" in argv for argv in plans)


def test_github_scripts_take_no_expression_into_the_shell() -> None:
    """`${{ ... }}` in a run script is pasted into it before the shell runs (a branch name with
    `$(...)` in it would run); values reach scripts through env instead."""
    for name in (name for name in COMMANDS if is_github(name)):
        for job in jobs(name).values():
            assert all("${{" not in script for script in scripts(job)), name


def test_every_llmform_setting_named_is_one_llmform_reads() -> None:
    source = "\n".join(path.read_text("utf-8") for path in (REPO / "src" / "llmform").rglob("*.py"))
    for name in COMMANDS:
        for setting in set(re.findall(r"\bLLMFORM_[A-Z0-9_]+", (EXAMPLES / name).read_text())):
            assert f'"{setting}"' in source, (name, setting)
