"""The built-in catalog's compiled data (catalog/compiled.py) is the catalog's YAML, checked:
every command reads it instead of parsing the YAML (start-up time), so it must say exactly what
the YAML says, locations included, and never stand in for YAML it did not come from."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import pytest

import llmform.catalog as catalog
from llmform.catalog import builtin_factories, catalog_digest, catalog_files, parse_catalog
from llmform.catalog.write_compiled import COMPILED, compiled_text

MODULE = "llmform.catalog.compiled"


def test_the_compiled_data_is_written_from_the_yaml_as_it_is() -> None:
    on_disk = Path(COMPILED).read_text(encoding="utf-8")
    assert on_disk == compiled_text(), (
        "catalog/compiled.py is not the catalog's YAML: run python -m "
        "llmform.catalog.write_compiled"
    )


def test_the_catalog_comes_from_the_compiled_data_and_equals_the_parsed_yaml() -> None:
    files = catalog_files()
    compiled = catalog._compiled(catalog_digest(files))
    assert compiled is not None  # the data came from these files: it is what is used
    parsed = parse_catalog(files)
    # repr: the locations too, which equality leaves out (compare=False)
    assert repr(compiled) == repr(parsed)
    assert repr(builtin_factories()) == repr(parsed)
    assert all(factory.builtin for factory in compiled.values())


@pytest.fixture
def catalog_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    shutil.copytree(catalog.DATA, data)
    monkeypatch.setattr(catalog, "DATA", str(data))
    return data


def test_edited_yaml_is_parsed_not_taken_from_data_it_did_not_make(catalog_copy: Path) -> None:
    deepseek = catalog_copy / "deepseek.yaml"
    text = deepseek.read_text(encoding="utf-8")
    assert "name: deepseek-chat" in text
    deepseek.write_text(text.replace("name: deepseek-chat", "name: deepseek-edited"), "utf-8")
    factories = builtin_factories.__wrapped__()
    names = [model.name for model in factories["DeepSeek"].models]
    assert "deepseek-edited" in names
    assert "deepseek-chat" not in names


def test_a_broken_edit_of_the_yaml_still_fails_loudly(catalog_copy: Path) -> None:
    (catalog_copy / "deepseek.yaml").write_text("apiVersion: llmform/v1\nfactories: 3\n", "utf-8")
    with pytest.raises(catalog.InputError):
        builtin_factories.__wrapped__()


@pytest.mark.parametrize("digest", [None, "0" * 64, 3])
def test_data_of_other_yaml_falls_back_to_the_yaml(
    digest: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = types.ModuleType(MODULE)
    if digest is not None:
        other.DIGEST = digest  # type: ignore[attr-defined]
    other.FACTORIES = []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, MODULE, other)
    monkeypatch.delattr(catalog, "compiled", raising=False)
    assert catalog._compiled(catalog_digest(catalog_files())) is None
    assert repr(builtin_factories.__wrapped__()) == repr(parse_catalog(catalog_files()))


def test_missing_data_falls_back_to_the_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, MODULE, None)  # what an import of a missing module raises
    monkeypatch.delattr(catalog, "compiled", raising=False)
    assert catalog._compiled(catalog_digest(catalog_files())) is None
    assert repr(builtin_factories.__wrapped__()) == repr(parse_catalog(catalog_files()))
