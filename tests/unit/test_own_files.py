"""files.read_own_file: what llmform reads of the files it keeps for itself (the key-check
cache, the parsed-file cache, the secret behind a new store's key)."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

from llmform.files import read_own_file


def _own(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return path


def test_reads_an_own_private_file(tmp_path: Path) -> None:
    assert read_own_file(_own(tmp_path / "f", b"content"), 100) == b"content"


def test_refuses_a_file_over_the_bound_or_open_to_others(tmp_path: Path) -> None:
    assert read_own_file(_own(tmp_path / "big", b"x" * 101), 100) is None
    shared = _own(tmp_path / "shared", b"content")
    os.chmod(shared, 0o644)
    assert read_own_file(shared, 100) is None
    (tmp_path / "link").symlink_to(tmp_path / "big")
    assert read_own_file(tmp_path / "link", 1000) is None


def test_a_small_file_costs_its_size_not_the_bound(tmp_path: Path) -> None:
    """The parsed-file cache's bound is 1 GiB: reading a small pack must not allocate it
    (read(n) of a buffered file allocates n bytes first)."""
    path = _own(tmp_path / "small", b"x" * 1000)
    tracemalloc.start()
    try:
        assert read_own_file(path, 1 << 30) == b"x" * 1000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
