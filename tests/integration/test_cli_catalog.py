"""Catalog factories through the CLI on a real SQLite file: one summary line in a plan (the
model lists with -v and in JSON), export keeping them as catalog references so an adopted
repository follows catalog updates, and ``llmform catalog NAME``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from llmform.catalog import builtin_factories
from llmform.cli import main

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: openai
    workspace: prod
    factory: OpenAI
    api_key: {env: CAT_KEY}
    models: [gpt-4o]
  - name: deepseek
    workspace: prod
    factory: DeepSeek
    api_key: {env: CAT_KEY}
    models: [deepseek-chat]
"""
OPENAI_MODELS = len(builtin_factories()["OpenAI"].models)
DEEPSEEK_MODELS = len(builtin_factories()["DeepSeek"].models)


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("CAT_KEY", "sk-cat-0001")
    for name in ("LLMFORM_ENCRYPTION_KEY", "LLMFORM_TRANSIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "llmform.yaml").write_text(STATE)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    offline = ["--no-validate-keys"] if args[0] in ("plan", "apply") else []
    code = main(["--no-color", args[0], *offline, *args[1:]])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err
    return code, out, err


def test_plan_shows_catalog_factories_as_one_line_each(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "plan", "llmform.yaml")
    assert code == 0
    assert out.startswith(
        "Factories:\n"
        "\n"
        f"  + factory.DeepSeek (built-in catalog, {DEEPSEEK_MODELS} models)\n"
        f"  + factory.OpenAI (built-in catalog, {OPENAI_MODELS} models)\n"
        "\n"
        "Workspace prod:\n"
    )
    assert "gpt-4.1-nano" not in out
    for flag in ("-v", "--verbose"):
        code, verbose, _ = run(capsys, "plan", flag, "llmform.yaml")
        assert "  # factory.OpenAI will be created (built-in catalog)\n" in verbose
        assert '+ "gpt-4.1-nano" {type = ["chat", "image2text"]' in verbose
        assert "(built-in catalog, " not in verbose
    code, out, _ = run(capsys, "plan", "--format", "json", "llmform.yaml")
    data = json.loads(out)
    openai = next(c for c in data["changes"] if c["address"] == "factory.OpenAI")
    assert len(openai["after"]["models"]) == OPENAI_MODELS
    code, out, _ = run(capsys, "plan", "--format", "markdown", "llmform.yaml")
    assert f"+   factory.OpenAI (built-in catalog, {OPENAI_MODELS} models)\n" in out
    code, out, _ = run(capsys, "plan", "--format", "markdown", "-v", "llmform.yaml")
    assert '+           "gpt-4.1-nano" {type = ["chat", "image2text"]' in out


def test_a_changed_catalog_is_a_reviewable_update(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an older llmform release applied differs from this release's catalog: the plan
    shows the difference model by model."""
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    with sqlite3.connect(repo / "store.db") as conn:
        conn.execute(
            "DELETE FROM factory_models WHERE factory = 'DeepSeek' AND name = 'deepseek-reasoner'"
        )
        conn.execute("UPDATE factory_models SET max_tokens = 64000 WHERE name = 'deepseek-chat'")
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "llmform.yaml")
    assert code == 2
    assert out.startswith(
        "Factories:\n"
        "\n"
        "  # factory.DeepSeek will be updated in place (built-in catalog)\n"
        "  ~ factory.DeepSeek {\n"
        "      ~ models = [\n"
        '          ~ "deepseek-chat" {max_tokens = 64000 -> 128000}\n'
        '          + "deepseek-reasoner" {type = ["chat"], max_tokens = 128000, tools = true}\n'
    )


def test_export_keeps_catalog_factories_as_references_and_round_trips(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    code, exported, _ = run(capsys, "export")
    assert code == 0
    assert "factories:" not in exported  # the configs name them, the catalog provides them
    (repo / "adopted").mkdir()
    (repo / "adopted" / "llmform.yaml").write_text(exported)
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "adopted")
    assert (code, out.splitlines()[-1]) == (0, "No changes. The store matches the configuration.")


def test_export_writes_a_factory_that_differs_from_the_catalog_in_full_with_a_comment(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "llmform.yaml").write_text(
        STATE
        + """\
factories:
  - name: Internal
    type: openai-compatible
    api_base: https://llm.internal.example/v1
    models: [{name: tuned, type: chat}]
  - name: Ollama
    type: ollama
    api_base: http://localhost:11434
    tags: [LLM, TEXT EMBEDDING, IMAGE2TEXT]
    models: []
"""
    )
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    with sqlite3.connect(repo / "store.db") as conn:  # as an older release left it
        conn.execute(
            "DELETE FROM factory_models WHERE factory = 'DeepSeek' AND name = 'deepseek-reasoner'"
        )
    # Ollama: the catalog's name, but not its models; nothing uses it
    code, exported, _ = run(capsys, "export")
    assert code == 0
    documents = exported.split("factories:\n", 1)[1].split("workspaces:\n", 1)[0]
    assert documents.startswith(
        "# differs from llmform's built-in catalog entry 'DeepSeek' (an older release's, or "
        "edited);\n# remove this entry to follow the catalog\n"
        "- name: DeepSeek\n"
        "  type: deepseek\n"
    )
    assert "\n- name: Internal\n  type: openai-compatible\n" in documents
    assert "# differs from llmform's built-in catalog entry 'Ollama'" in documents
    assert "- name: OpenAI" not in documents
    (repo / "adopted").mkdir()
    (repo / "adopted" / "llmform.yaml").write_text(exported)
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "adopted")
    assert (code, out.splitlines()[-1]) == (0, "No changes. The store matches the configuration.")

    # removing the entry follows the catalog again: the update is shown
    text = (repo / "adopted" / "llmform.yaml").read_text()
    start = text.index("# differs from llmform's built-in catalog entry 'DeepSeek'")
    end = text.index("- name: Internal")
    (repo / "adopted" / "llmform.yaml").write_text(text[:start] + text[end:])
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "adopted")
    assert code == 2
    assert "  # factory.DeepSeek will be updated in place (built-in catalog)\n" in out
    assert '+ "deepseek-reasoner"' in out


def test_export_declares_an_unused_catalog_factory_so_the_round_trip_keeps_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deepseek = builtin_factories()["DeepSeek"]
    models = ", ".join(
        f"{{name: {m.name}, type: chat, max_tokens: {m.max_tokens}, tools: true}}"
        for m in deepseek.models
    )
    (repo / "llmform.yaml").write_text(
        STATE.split("  - name: deepseek")[0]
        + f"factories:\n  - {{name: DeepSeek, type: deepseek, api_base: '{deepseek.api_base}', "
        f"tags: [LLM], models: [{models}]}}\n"
    )
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    code, exported, _ = run(capsys, "export")
    assert (
        "factories:\n"
        "# the built-in catalog's 'DeepSeek', unchanged: declared because no config uses it\n"
        "# (a config naming it would pull it in from the catalog)\n"
        "- name: DeepSeek\n"
    ) in exported
    (repo / "adopted").mkdir()
    (repo / "adopted" / "llmform.yaml").write_text(exported)
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "adopted")
    assert (code, out.splitlines()[-1]) == (0, "No changes. The store matches the configuration.")


# -- llmform catalog NAME -----------------------------------------------------------------------


def test_catalog_name_lists_a_vendors_models(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("DeepSeek", "deepseek", "DEEPSEEK"):
        code, out, _ = run(capsys, "catalog", name)
        assert code == 0
        assert out == (
            "DeepSeek: 4 models, type deepseek, endpoint https://api.deepseek.com\n"
            "\n"
            "MODEL              TYPES  MAX_TOKENS  TOOLS\n"
            "deepseek-v4-pro    chat      1000000  yes\n"
            "deepseek-v4-flash  chat      1000000  yes\n"
            "deepseek-chat      chat       128000  yes\n"
            "deepseek-reasoner  chat       128000  yes\n"
        )
    code, out, _ = run(capsys, "catalog", "openai")
    lines = out.splitlines()
    assert (
        lines[0]
        == f"OpenAI: {OPENAI_MODELS} models, type openai, endpoint https://api.openai.com/v1"
    )
    assert len(lines) == OPENAI_MODELS + 3
    assert "gpt-4o-mini-tts         tts                        -  no" in lines
    code, out, _ = run(capsys, "catalog", "Bedrock")
    assert out.startswith("Bedrock: 17 models, type bedrock, endpoint (from the config's region)\n")
    code, out, _ = run(capsys, "catalog", "openai-api-compatible")
    assert out == (
        "OpenAI-API-Compatible: 0 models, type openai-compatible, endpoint (set api_base per "
        "config)\nNo models in the catalog: a config lists its own, as custom models.\n"
    )


def test_catalog_name_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (("--format", "json", "deepseek"), ("deepseek", "--format", "json")):
        code, out, _ = run(capsys, "catalog", *args)
        assert code == 0
        data = json.loads(out)
        assert list(data) == ["name", "type", "api_base", "tags", "models"]
        assert data["models"][2] == {
            "name": "deepseek-chat",
            "type": ["chat"],
            "max_tokens": 128000,
            "tools": True,
        }
    code, out, _ = run(capsys, "catalog", "--format", "json")
    listing = {f["name"]: f for f in json.loads(out)}
    assert listing["OpenAI"]["models"] == OPENAI_MODELS
    assert listing["Bedrock"]["api_base"] is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "OpenAl",
            "error: no factory 'OpenAl' in the built-in catalog (did you mean 'OpenAI'?); "
            "'llmform catalog' lists them\n",
        ),
        (
            "anthropik",
            "error: no factory 'anthropik' in the built-in catalog (did you mean "
            "'Anthropic'?); 'llmform catalog' lists them\n",
        ),
        ("zzz", "error: no factory 'zzz' in the built-in catalog; 'llmform catalog' lists them\n"),
        (
            "x\x1b[2J\ny",
            "error: no factory 'x\\x1b[2J\\x0ay' in the built-in catalog; "
            "'llmform catalog' lists them\n",
        ),
    ],
)
def test_catalog_name_unknown(name: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "catalog", name)
    assert (code, out, err) == (1, "", message)


def test_catalog_subcommand_and_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "catalog", "OpenAI", "extra")
    assert code == 2 and "unexpected extra argument 'extra'" in err
    code, _, err = run(capsys, "catalog", "import-ragflow")
    assert code == 2 and "Missing argument 'FILE'" in err
