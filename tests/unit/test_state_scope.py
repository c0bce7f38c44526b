"""validate --whole-state: a file is checked with the state it belongs to, as the pre-commit
hook needs when a commit stages one file of a state split over several.

The repository below holds three separate states: llm/ (split over folders, one of its
files broken), single.yaml (a state in one file) and other/ (a state in one folder), with names
that clash between them, as separate states may.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmform.cli import main
from llmform.desired import scope

FILES = {
    "llm/workspaces.yaml": """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    defaults: {chat: main/gpt-4o}
  - name: staging
""",
    "llm/factories/internal.yaml": """\
apiVersion: llmform/v1
factories:
  - name: Internal
    type: openai-compatible
    api_base: https://llm.internal.example/v1
    models: [{name: llama, type: chat}]
""",
    "llm/configs/prod.yaml": """\
apiVersion: llmform/v1
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: OPENAI_API_KEY}
    models: [gpt-4o]
  - name: internal
    workspace: prod
    factory: Internal
    api_key: {env: INTERNAL_KEY}
    models: [llama]
""",
    "llm/configs/staging.yaml": """\
apiVersion: llmform/v1
configs:
  - name: main
    workspace: staging
    factory: OpenAI
    api_key: {env: OPENAI_API_KEY}
    models: [gpt-5-turbo-nonexistent]
""",
    "single.yaml": """\
apiVersion: llmform/v1
workspaces: [{name: prod}]
configs:
  - {name: main, workspace: prod, factory: OpenAI, api_key: {env: K}, models: [gpt-4o]}
""",
    "other/llmform.yaml": """\
apiVersion: llmform/v1
workspaces: [{name: prod}]
configs:
  - {name: main, workspace: prod, factory: OpenAI, api_key: {env: K}, models: [gpt-4o]}
""",
    "other/typo.yaml": """\
apiVersion: llmform/v1
configs:
  - {name: extra, workspace: prdo, factory: OpenAI, api_key: {env: K}, models: [gpt-4o]}
""",
    "deploy/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
}

STAGING_ERROR = (
    "llm/configs/staging.yaml:7:14: error: configs[0].models[0]: model 'gpt-5-turbo-nonexistent' "
    "is not in the catalog of factory 'OpenAI'; declare a custom model as "
    "{name: gpt-5-turbo-nonexistent, type: chat}"
)
ELSEWHERE = (
    "llm: warning: 1 error(s) in other files of the state under 'llm', not reported here; "
    "run 'llmform validate llm' to see them"
)

CASES = {
    # staged files: (exit code, stderr lines before the summary)
    "a config file of the split state": (["llm/configs/prod.yaml"], 0, [ELSEWHERE]),
    "its workspaces, whose defaults name a config": (["llm/workspaces.yaml"], 0, [ELSEWHERE]),
    # the configs beside it use its factory: a change to it can break them
    "a factory file the configs use": (["llm/factories/internal.yaml"], 0, [ELSEWHERE]),
    "the broken file": (["llm/configs/staging.yaml"], 1, [STAGING_ERROR]),
    "two files of the same state": (
        ["llm/configs/staging.yaml", "llm/workspaces.yaml"],
        1,
        [STAGING_ERROR],
    ),
    "a one-file state beside others": (["single.yaml", "other/llmform.yaml"], 0, []),
    "a reference declared nowhere": (
        ["other/typo.yaml"],
        1,
        [
            "other/typo.yaml:3:30: error: configs[0].workspace: unknown workspace 'prdo' "
            "(did you mean 'prod'?); declare it under 'workspaces'"
        ],
    ),
    "another tool's file only": (["deploy/service.yaml"], 0, []),
}


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("staged", "code", "lines"), CASES.values(), ids=CASES.keys())
def test_a_staged_file_is_checked_with_its_state(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    staged: list[str],
    code: int,
    lines: list[str],
) -> None:
    assert main(["--no-color", "validate", "--ignore-foreign", "--whole-state", *staged]) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[:-1] == lines


def test_without_whole_state_a_split_state_fails_as_before(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--no-color", "validate", "--ignore-foreign", "llm/configs/prod.yaml"]) == 1
    assert "unknown workspace 'prod'" in capsys.readouterr().err


def test_a_file_outside_the_working_directory_stays_in_its_repository(
    repo: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (repo / ".git").mkdir()
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    staged = str(repo / "llm/configs/prod.yaml")
    assert main(["--no-color", "validate", "--whole-state", staged]) == 0
    assert capsys.readouterr().err.startswith(f"{repo / 'llm'}: warning: 1 error(s)")


def test_summary_counts_the_states_validated(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--no-color", "validate", "--whole-state", "single.yaml"]) == 0
    assert capsys.readouterr().err == "Valid: 1 file(s), 1 factories, 1 workspaces, 1 configs\n"
    assert main(["--no-color", "validate", "--ignore-foreign", "deploy/service.yaml"]) == 0
    assert capsys.readouterr().err == (
        "Nothing to check: no llmform document among the files given\n"
    )


_PART = st.text(alphabet="ab-._/ é", min_size=1, max_size=4).filter(
    lambda part: "/" not in part and part not in (".", "..")
)
_REAL = st.lists(_PART, max_size=5).map(lambda parts: "/" + "/".join(parts))


@given(_REAL)
def test_a_real_paths_parents_are_pathlibs(real: str) -> None:
    """scope works on real paths as strings (pathlib is 4 ms of the hook's start-up): the
    folders above one are ``Path.parents``."""
    assert scope._parents(real) == [str(parent) for parent in PurePosixPath(real).parents]


@given(st.lists(_REAL, max_size=6))
def test_real_paths_sort_by_their_parts_as_pathlibs_do(reals: list[str]) -> None:
    by_parts = sorted(reals, key=lambda real: real.split("/"))
    assert [PurePosixPath(real) for real in by_parts] == sorted(map(PurePosixPath, reals))
