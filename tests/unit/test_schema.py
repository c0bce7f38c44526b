"""The JSON Schema: one file, shipped as-is, valid draft 2020-12, documented, and in step with
the code's tables. Plus the repository contract that CI runs the README's test command."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from llmform.cli import main
from llmform.desired.model import MODEL_TYPES
from llmform.desired.provider_types import PROVIDER_TYPES
from llmform.desired.schema import schema, schema_text

REPO = Path(__file__).resolve().parents[2]
REPO_SCHEMA = REPO / "schema" / "llmform.schema.json"
SHIPPED_SCHEMA = REPO / "src" / "llmform" / "desired" / "llmform.schema.json"


def test_the_shipped_schema_is_the_repository_schema_byte_for_byte() -> None:
    assert SHIPPED_SCHEMA.read_bytes() == REPO_SCHEMA.read_bytes()


def test_the_package_reads_the_repository_schema() -> None:
    assert schema_text().encode("utf-8") == REPO_SCHEMA.read_bytes()
    assert schema() == json.loads(REPO_SCHEMA.read_text("utf-8"))


def test_llmform_schema_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (REPO_SCHEMA.read_text("utf-8"), "")


def test_it_is_a_valid_draft_2020_12_schema() -> None:
    loaded = json.loads(REPO_SCHEMA.read_text("utf-8"))
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(loaded)


def _properties(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema, wherever it is declared, with a JSON pointer to it."""
    if isinstance(node, dict):
        for name, value in node.get("properties", {}).items():
            yield f"{where}/properties/{name}", value
        for key, value in node.items():
            yield from _properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _properties(value, f"{where}/{index}")


def _resolve(pointer: str, root: dict[str, Any]) -> dict[str, Any]:
    assert pointer.startswith("#/"), pointer
    node: Any = root
    for part in pointer[2:].split("/"):
        node = node[part]
    assert isinstance(node, dict)
    return node


def test_every_property_has_a_description() -> None:
    """Editors show it on hover. A property that only refers to a definition inherits the
    definition's description (as yaml-language-server shows it)."""
    root = schema()
    missing = []
    properties = list(_properties(root))
    assert len(properties) > 30  # the walk really went through the $defs
    for pointer, prop in properties:
        described = prop
        if "description" not in prop and "$ref" in prop:
            described = _resolve(prop["$ref"], root)
        if not str(described.get("description", "")).strip():
            missing.append(pointer)
    assert missing == []


def test_every_definition_has_a_description() -> None:
    assert [name for name, d in schema()["$defs"].items() if not d.get("description")] == []


def _enum(name: str) -> list[str]:
    values = schema()["$defs"][name]["enum"]
    assert isinstance(values, list)
    return values


def test_provider_types_match_the_code() -> None:
    values = _enum("providerType")
    assert len(values) == len(set(values))
    assert set(values) == set(PROVIDER_TYPES)


def test_model_types_match_the_code() -> None:
    values = _enum("modelType")
    assert len(values) == len(set(values))
    assert set(values) == set(MODEL_TYPES)


def test_provider_specific_fields_are_config_properties() -> None:
    """A provider type's required or secret options must be writable in a config."""
    config = schema()["$defs"]["config"]["properties"]
    for provider in PROVIDER_TYPES.values():
        for option in (*provider.required_options, *provider.secret_options):
            assert option in config, (provider.name, option)


# -- repository contracts ------------------------------------------------------------------


def _readme_test_command() -> str:
    readme = (REPO / "README.md").read_text("utf-8")
    match = re.search(r"run the tests:\s*\n\n {4}(\S.*)\n", readme)
    assert match is not None, "README: no indented command after 'run the tests:'"
    return match.group(1)


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    command = _readme_test_command()
    assert "pytest" in command
    ci_lines = (REPO / ".ci" / "run").read_text("utf-8").splitlines()
    assert command in ci_lines
