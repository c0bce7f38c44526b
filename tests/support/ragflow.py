"""RAGFlow's real catalog (``conf/llm_factories.json``, 71 vendors), read where the project
keeps it: ``shared/data/`` beside the repository, or the file ``LLMFORM_RAGFLOW_JSON`` names.
It is not copied into the repository. Missing, the tests that need it fail, saying where it
was looked for: they never skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_BESIDE_THE_REPOSITORY = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ragflow_llm_factories.json"
)


def ragflow_json() -> Path:
    configured = os.environ.get("LLMFORM_RAGFLOW_JSON")
    path = Path(configured) if configured else _BESIDE_THE_REPOSITORY
    if not path.is_file():
        pytest.fail(
            f"RAGFlow's llm_factories.json is not at {path}; put the project's shared/ folder "
            "beside the repository, or set LLMFORM_RAGFLOW_JSON to a copy of RAGFlow's "
            "conf/llm_factories.json",
            pytrace=False,
        )
    return path
