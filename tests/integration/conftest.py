"""Session fixtures for integration tests: real servers, started once, stopped by pid.

A server that cannot start fails the tests that need it; nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from baoserver import BaoServer


def _serve(workdir: Path, tls: bool = False) -> Iterator[BaoServer]:
    server = BaoServer(workdir, tls=tls)
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"the OpenBao dev server did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """The shared OpenBao dev server; tests use their own mounts, so they do not interfere."""
    yield from _serve(tmp_path_factory.mktemp("bao"))


@pytest.fixture(scope="session")
def bao_to_seal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """A second, separate server that a test may seal without harming the others."""
    yield from _serve(tmp_path_factory.mktemp("bao-sealed"))


@pytest.fixture(scope="session")
def bao_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """A server speaking TLS with a certificate from its own CA (``ca_cert``)."""
    yield from _serve(tmp_path_factory.mktemp("bao-tls"), tls=True)
