"""``llmform catalog import-ragflow``: RAGFlow's llm_factories.json -> llmform YAML.

The main input is RAGFlow's real catalog, kept beside the repository (not copied into it); the
expectations are computed from that JSON here, by the rules PRODUCT.md states, not by the
importer's code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.ragflow import ragflow_json

from llmform.catalog.ragflow import import_ragflow
from llmform.cli import main
from llmform.desired.model import DesiredState
from llmform.desired.validate import validate_paths

# The mapping the importer promises (PRODUCT.md's provider types); every other vendor is
# openai-compatible.
PROVIDER_TYPES = {
    "OpenAI": "openai",
    "Anthropic": "anthropic",
    "Gemini": "gemini",
    "Tongyi-Qianwen": "bailian",
    "DeepSeek": "deepseek",
    "SILICONFLOW": "siliconflow",
    "siliconflow_intl": "siliconflow",
    "Azure-OpenAI": "azure-openai",
    "Bedrock": "bedrock",
    "Ollama": "ollama",
}


def _types(raw: str | list[str]) -> set[str]:
    kinds = [raw] if isinstance(raw, str) else raw
    return {"image2text" if k == "vision" else k for k in kinds}


@pytest.fixture(scope="module")
def infos() -> list[dict[str, Any]]:
    data = json.loads(ragflow_json().read_text("utf-8"))
    result: list[dict[str, Any]] = data["factory_llm_infos"]
    return result


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, DesiredState]:
    text = import_ragflow(str(ragflow_json()))
    path = tmp_path_factory.mktemp("ragflow") / "factories.yaml"
    path.write_text(text, encoding="utf-8")
    result = validate_paths([str(path)])
    assert result.diagnostics == []
    assert result.state is not None
    return text, result.state


def test_real_catalog_converts_to_valid_yaml_with_every_vendor_and_model(
    infos: list[dict[str, Any]], imported: tuple[str, DesiredState]
) -> None:
    _text, state = imported
    vendors = {info["name"] for info in infos}
    pairs = {(info["name"], m["llm_name"]) for info in infos for m in info["llm"]}
    assert len(vendors) == len(infos) == 71
    assert set(state.factories) == vendors
    assert {(f.name, m.name) for f in state.factories.values() for m in f.models} == pairs
    assert sum(len(f.models) for f in state.factories.values()) == len(pairs)


def test_vendors_map_to_provider_types_and_keep_their_url(
    infos: list[dict[str, Any]], imported: tuple[str, DesiredState]
) -> None:
    _text, state = imported
    assert set(PROVIDER_TYPES) <= {info["name"] for info in infos}
    for info in infos:
        factory = state.factories[info["name"]]
        assert factory.type == PROVIDER_TYPES.get(info["name"], "openai-compatible")
        assert factory.api_base == info.get("url")
        assert list(factory.tags) == [t.strip() for t in info["tags"].split(",") if t.strip()]


def test_models_keep_types_sizes_and_tool_support(
    infos: list[dict[str, Any]], imported: tuple[str, DesiredState]
) -> None:
    _text, state = imported
    # a model listed twice (FuturMix's gpt-4o) is one model with what both entries say
    expected: dict[tuple[str, str], tuple[set[str], set[int], bool]] = {}
    for info in infos:
        for m in info["llm"]:
            kinds, sizes, tools = expected.get((info["name"], m["llm_name"]), (set(), set(), False))
            if m.get("max_tokens") is not None:
                sizes = sizes | {m["max_tokens"]}
            expected[info["name"], m["llm_name"]] = (
                kinds | _types(m["model_type"]),
                sizes,
                tools or m.get("is_tools") is True,
            )
    for factory in state.factories.values():
        for model in factory.models:
            kinds, sizes, tools = expected[factory.name, model.name]
            assert set(model.types) == kinds, (factory.name, model.name)
            assert len(model.types) == len(kinds)
            assert model.max_tokens == (max(sizes) if sizes else None)
            assert model.tools is tools


def test_duplicate_and_vision_entries(imported: tuple[str, DesiredState]) -> None:
    text, state = imported
    gpt4o = state.factories["FuturMix"].model("gpt-4o")
    assert gpt4o is not None
    assert set(gpt4o.types) == {"chat", "image2text"}
    assert "FuturMix/gpt-4o: listed twice; merged" in text
    vision = state.factories["NVIDIA"].model("nvidia/nemotron-nano-12b-v2-vl")
    assert vision is not None
    assert set(vision.types) == {"chat", "image2text"}


def test_output_is_deterministic_and_says_where_it_came_from(
    imported: tuple[str, DesiredState],
) -> None:
    text, _state = imported
    assert import_ragflow(str(ragflow_json())) == text
    header = text.split("apiVersion: llmform/v1")[0]
    assert str(ragflow_json()) in header
    assert all(line.startswith("#") for line in header.splitlines())


def test_cli_writes_stdout_or_out_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], imported: tuple[str, DesiredState]
) -> None:
    text, _state = imported
    assert main(["catalog", "import-ragflow", str(ragflow_json())]) == 0
    assert capsys.readouterr().out == text
    out = tmp_path / "out.yaml"
    assert main(["catalog", "import-ragflow", str(ragflow_json()), "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert out.read_text("utf-8") == text


# Inputs RAGFlow would not write but a newer or edited file might: converted, with a note.
ODD_BUT_USABLE = [
    pytest.param(
        {"name": "Foo/Bar", "tags": "LLM", "llm": [{"llm_name": "m", "model_type": "chat"}]},
        "Foo-Bar",
        ["m"],
        id="vendor-name-with-slash",
    ),
    pytest.param(
        {"name": "Trailing\n", "llm": [{"llm_name": "m", "model_type": "chat"}]},
        "Trailing",
        ["m"],
        id="vendor-name-with-newline",
    ),
    pytest.param(
        {
            "name": "Imagery",
            "tags": "LLM, IMAGE",
            "llm": [
                {"llm_name": "painter", "model_type": "image_generation"},
                {"llm_name": "seer", "model_type": ["chat", "image_generation"]},
            ],
        },
        "Imagery",
        ["seer"],
        id="unknown-model-type",
    ),
    pytest.param(
        {"name": "Bare", "tags": "", "url": "", "llm": []}, "Bare", [], id="no-tags-no-models"
    ),
    pytest.param(
        {"name": "Odd", "tags": "LLM", "url": "ftp://odd.example", "llm": []},
        "Odd",
        [],
        id="unusable-url",
    ),
]


@pytest.mark.parametrize(("info", "name", "models"), ODD_BUT_USABLE)
def test_odd_entries_convert_with_a_note(
    tmp_path: Path, info: dict[str, Any], name: str, models: list[str]
) -> None:
    source = tmp_path / "llm_factories.json"
    source.write_text(json.dumps({"factory_llm_infos": [info]}), encoding="utf-8")
    text = import_ragflow(str(source))
    out = tmp_path / "out.yaml"
    out.write_text(text, encoding="utf-8")
    result = validate_paths([str(out)])
    assert result.diagnostics == []
    assert result.state is not None
    factory = result.state.factories[name]
    assert [m.name for m in factory.models] == models
    assert factory.api_base is None
    if name != info["name"] or len(models) < len(info["llm"]) or info.get("url"):
        assert "# Changes made to fit llmform:" in text


# Names that YAML would read as something else, or fold over lines, unless quoted right.
ODD_NAMES = [
    *("x: y", "#hash", "- dash", "'q'", '"dq"', "a, b", "{b}", "[l]", "*star", "&amp", "!bang"),
    *("%p", "|pipe", ">gt", "?q", "@at", "`bt", "null", "true", "123", "0x1F", "~", "\\back"),
    *("  lead", "trail ", "tab\tx", "a\nb", "a\r\nb", "a\u2028b", "a\x85b", "\ufeffbom"),
    *("ü中文", "\U0001f600", "a" * 256),
    # what a terminal or an editor acts on: written as escapes, read back as they were
    *("esc\x1b[2J\x1b]0;t\x07", "c1\x9b31m", "bidi\u202egnp.exe", "zero\u200bwidth", "nbsp\xa0x"),
]


def test_odd_model_names_survive_the_round_trip(tmp_path: Path) -> None:
    info = {
        "name": "Odd names",
        "tags": "LLM, x: y, #t, [a]",
        "llm": [{"llm_name": name, "model_type": "chat"} for name in ODD_NAMES],
    }
    source = tmp_path / "llm_factories.json"
    source.write_text(json.dumps({"factory_llm_infos": [info]}), encoding="utf-8")
    out = tmp_path / "out.yaml"
    text = import_ragflow(str(source))
    assert all(c.isprintable() or c == "\n" for c in text), [c for c in text if not c.isprintable()]
    out.write_text(text, encoding="utf-8")
    result = validate_paths([str(out)])
    assert result.diagnostics == []
    assert result.state is not None
    factory = result.state.factories["Odd names"]
    assert [m.name for m in factory.models] == ODD_NAMES
    assert list(factory.tags) == ["LLM", "x: y", "#t", "[a]"]


def test_empty_catalog_is_valid(tmp_path: Path) -> None:
    source = tmp_path / "llm_factories.json"
    source.write_text('{"factory_llm_infos": []}', encoding="utf-8")
    out = tmp_path / "out.yaml"
    out.write_text(import_ragflow(str(source)), encoding="utf-8")
    assert validate_paths([str(out)]).ok


BAD_INPUTS = [
    pytest.param(None, ["no such file"], id="missing"),
    pytest.param(b'{"factory_llm_infos": [', ["not valid JSON", ":1:"], id="truncated-json"),
    pytest.param(b"\xff\xfe{}", ["not UTF-8"], id="not-utf8"),
    pytest.param(b"", ["not valid JSON"], id="empty-file"),
    pytest.param(b"[]", ["'factory_llm_infos' list", "a JSON array"], id="top-level-array"),
    pytest.param(b'{"llm": []}', ["without it"], id="no-factory-llm-infos"),
    pytest.param(b'{"factory_llm_infos": {}}', ["as a JSON object"], id="infos-not-array"),
    pytest.param(
        json.dumps(
            {
                "factory_llm_infos": [
                    "OpenAI",
                    {"name": "A", "tags": "LLM", "llm": [{"model_type": "chat"}]},
                    {
                        "name": "B",
                        "tags": 3,
                        "llm": [{"llm_name": "m", "model_type": "chat", "max_tokens": "8k"}],
                    },
                ]
            }
        ).encode(),
        [  # every problem of the file in one run
            "factory_llm_infos[0]: expected an object",
            "factory_llm_infos[1].llm[0].llm_name",
            "factory_llm_infos[2].tags",
            "factory_llm_infos[2].llm[0].max_tokens",
        ],
        id="bad-entries",
    ),
    pytest.param(
        b'{"factory_llm_infos":\n' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        [":2:100: JSON nested more than 100 levels deep"],  # the 101st '[' of line 2
        id="deeply-nested",
    ),
    pytest.param(
        b'{"factory_llm_infos": [{"name": "A", "llm": [{"llm_name": "m", "model_type": "chat", '
        b'"max_tokens": ' + b"9" * 5000 + b"}]}]}",
        ["factory_llm_infos[0].llm[0].max_tokens: expected an integer from 0 to "],
        id="integer-of-5000-digits",
    ),
    pytest.param(
        json.dumps(
            {
                "factory_llm_infos": [
                    {"name": "A", "llm": [{"llm_name": "m", "model_type": "chat", "max_tokens": n}]}
                    for n in (2**63, 10**30)
                ]
            }
        ).encode(),
        [
            "factory_llm_infos[0].llm[0].max_tokens: expected an integer from 0 to "
            "9223372036854775807 (2^63 - 1) or null",
            "factory_llm_infos[1].llm[0].max_tokens",
        ],
        id="max-tokens-beyond-64-bits",
    ),
    pytest.param(
        b'{"factory_llm_infos": [{"name": "A\\ud800", "llm": [{"llm_name": "m\\udfff", '
        b'"model_type": "chat"}]}]}',
        [
            "factory_llm_infos[0].name: a \\ud800-\\udfff escape that is no character",
            "factory_llm_infos[0].llm[0].llm_name: a \\ud800-\\udfff escape",
        ],
        id="lone-surrogate-escapes",
    ),
]


@pytest.mark.parametrize(("content", "messages"), BAD_INPUTS)
def test_bad_input_is_a_clear_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    messages: list[str],
) -> None:
    source = tmp_path / "llm_factories.json"
    if content is not None:
        source.write_bytes(content)
    out = tmp_path / "out.yaml"
    assert main(["--no-color", "catalog", "import-ragflow", str(source), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    assert "internal error" not in captured.err
    assert str(source) in captured.err
    for message in messages:
        assert message in captured.err
    assert not out.exists()


def test_a_huge_or_endless_file_is_read_with_a_bound(tmp_path: Path) -> None:
    """A file past the limit (sparse here) is refused; /dev/zero ends too. In a child process
    with at most 1 GiB of memory, so that a regression fails instead of taking the machine's."""
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(16 * 2**20 + 1)
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30)); "
        "from llmform.cli import main; sys.exit(main(['--no-color', 'catalog', "
        "'import-ragflow', sys.argv[1]]))"
    )
    for source in (str(huge), "/dev/zero"):
        done = subprocess.run(
            [sys.executable, "-c", code, source],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == (
            f"error: {source}: larger than 16 MiB, the most llmform reads from one file; "
            "give the path to RAGFlow's conf/llm_factories.json\n"
        )
