"""A scanned folder passes over other tools' YAML, but not a wrong llmform version."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from hypothesis import given
from hypothesis import strategies as st

from llmform.desired.discovery import as_pathlib_writes
from llmform.desired.loader import Document, load_paths


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


DOCUMENT = "apiVersion: llmform/v1\nworkspaces: [{name: {name}}]\n"


def _workspaces(documents: list[Document]) -> list[str]:
    return sorted(w["name"] for d in documents for w in d.data["workspaces"])


def test_scan_reads_every_case_of_the_suffix(tmp_path: Path) -> None:
    # a file the scan passes over is part of the state the plan would delete
    for name in ("a.yaml", "b.YAML", "c.Yml", "d.yml", "e.json", "f.yaml.bak", ".g.yaml"):
        (tmp_path / name).write_text(DOCUMENT.replace("{name}", name[0]))
    result = load_paths([str(tmp_path)])
    assert result.diagnostics == []
    assert _workspaces(result.documents) == ["a", "b", "c", "d"]


def test_scan_follows_links_to_folders_once(tmp_path: Path) -> None:
    state, shared = tmp_path / "state", tmp_path / "shared"
    state.mkdir()
    shared.mkdir()
    (state / "own.yaml").write_text(DOCUMENT.replace("{name}", "own"))
    (shared / "common.yaml").write_text(DOCUMENT.replace("{name}", "common"))
    (state / "shared").symlink_to(shared)
    (state / "again").symlink_to(shared)  # the same folder twice: read once
    (shared / "loop").symlink_to(state)  # a loop ends
    (state / ".hidden").symlink_to(shared)  # hidden, as a hidden folder is
    result = load_paths([str(state)])
    assert result.diagnostics == []
    assert _workspaces(result.documents) == ["common", "own"]


def test_each_folder_given_must_hold_a_document(tmp_path: Path) -> None:
    state, other = tmp_path / "state", tmp_path / "other"
    (state / "sub").mkdir(parents=True)
    other.mkdir()
    (state / "sub" / "a.yaml").write_text(DOCUMENT.replace("{name}", "a"))
    (other / "compose.yaml").write_text("services: {web: {image: nginx}}\n")
    # the same folder twice, or a folder inside another, is no empty folder
    for paths in ([state, state / "sub"], [state / "sub", state], [state, f"{state}/."]):
        assert load_paths([str(p) for p in paths]).diagnostics == []
    result = load_paths([str(state), str(other)])
    assert [str(d) for d in result.diagnostics] == [
        f"{other}: error: no llmform document here (1 YAML file(s) scanned, none starting with "
        "'apiVersion: llmform/v1'); name the folder that holds your llmform files, or add "
        "'apiVersion: llmform/v1' at the top of each"
    ]
    # pre-commit hands over files of other tools: no error for finding none
    assert load_paths([str(other)], ignore_foreign=True).diagnostics == []


@given(st.text(alphabet="/.a-é ", max_size=12))
def test_a_folder_is_spelt_as_pathlib_writes_it(given_path: str) -> None:
    """A folder's files are named from the folder as pathlib writes it ("./llm/" ->
    "llm/prod.yaml"), without importing pathlib (the pre-commit hook's start-up)."""
    assert as_pathlib_writes(given_path) == str(PurePosixPath(given_path))
