"""The examples in the repository validate cleanly, through the CLI a user would run."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmform.cli import main
from llmform.desired.model import DesiredState, EnvRef, VaultRef
from llmform.desired.validate import validate_paths

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SCHEMA = REPO / "schema" / "llmform.schema.json"
SCHEMA_COMMENT = "# yaml-language-server: $schema="

# example -> (files, factories, workspaces, configs) as `llmform validate` reports them
COUNTS = {
    "quickstart": (1, 2, 1, 2),
    "multi-workspace": (5, 12, 3, 14),
}


@pytest.mark.parametrize("example", sorted(COUNTS))
def test_example_validates_through_the_cli(
    example: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--no-color", "validate", str(EXAMPLES / example)])
    captured = capsys.readouterr()
    files, factories, workspaces, configs = COUNTS[example]
    assert code == 0, captured.err
    assert captured.err.splitlines() == [
        f"Valid: {files} file(s), {factories} factories, {workspaces} workspaces, {configs} configs"
    ]


def _state(example: str) -> DesiredState:
    result = validate_paths([str(EXAMPLES / example)])
    assert result.diagnostics == []
    assert result.state is not None
    return result.state


def test_quickstart_uses_env_references_and_a_custom_model() -> None:
    state = _state("quickstart")
    assert set(state.workspaces) == {"dev"}
    openai = state.configs[("dev", "openai")]
    assert openai.api_key == EnvRef("OPENAI_API_KEY")
    local = state.configs[("dev", "local")]
    assert [m.name for m in local.models if m.custom] == ["my-finetune"]
    assert all(f.builtin for f in state.factories.values())


def test_quickstart_plan_is_what_its_readme_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's plan, on an empty store: catalog factories as one summary line each."""
    readme = (EXAMPLES / "quickstart" / "README.md").read_text("utf-8")
    shown = readme.split("```\n", 2)[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-demo")
    monkeypatch.delenv("LLMFORM_STORE", raising=False)
    for name in ("LLMFORM_ENCRYPTION_KEY", "LLMFORM_TRANSIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    code = main(["--no-color", "plan", "--no-validate-keys", str(EXAMPLES / "quickstart")])
    assert (code, capsys.readouterr().out) == (0, shown)
    # 98 before catalog factories were summarised; 2 for the note that the store is new
    assert len(shown.splitlines()) == 45


def test_multi_workspace_readme_commands_run_offline_as_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its README's two commands, with no Vault and no key: validate, and plan --no-secrets
    against a store of its own, ending as the README shows; nothing is written."""
    readme = (EXAMPLES / "multi-workspace" / "README.md").read_text("utf-8")
    shown = readme.split("```\n", 2)[1]
    monkeypatch.chdir(tmp_path)
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "LLMFORM_STORE", "LLMFORM_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.vault-token
    example = str(EXAMPLES / "multi-workspace")
    assert "    llmform validate examples/multi-workspace\n" in readme
    assert main(["--no-color", "validate", example]) == 0
    assert "`Valid: 5 file(s), 12 factories, 3 workspaces, 14 configs`" in readme
    capsys.readouterr()
    command = "llmform plan --no-secrets --store sqlite:///multi.db examples/multi-workspace"
    assert f"    {command}\n" in readme
    code = main(["--no-color", *command.split()[1:-1], example])
    out = capsys.readouterr().out
    assert code == 0 and out.endswith(shown), out
    assert list(tmp_path.iterdir()) == []


def test_multi_workspace_covers_what_the_issue_asks_for() -> None:
    state = _state("multi-workspace")
    assert set(state.workspaces) == {"prod", "staging", "research"}
    assert all(w.defaults for w in state.workspaces.values())
    per_workspace = {ws: sum(k[0] == ws for k in state.configs) for ws in state.workspaces}
    assert per_workspace == {"prod": 5, "staging": 4, "research": 5}

    vendors = {c.factory for c in state.configs.values()}
    assert len(vendors) >= 6
    assert {name for name, f in state.factories.items() if not f.builtin} == {
        "Internal vLLM",
        "VolcEngine",
    }

    refs = [
        ref
        for config in state.configs.values()
        for ref in (config.api_key, *config.backup_keys, *config.secret_options.values())
        if ref is not None
    ]
    assert any(isinstance(ref, VaultRef) for ref in refs)
    assert any(isinstance(ref, EnvRef) for ref in refs)
    assert any(config.backup_keys for config in state.configs.values())


@pytest.mark.parametrize(
    "file", sorted(EXAMPLES.rglob("*.yaml")), ids=lambda p: str(p.relative_to(EXAMPLES))
)
def test_example_files_point_editors_at_the_schema(file: Path) -> None:
    first = file.read_text("utf-8").splitlines()[0]
    assert first.startswith(SCHEMA_COMMENT)
    assert (file.parent / first.removeprefix(SCHEMA_COMMENT)).resolve() == SCHEMA
    assert SCHEMA.is_file()
