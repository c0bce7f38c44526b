"""A scanned folder passes over other tools' YAML, but not a wrong llmform version."""

from __future__ import annotations

from pathlib import Path

from llmform.loader import load_paths


def test_scan_ignores_other_api_versions_but_not_llmform_ones(tmp_path: Path) -> None:
    (tmp_path / "configmap.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    (tmp_path / "future.yaml").write_text("apiVersion: llmform/v2\n")
    result = load_paths([str(tmp_path)])
    assert [str(d) for d in result.diagnostics] == [
        f"{tmp_path / 'future.yaml'}:1:13: error: apiVersion: unsupported apiVersion "
        "'llmform/v2'; this llmform reads 'llmform/v1'"
    ]


def test_named_foreign_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "configmap.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    result = load_paths([str(tmp_path / "configmap.yaml")])
    assert len(result.diagnostics) == 1
    assert "unsupported apiVersion 'v1'" in result.diagnostics[0].message
