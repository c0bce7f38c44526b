"""Which states are built file by file through the cache of built files: a folder, or named
files of BY_FILE_FROM_BYTES or more in all; a few small named files (a pre-commit hook's) are
checked whole, which costs them less than that cache's modules and pack. Both ways give the
same state and problems (tests/integration/test_built_cache.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmform.desired.validate import BY_FILE_FROM_BYTES, _by_file


def sized(folder: Path, name: str, size: int) -> str:
    path = folder / name
    path.write_bytes(b"#" * size)
    return str(path)


@pytest.mark.parametrize(
    ("sizes", "folder", "expected"),
    [
        ([100], False, False),
        ([100, 200], False, False),
        ([BY_FILE_FROM_BYTES - 1], False, False),
        ([BY_FILE_FROM_BYTES], False, True),
        ([BY_FILE_FROM_BYTES // 2, BY_FILE_FROM_BYTES // 2], False, True),
        ([100], True, True),
        ([], True, True),
    ],
)
def test_by_file_for_folders_and_large_states(
    tmp_path: Path, sizes: list[int], folder: bool, expected: bool
) -> None:
    paths = [sized(tmp_path, f"f{i}.yaml", size) for i, size in enumerate(sizes)]
    if folder:
        paths.append(str(tmp_path))
    assert _by_file(paths) is expected


def test_a_path_that_names_nothing_is_left_to_the_way_that_reports_it(tmp_path: Path) -> None:
    assert _by_file([str(tmp_path / "missing.yaml")]) is True
