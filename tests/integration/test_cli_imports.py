"""Commands import only what they use: the offline ones (validate, and the pre-commit hook's
command, which runs on every commit) never import the HTTP client, Vault's client, PostgreSQL's
driver, the provider adapters, the engine or the targets, nor jsonschema's wording of errors
when there is no error to word, nor for a short run jsonschema-rs, nor what only a write, git
or a policy needs; a plan that reads no secret (--no-secrets) on a SQLite store
imports neither the HTTP client, Vault's client, PostgreSQL's driver, the provider adapters nor
the MLflow target.

Each command runs in a fresh interpreter, as a user runs it, which then lists every module it
imported (``sys.modules`` after the command returned): an import anywhere, at start-up or on
the command's way, is seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llmform.cli import main
from llmform.cli.commands import STORE_COMMANDS

REPO = Path(__file__).resolve().parents[2]

# The CLI's main, then the names of every module imported, as JSON on a line of its own.
LISTING = "LLMFORM-MODULES:"
WRAPPER = f"""\
import json, sys
from llmform.cli import main

code = main(sys.argv[1:])
print({LISTING!r} + json.dumps(sorted(sys.modules)))
sys.exit(code)
"""

WORKSPACES = "apiVersion: llmform/v1\nworkspaces:\n  - name: team-a\n"
CONFIGS = """\
apiVersion: llmform/v1
configs:
  - name: openai
    workspace: team-a
    factory: OpenAI
    api_key: {env: OPENAI_API_KEY}
    backup_keys: [{vault: "secret/llm/team-a#openai"}]
    models: [gpt-4o, {name: my-finetune, type: chat, max_tokens: 8192}]
  - name: azure
    workspace: team-a
    factory: Azure-OpenAI
    api_base: https://contoso.openai.azure.com
    api_version: "2024-10-21"
    api_key: {vault: "secret/llm/team-a#azure", version: 2}
    models: [gpt-4o]
"""
STATE = {"llm/workspaces.yaml": WORKSPACES, "llm/configs/team-a.yaml": CONFIGS}

NETWORK = ("httpx", "httpcore", "hvac", "requests", "psycopg", "llmform.checks.providers")
OFFLINE = (
    *NETWORK,
    "jsonschema",  # the slow path that words schema errors: only when there is one
    "jsonschema_rs",  # a short run's documents are walked in Python (desired/schema_walk.py)
    "importlib.resources",  # ~10 ms: the catalog and the schema are read beside their modules
    "subprocess",  # git, only when the hook must compare with HEAD
    "tempfile",  # only a command that writes a file
    "llmform.desired.policy_rules",  # CEL, only for a state that has policies
    "llmform.desired.policy_model",  # and its verdicts' records
    "llmform.desired.scalar_source",  # and where its rules are written
    "sqlite3",
    "llmform.checks",
    "llmform.engine",
    "llmform.targets",
    "llmform.state.sql",
)
# validate, the pre-commit hook's command, runs without click (cli/entry.py's fast path); it
# needs logging (3 ms) for no record (parsed_cache._debug) and difflib only for an error's hint
# ... and a state in simple YAML (desired/simpleyaml.py) is read without PyYAML (16 ms)
COMPOSING = ("yaml", "llmform.desired.composed", "llmform.desired.yamltree")
VALIDATE = (*OFFLINE, *COMPOSING, "click", "llmform.cli.commands", "logging", "difflib")
# the hook, and named files: not pathlib either (4 ms with what it imports), nor typing (2 ms:
# the modules on their way use it for annotations only), nor the cache of built files (a few
# small files are checked whole: validate.BY_FILE_FROM_BYTES)
BY_FILE = ("llmform.desired.built_load", "llmform.desired.built_cache", "llmform.desired.built")
HOOK = (*VALIDATE, "pathlib", "typing", *BY_FILE)
VALIDATE_FILES = (*HOOK, "llmform.desired.scope")
# The trust rules parse URLs as httpx does without importing it (checks/url_parse.py), and the
# adapters and the key checks' subjects and runner are imported only by a run that checks keys.
NO_SECRETS_PLAN = (
    *NETWORK,
    "llmform.checks.subjects",
    "llmform.checks.run",
    "llmform.targets.mlflow",
    "llmform.targets.registry.postgres",
    "llmform.secrets.vault",
    "llmform.secrets.auth",
)


def _hook_command() -> list[str]:
    """The pre-commit hook's command line as .pre-commit-hooks.yaml writes it, less 'llmform'."""
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    program, *args = hook["entry"].split()
    assert program == "llmform", hook["entry"]
    return args


CASES = {
    "validate a folder": (["validate", "llm"], VALIDATE),
    "validate files": (
        ["validate", "llm/configs/team-a.yaml", "llm/workspaces.yaml"],
        VALIDATE_FILES,
    ),
    "validate --format json": (["validate", "--format", "json", "llm"], VALIDATE),
    "the pre-commit hook": ([*_hook_command(), "llm/configs/team-a.yaml"], HOOK),
    "schema": (["schema"], OFFLINE),
    "plan --no-secrets": (
        ["plan", "--no-secrets", "--store", "sqlite:///registry.db", "llm"],
        NO_SECRETS_PLAN,
    ),
}


def imported(tmp_path: Path, args: list[str], exit_code: int = 0) -> tuple[str, set[str]]:
    """Run ``llmform ARGS`` in a fresh interpreter in ``tmp_path``; what it printed and the
    modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, "--no-color", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    head, _, listing = done.stdout.rpartition(LISTING)
    assert done.returncode == exit_code and listing, done.stdout + done.stderr
    return head + done.stderr, set(json.loads(listing))


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_command_imports_only_what_it_uses(tmp_path: Path, case: str) -> None:
    args, forbidden = CASES[case]
    for name, text in STATE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    if forbidden in (HOOK, VALIDATE_FILES):  # where llmform ran before: its cache folder
        # exists (the first run makes it, with pathlib)
        for kind in ("parsed", "built"):
            cache = Path(os.environ["XDG_CACHE_HOME"], "llmform", kind)
            cache.mkdir(mode=0o700, parents=True)
            cache.chmod(0o700)
            cache.parent.chmod(0o700)
    output, modules = imported(tmp_path, args)
    assert "llmform.cli.entry" in modules, sorted(modules)  # the listing is of the CLI's run
    wrong = sorted(m for m in modules if within(m, forbidden))
    assert not wrong, f"{case} imported {wrong}\n{output}"


def test_a_schema_error_is_still_worded(tmp_path: Path) -> None:
    """The slow path stays reachable: an invalid document imports jsonschema for its message."""
    (tmp_path / "bad.yaml").write_text(CONFIGS.replace("    factory: OpenAI\n", "", 1))
    output, modules = imported(tmp_path, ["validate", "bad.yaml"], exit_code=1)
    assert "bad.yaml:3:5: error: configs[0]: missing required key 'factory'" in output, output
    assert "jsonschema" in modules


def test_yaml_beyond_the_simple_is_still_composed(tmp_path: Path) -> None:
    """The general path stays reachable: an anchor and an alias make the file be composed by
    PyYAML, with the same result."""
    (tmp_path / "llm.yaml").write_text(
        WORKSPACES.replace("- name: team-a", "- name: &team team-a")
        + CONFIGS.replace("apiVersion: llmform/v1\n", "").replace(
            "workspace: team-a", "workspace: *team"
        )
    )
    output, modules = imported(tmp_path, ["validate", "llm.yaml"])
    assert "Valid: 1 file(s), 2 factories, 1 workspaces, 2 configs" in output, output
    assert "yaml" in modules and "llmform.desired.composed" in modules


def test_commands_imported_when_run_are_listed_and_suggested(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A command named in the registry rather than imported is still in --help, and a typo of
    its name is still answered with it."""
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out.split("Commands:\n", 1)[1]
    names = [line.split()[0] for line in listed.splitlines() if line.strip()]
    assert names == sorted([*STORE_COMMANDS, "catalog", "schema", "validate"])
    assert main(["pla", "configs/"]) == 2
    assert "Error: No such command 'pla'. Did you mean 'plan'?" in capsys.readouterr().err
    assert main(["force-unlok"]) == 2
    assert "Did you mean 'force-unlock'?" in capsys.readouterr().err


POLICIES = """\
apiVersion: llmform/v1
policies:
  - name: vault-keys
    description: keys come from Vault
    applies_to: {kind: config}
    rule: object.name != ""
    message: a config needs a name
    level: hard
"""


def test_policies_load_the_cel_core_alone_and_the_package_still_imports_after(
    tmp_path: Path,
) -> None:
    """Policies need CEL's compiled core, not its package, whose command-line tool imports
    typer and rich; and a later ``import cel`` reuses that core (a second initialisation of
    the extension would panic)."""
    for name, text in {**STATE, "llm/policies.yaml": POLICIES}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    output, modules = imported(tmp_path, ["validate", "llm"])
    assert "cel.cel" in modules, output  # the policy was judged
    wrong = sorted(m for m in modules if within(m, ("typer", "rich", "prompt_toolkit", "cel.cli")))
    assert not wrong, f"validate with policies imported {wrong}\n{output}"
    after = WRAPPER.replace("sys.exit(code)", "import cel\nassert cel.evaluate('1 + 2') == 3\n")
    done = subprocess.run(
        [sys.executable, "-c", after, "--no-color", "validate", "llm"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
