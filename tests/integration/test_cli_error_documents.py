"""``plan --format markdown|json`` still prints a document in its format when the plan fails
(invalid YAML, a secret that cannot be resolved, a store error, an empty state, a refused
protected delete), so a pull-request comment shows why; the exit code stays 1 and text keeps
its diagnostics on stderr. Through the CLI on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmform.cli import main

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: LLMFORM_DOC_KEY}
    models: [gpt-4o]
    protect: true
"""
INVALID = STATE.replace("factory: OpenAI", "factory: OpenAl").replace(
    "workspace: prod\n    factory", "workspace: nope\n    factory"
)
PLAN_KEYS = [
    "format_version",
    "llmform_version",
    "changes",
    "unchanged",
    "summary",
    "validation",
    "warnings",
    "errors",
    "policies",
    "policy_overrides",
]


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_DOC_KEY", "sk-doc-secret-value")
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    (tmp_path / "llmform.yaml").write_text(STATE)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--no-color", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err
    assert "sk-doc-secret-value" not in out + err
    return code, out, err


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--format", "json", *args)
    assert code == 1
    data = json.loads(out)
    assert list(data) == PLAN_KEYS
    assert data["format_version"] == "1.0"
    assert (data["changes"], data["summary"]) == ([], {"add": 0, "change": 0, "destroy": 0})
    assert isinstance(data["errors"], list) and data["errors"]
    return data


def plan_markdown(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--format", "markdown", *args)
    assert code == 1
    assert out.startswith("### llmform plan\n\n**Plan failed: ")
    return out


def test_validation_errors(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "llmform.yaml").write_text(INVALID)
    data = plan_json(capsys, "llmform.yaml")
    assert data["errors"] == [
        {
            "message": "unknown workspace 'nope'; declare it under 'workspaces'",
            "file": "llmform.yaml",
            "line": 6,
            "column": 16,
            "path": "configs[0].workspace",
        },
        {
            "message": "unknown factory 'OpenAl' (did you mean 'OpenAI'?); declare it under "
            "'factories' or pick one from 'llmform catalog'",
            "file": "llmform.yaml",
            "line": 7,
            "column": 14,
            "path": "configs[0].factory",
        },
    ]
    assert plan_markdown(capsys, "llmform.yaml") == (
        "### llmform plan\n\n"
        "**Plan failed: 2 errors.** Nothing was planned; fix them and run the plan again.\n\n"
        "**Errors**\n\n"
        "- llmform.yaml:6:16: `configs[0].workspace`: unknown workspace 'nope'; declare it "
        "under 'workspaces'\n"
        "- llmform.yaml:7:14: `configs[0].factory`: unknown factory 'OpenAl' (did you mean "
        "'OpenAI'?); declare it under 'factories' or pick one from 'llmform catalog'\n"
    )
    # text: nothing on stdout, the diagnostics on stderr, as before
    code, out, err = run(capsys, "plan", "--no-validate-keys", "llmform.yaml")
    assert (code, out) == (1, "")
    assert "llmform.yaml:7:14: error: configs[0].factory: unknown factory 'OpenAl'" in err
    assert not (repo / "store.db").exists()


def test_warnings_ride_along(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "llmform.yaml").write_text(
        STATE.replace("workspace: prod\n    factory", "workspace: nope\n    factory").replace(
            "models: [gpt-4o]", "api_base: http://llm.example/v1\n    models: [gpt-4o]"
        )
    )
    data = plan_json(capsys, "llmform.yaml")
    assert data["warnings"] == [
        "llmform.yaml:9:15: warning: configs[0].api_base: plain http to 'llm.example' sends "
        "keys unencrypted; use https (http is fine only for loopback hosts)"
    ]
    assert [e["path"] for e in data["errors"]] == ["configs[0].workspace"]


def test_secret_errors(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMFORM_DOC_KEY")
    data = plan_json(capsys, "llmform.yaml")
    assert data["errors"] == [
        {
            "message": "env:LLMFORM_DOC_KEY: environment variable LLMFORM_DOC_KEY is not set; "
            "export it (used by config.prod/main api_key)",
            "file": "llmform.yaml",
            "line": 5,
            "column": 5,
            "address": "config.prod/main",
        }
    ]
    markdown = plan_markdown(capsys, "llmform.yaml")
    assert (
        "- llmform.yaml:5:5: env:LLMFORM\\_DOC\\_KEY: environment variable LLMFORM\\_DOC\\_KEY "
        "is not set; export it (used by config.prod/main api\\_key)\n"
    ) in markdown


def test_store_errors(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(capsys, "--store", "mysql://db/x", "llmform.yaml")
    assert data["errors"] == [
        {
            "message": "unsupported store URL scheme 'mysql' in 'mysql://db/x'; use one of "
            "mlflow+http://, mlflow+https://, "
            "postgres://, postgresql://, sqlite://"
        }
    ]
    assert "- unsupported store URL scheme 'mysql'" in plan_markdown(
        capsys, "--store", "mysql://db/x", "llmform.yaml"
    )


def test_an_empty_state(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")[0] == 0
    (repo / "llmform.yaml").write_text("apiVersion: llmform/v1\n")
    (error,) = plan_json(capsys, "llmform.yaml")["errors"]
    assert "run 'llmform destroy'" in error["message"]
    assert "run 'llmform destroy'" in plan_markdown(capsys, "llmform.yaml")


def test_a_refused_protected_delete(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The plan itself is shown, with the refusals in its errors."""
    assert run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")[0] == 0
    (repo / "llmform.yaml").write_text(STATE.split("configs:")[0])
    refusal = (
        "config.prod/main is protected, so it will not be destroyed: to delete it, first apply "
        "it with 'protect: false', then remove it"
    )
    code, out, err = run(capsys, "plan", "--no-validate-keys", "--format", "json", "llmform.yaml")
    assert code == 1
    data = json.loads(out)
    assert list(data) == PLAN_KEYS
    assert data["summary"] == {"add": 0, "change": 0, "destroy": 2}  # and factory.OpenAI
    assert data["errors"] == [{"address": "config.prod/main", "message": refusal}]
    assert "so the plan cannot be applied" in err
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--format", "markdown", "llmform.yaml")
    assert code == 1
    assert (
        "**Refused: protected resources would be destroyed, so this plan cannot be applied:**"
        f"\n\n- `config.prod/main` {refusal.split(' ', 1)[1]}\n"
    ) in out


NOT_SAVED = (
    "the plan was not saved: the store sqlite:///{store} does not exist yet, and a saved plan "
    "needs the store's key; create the store first with: llmform init --store "
    "sqlite:///{store}, or apply without saving a plan (apply creates the store)"
)


def test_a_plan_shown_but_not_saved_says_why_in_its_document(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """plan -o against a store that does not exist yet shows the plan and refuses to save it
    (exit 1): the document says why, as stderr does, not a plan without an error."""
    message = NOT_SAVED.format(store=repo / "store.db")
    args = ("plan", "--no-validate-keys", "-o", "new.plan", "llmform.yaml")
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 1 and message in err
    data = json.loads(out)
    assert data["summary"] == {"add": 3, "change": 0, "destroy": 0}
    assert data["errors"] == [{"message": message}]
    code, out, _ = run(capsys, *args, "--format", "markdown")
    assert code == 1
    assert "**Plan: 3 to add, 0 to change, 0 to destroy.**" in out
    errors = out.split("\n**Errors**\n\n- ", 1)[1]
    assert errors.startswith("the plan was not saved: the store sqlite:///")
    assert errors.endswith(", or apply without saving a plan (apply creates the store)\n")
    assert errors.count("\n") == 1  # the last section, one item
    assert not (repo / "new.plan").exists() and not (repo / "store.db").exists()


@pytest.mark.parametrize("fmt", ["json", "markdown", "text"])
def test_a_plan_file_that_cannot_be_written_stops_the_plan_before_it_starts(
    repo: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """-o in a folder that does not exist: said before anything is planned (no key checked,
    no secret read), in the document too."""
    assert run(capsys, "init")[0] == 0
    message = "cannot save the plan to missing/new.plan: no folder missing; nothing was planned"
    code, out, err = run(
        capsys, "plan", "--no-validate-keys", "--format", fmt, "-o", "missing/new.plan", "."
    )
    assert code == 1
    assert message in err
    if fmt == "json":
        assert json.loads(out)["errors"] == [{"message": message}]
    elif fmt == "markdown":
        assert out.startswith("### llmform plan\n\n**Plan failed: 1 error.**")
        assert "- cannot save the plan to missing/new.plan" in out
    else:
        assert out == ""
