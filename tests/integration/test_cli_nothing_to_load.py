"""plan and apply of a folder that holds no llmform document change nothing and exit 1.

An empty desired state would plan the deletion of every resource; the wrong folder, a forgotten
or misspelt apiVersion must not get there. Each bad folder is planned and applied
(``--auto-approve``) against a store that holds a state, and against a store that does not
exist yet: the first stays byte for byte as it was, the second is not created.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llmform.cli import main

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    api_key: {env: LLMFORM_TEST_KEY}
    models: [gpt-4o]
"""

NO_LLMFORM_DOCUMENT = "no llmform document here"

# folder -> (files in it, the error expected on stderr)
FOLDERS: dict[str, tuple[dict[str, str], str]] = {
    "empty folder": ({"README.md": "# notes\n"}, NO_LLMFORM_DOCUMENT),
    "other tools' YAML": (
        {
            "service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
            "compose.yaml": "services: {web: {image: nginx}}\nconfigs: {web: {file: a}}\n",
        },
        NO_LLMFORM_DOCUMENT,
    ),
    "forgotten apiVersion": (
        {"llmform.yaml": STATE.replace("apiVersion: llmform/v1\n", "")},
        "looks like an llmform document ('configs', 'workspaces') but has no apiVersion",
    ),
    "misspelt apiVersion key": (
        {"llmform.yaml": STATE.replace("apiVersion:", "apiversion:")},
        "'apiversion' is not 'apiVersion'",
    ),
    "misspelt apiVersion value": (
        {"llmform.yaml": STATE.replace("llmform/v1", "llmform/V1")},
        "unsupported apiVersion 'llmform/V1'; this llmform reads 'llmform/v1'",
    ),
}


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store holding STATE, applied from its own folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_TEST_KEY", "sk-test-primary")
    db = tmp_path / "store.db"
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{db}")
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "llmform.yaml").write_text(STATE)
    assert main(["apply", "--auto-approve", "--no-validate-keys", "good"]) == 0
    return db


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()
    }


def _folder(root: Path, files: dict[str, str]) -> str:
    folder = root / "bad"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return str(folder)


COMMANDS = [
    ["plan", "--no-validate-keys"],
    ["plan"],
    ["apply", "--auto-approve", "--no-validate-keys"],
    ["apply", "--auto-approve"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("files", "expected"), FOLDERS.values(), ids=FOLDERS.keys())
def test_nothing_is_planned_or_applied(
    store: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    files: dict[str, str],
    expected: str,
) -> None:
    folder = _folder(store.parent, files)
    before = _snapshot(store.parent)
    capsys.readouterr()
    code = main(["--no-color", *command, folder])
    out, err = capsys.readouterr()
    assert code == 1
    assert expected in err
    assert "destroy" not in out and "Apply complete" not in out
    assert "Traceback" not in out + err and "internal error" not in err
    assert _snapshot(store.parent) == before  # the store and its journal untouched


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("files", "expected"), FOLDERS.values(), ids=FOLDERS.keys())
def test_no_store_is_created(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    files: dict[str, str],
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = _folder(tmp_path, files)
    code = main(["--no-color", *command, "--store", f"sqlite:///{tmp_path}/new/store.db", folder])
    assert code == 1
    assert expected in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


def test_the_default_path_is_the_working_directory(
    store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # plain `llmform plan` in the wrong directory
    elsewhere = store.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    before = _snapshot(store.parent)
    capsys.readouterr()
    assert main(["--no-color", "apply", "--auto-approve", "--no-validate-keys"]) == 1
    assert capsys.readouterr().err.startswith(
        ".: error: no llmform document here (no *.yaml or *.yml file in it); name the folder "
        "that holds your llmform files, or add 'apiVersion: llmform/v1' at the top of each\n"
    )
    assert _snapshot(store.parent) == before


# A state split over two files, one of which has a mistake: passing that file over would plan
# the deletion of what it declares. (file text -> the error expected on stderr)
WORKSPACES = "apiVersion: llmform/v1\nworkspaces:\n  - name: prod\n"
CONFIGS = "apiVersion: llmform/v1\nconfigs:\n" + STATE.split("configs:\n", 1)[1]
SPLIT_MISTAKES: dict[str, tuple[str, str]] = {
    "forgotten apiVersion": (
        CONFIGS.replace("apiVersion: llmform/v1\n", ""),
        "looks like an llmform document ('configs') but has no apiVersion",
    ),
    "apiversion": (CONFIGS.replace("apiVersion", "apiversion"), "'apiversion' is not"),
    "api_version": (CONFIGS.replace("apiVersion", "api_version"), "'api_version' is not"),
    "apiVerison": (CONFIGS.replace("apiVersion", "apiVerison"), "'apiVerison' is not"),
    "version": (CONFIGS.replace("apiVersion", "version"), "'version' is not 'apiVersion'"),
    "kind": (CONFIGS.replace("apiVersion", "kind"), "'kind' is not 'apiVersion'"),
    "llmform/V1": (CONFIGS.replace("llmform/v1", "llmform/V1"), "unsupported apiVersion"),
    "LLMFORM/v1": (CONFIGS.replace("llmform/v1", "LLMFORM/v1"), "unsupported apiVersion"),
    "llmform/v2": (CONFIGS.replace("llmform/v1", "llmform/v2"), "unsupported apiVersion"),
    "llmform": (CONFIGS.replace("llmform/v1", "llmform"), "unsupported apiVersion"),
    "singular section, no apiVersion": (
        CONFIGS.replace("apiVersion: llmform/v1\n", "").replace("configs:", "config:"),
        "looks like an llmform document ('config') but has no apiVersion",
    ),
    "apiVersion alone, then the sections": (
        CONFIGS.replace("llmform/v1\n", "llmform/v1\n---\n"),
        "looks like an llmform document ('configs') but has no apiVersion",
    ),
    "a list item": (
        "- " + CONFIGS.replace("\n", "\n  ").rstrip() + "\n",
        "an llmform document is a mapping, but this one is an item of a list",
    ),
}


@pytest.mark.parametrize("command", COMMANDS[:1] + COMMANDS[2:3], ids=" ".join)
@pytest.mark.parametrize(("text", "expected"), SPLIT_MISTAKES.values(), ids=SPLIT_MISTAKES.keys())
def test_a_mistake_in_one_file_of_a_split_state_is_an_error(
    store: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    text: str,
    expected: str,
) -> None:
    folder = _folder(store.parent, {"workspaces.yaml": WORKSPACES, "configs.yaml": text})
    before = _snapshot(store.parent)
    capsys.readouterr()
    code = main(["--no-color", *command, folder])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"{folder}/configs.yaml:" in err and expected in err
    assert "destroy" not in out and "Apply complete" not in out
    assert _snapshot(store.parent) == before


def test_the_split_state_itself_plans_no_change(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(store.parent, {"workspaces.yaml": WORKSPACES, "configs.YAML": CONFIGS})
    capsys.readouterr()
    assert main(["--no-color", "plan", "--no-validate-keys", folder]) == 0
    assert capsys.readouterr().out.endswith("No changes. The store matches the configuration.\n")


@pytest.mark.parametrize("command", COMMANDS[:1] + COMMANDS[2:3], ids=" ".join)
@pytest.mark.parametrize("wrong", ["empty folder", "other tools' YAML"])
@pytest.mark.parametrize("order", ["wrong last", "wrong first"])
def test_a_wrong_folder_next_to_the_right_one_is_an_error(
    store: Path, capsys: pytest.CaptureFixture[str], command: list[str], wrong: str, order: str
) -> None:
    # `llmform apply prod/ staging/` where staging/ is the wrong folder: its resources in the
    # store would be planned for deletion
    files, expected = FOLDERS[wrong]
    folder = _folder(store.parent, files)
    given = [str(store.parent / "good"), folder]
    before = _snapshot(store.parent)
    capsys.readouterr()
    code = main(["--no-color", *command, *(given if order == "wrong last" else given[::-1])])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.startswith(f"{folder}: error: {expected}")
    assert "Apply complete" not in out
    assert _snapshot(store.parent) == before


@pytest.mark.parametrize("name", ["state.YAML", "state.Yml"])
def test_apply_takes_a_yaml_file_of_any_case_as_yaml_not_as_a_saved_plan(
    store: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    (store.parent / name).write_text(STATE)
    capsys.readouterr()
    assert main(["--no-color", "apply", "--auto-approve", "--no-validate-keys", name]) == 0
    assert "plan file" not in capsys.readouterr().err
