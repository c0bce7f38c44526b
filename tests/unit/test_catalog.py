"""The built-in factory catalog: what ships, and that configs can use it without declaring it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from support.ragflow import ragflow_json

from llmform.catalog import builtin_factories
from llmform.cli import main
from llmform.desired.validate import validate_paths

# name -> (provider type, default endpoint); the contract of PRODUCT.md's built-in catalog and
# the endpoints of the vendors' documentation.
EXPECTED = {
    "OpenAI": ("openai", "https://api.openai.com/v1"),
    "Anthropic": ("anthropic", "https://api.anthropic.com"),
    "Gemini": ("gemini", "https://generativelanguage.googleapis.com/v1beta"),
    "Bailian": ("bailian", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
    "DeepSeek": ("deepseek", "https://api.deepseek.com"),
    "SILICONFLOW": ("siliconflow", "https://api.siliconflow.cn/v1"),
    "OpenAI-API-Compatible": ("openai-compatible", None),
    "Azure-OpenAI": ("azure-openai", None),
    "Bedrock": ("bedrock", None),
    "Ollama": ("ollama", "http://localhost:11434"),
}

# Our name -> RAGFlow's, where they differ: a store imported from RAGFlow must line up.
RAGFLOW_NAMES = {"Bailian": "Tongyi-Qianwen"}


def test_catalog_has_the_ten_vendors_with_types_and_endpoints() -> None:
    factories = builtin_factories()
    assert set(factories) == set(EXPECTED)
    for name, (kind, api_base) in EXPECTED.items():
        factory = factories[name]
        assert (factory.type, factory.api_base) == (kind, api_base), name
        assert factory.builtin


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"OpenAI-API-Compatible"}))
def test_every_vendor_lists_models_with_a_chat_model_or_embeddings(name: str) -> None:
    factory = builtin_factories()[name]
    assert factory.models, name
    assert any("chat" in m.types for m in factory.models), name
    for model in factory.models:
        if "chat" in model.types:  # a chat model without a context size would mislead users
            assert model.max_tokens, (name, model.name)


def test_openai_compatible_is_an_empty_shell() -> None:
    factory = builtin_factories()["OpenAI-API-Compatible"]
    assert factory.models == ()
    assert factory.api_base is None


def test_catalog_names_line_up_with_ragflow() -> None:
    infos = json.loads(ragflow_json().read_text("utf-8"))["factory_llm_infos"]
    ragflow_names = {info["name"] for info in infos}
    for name in EXPECTED:
        assert RAGFLOW_NAMES.get(name, name) in ragflow_names, name


def test_cli_lists_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(lines) == set(EXPECTED)
    for name, (kind, api_base) in EXPECTED.items():
        assert kind in lines[name].split()
        if api_base:
            assert lines[name].endswith(api_base)


# One config per catalog factory, with what its provider type requires; each must validate
# without the factory being declared.
CONFIGS = {
    "OpenAI": "api_key: {env: OPENAI_API_KEY}\n    models: [gpt-4o, text-embedding-3-small]",
    "Anthropic": "api_key: {env: ANTHROPIC_API_KEY}\n    models: [claude-sonnet-4-5-20250929]",
    "Gemini": "api_key: {env: GEMINI_API_KEY}\n    models: [gemini-2.5-flash]",
    "Bailian": "api_key: {vault: secret/llm/bailian#api_key}\n    models: [qwen3-max]",
    "DeepSeek": "api_key: {env: DEEPSEEK_API_KEY}\n    models: [deepseek-chat]",
    "SILICONFLOW": "api_key: {env: SF_KEY}\n    models: [BAAI/bge-m3]",
    "OpenAI-API-Compatible": (
        "api_base: http://127.0.0.1:8000/v1\n    models: [{name: my-llm, type: chat}]"
    ),
    "Azure-OpenAI": (
        "api_base: https://example.openai.azure.com\n    api_version: 2024-10-21\n"
        "    api_key: {env: AZURE_KEY}\n    models: [gpt-4o]"
    ),
    # api_base is given here because semantic.py asks every config of a factory without a
    # default endpoint for one; Bedrock's endpoint really follows from the region.
    "Bedrock": (
        "api_base: https://bedrock-runtime.us-east-1.amazonaws.com\n    region: us-east-1\n"
        "    api_key: {env: AWS_ACCESS_KEY_ID}\n    api_secret: {env: AWS_SECRET_ACCESS_KEY}\n"
        "    models: [amazon.nova-pro-v1:0]"
    ),
    "Ollama": "models: [llama3.1, nomic-embed-text]",
}


@pytest.mark.parametrize("factory", sorted(CONFIGS))
def test_a_config_uses_a_catalog_factory_undeclared(tmp_path: Path, factory: str) -> None:
    path = tmp_path / "state.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            apiVersion: llmform/v1
            workspaces:
              - name: prod
            configs:
              - name: main
                workspace: prod
                factory: {factory}
                {body}
            """
        ).format(factory=factory, body=CONFIGS[factory]),
        encoding="utf-8",
    )
    result = validate_paths([str(path)])
    assert result.diagnostics == []
    assert result.state is not None
    assert result.state.factories[factory] == builtin_factories()[factory]
