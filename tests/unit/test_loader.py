"""The YAML loader: marks, merge keys, duplicate keys, limits, and files that cannot be read.

Expected lines and columns are counted by hand from the YAML written in each test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from llmform.desired.loader import (
    MAX_DEPTH,
    TOO_DEEP,
    Document,
    MarkedDict,
    MarkedList,
    load_paths,
    load_text,
)
from llmform.errors import Location, Severity


def _load(text: str, *, explicit: bool = True) -> tuple[list[Document], list[str]]:
    result = load_text("f.yaml", textwrap.dedent(text), explicit=explicit)
    return result.documents, [str(d) for d in result.diagnostics]


def _one(text: str) -> MarkedDict:
    documents, problems = _load(text)
    assert problems == []
    assert len(documents) == 1
    return documents[0].data


# -- marks ---------------------------------------------------------------------------------

MARKED = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    labels: {team: platform}
configs:
  - name: a
    models: [gpt-4o, {name: x, type: chat}]
"""


def test_mapping_and_sequence_marks() -> None:
    data = _one(MARKED)
    assert (data.line, data.column) == (1, 1)
    # (key line, key column, value line, value column)
    assert data.marks["apiVersion"] == (1, 1, 1, 13)
    assert data.marks["workspaces"] == (2, 1, 3, 3)
    workspaces = data["workspaces"]
    assert isinstance(workspaces, MarkedList)
    assert workspaces.marks == [(3, 5)]
    workspace = workspaces[0]
    assert isinstance(workspace, MarkedDict)
    assert workspace.marks["labels"] == (4, 5, 4, 13)
    assert workspace["labels"].marks["team"] == (4, 14, 4, 20)
    models = data["configs"][0]["models"]
    assert models.marks == [(7, 14), (7, 22)]
    assert models[1].marks["type"] == (7, 32, 7, 38)


@pytest.mark.parametrize(
    ("path", "key", "expected"),
    [
        (["configs", 0, "models", 1, "type"], False, (7, 38)),
        (["configs", 0, "models", 1, "type"], True, (7, 32)),
        (["workspaces", 0, "labels"], True, (4, 5)),
        (["configs", 0, "nope"], False, (6, 5)),  # missing: the nearest ancestor
        (["configs", 7], False, (6, 3)),
        ([], False, (1, 1)),
    ],
)
def test_locate(path: list[str | int], key: bool, expected: tuple[int, int]) -> None:
    document = Document("f.yaml", _one(MARKED))
    assert document.locate(path, key=key) == Location("f.yaml", *expected)


def test_marks_of_a_later_document_count_from_the_top_of_the_file() -> None:
    documents, problems = _load(
        """\
        apiVersion: llmform/v1
        ---
        # a comment
        apiVersion: llmform/v1
        workspaces: [{name: prod}]
        """
    )
    assert problems == []
    second = documents[1].data
    assert (second.line, second.column) == (4, 1)
    assert second["workspaces"].marks == [(5, 14)]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    file = tmp_path / "bom.yaml"
    file.write_bytes(b"\xef\xbb\xbfapiVersion: llmform/v1\nworkspaces: [{name: prod}]\n")
    result = load_paths([str(file)])
    assert result.diagnostics == []
    assert result.documents[0].data.marks["workspaces"] == (2, 1, 2, 13)


def test_scalars_keep_their_yaml_types() -> None:
    data = _one(
        """\
        apiVersion: llmform/v1
        a: 12
        b: true
        c: 1.5
        d: ~
        e: "12"
        f: 2024-10-21
        """
    )
    assert [data[k] for k in "abcdef"] == [12, True, 1.5, None, "12", "2024-10-21"]


def test_keys_are_the_text_as_written() -> None:
    # YAML 1.1 reads on/yes/null/0x10 as True/True/None/16; as keys (labels) that is never meant
    data = _one(
        """\
        apiVersion: llmform/v1
        labels: {on: call, yes: "1", null: x, 0x10: a, "2": b}
        """
    )
    assert list(data["labels"]) == ["on", "yes", "null", "0x10", "2"]


# -- merge keys ----------------------------------------------------------------------------


def test_merge_keys() -> None:
    data = _one(
        """\
        apiVersion: llmform/v1
        base: &base {workspace: prod, factory: OpenAI, description: from base, enabled: false}
        extra: &extra {description: from extra, api_base: https://x.example/v1}
        configs:
          - <<: [*base, *extra]
            name: a
            enabled: true
          - <<: *base
            name: b
        """
    )
    first, second = data["configs"]
    # explicit keys win over merged ones, an earlier merge over a later one
    assert dict(first) == {
        "name": "a",
        "enabled": True,
        "workspace": "prod",
        "factory": "OpenAI",
        "description": "from base",
        "api_base": "https://x.example/v1",
    }
    assert dict(second) == {
        "name": "b",
        "workspace": "prod",
        "factory": "OpenAI",
        "description": "from base",
        "enabled": False,
    }
    # a merged key is located where it is written: in the anchored mapping
    assert first.marks["workspace"] == (2, 14, 2, 25)
    assert first.marks["api_base"] == (3, 41, 3, 51)
    assert first.marks["enabled"] == (7, 5, 7, 14)


def test_a_merge_of_something_else_than_a_mapping_is_an_error() -> None:
    _, problems = _load(
        """\
        apiVersion: llmform/v1
        names: &names [a, b]
        workspaces:
          - <<: *names
            name: prod
        """
    )
    assert problems == [
        "f.yaml:4:5: error: workspaces[0].<<: a merge key '<<' takes a mapping or a list of "
        "mappings, e.g. '<<: *defaults' where '&defaults' marks a mapping"
    ]


# -- duplicate keys and tags ---------------------------------------------------------------


def test_duplicate_keys_name_the_path_at_any_depth() -> None:
    _, problems = _load(
        """\
        apiVersion: llmform/v1
        apiVersion: llmform/v1
        configs:
          - name: a
            api_key: {env: A, env: B}
        """
    )
    assert problems == [
        "f.yaml:2:1: error: apiVersion: duplicate key 'apiVersion' (first defined at line 1); "
        "remove one of them",
        "f.yaml:5:23: error: configs[0].api_key.env: duplicate key 'env' "
        "(first defined at line 5); remove one of them",
    ]


def test_keys_that_are_not_scalars_are_errors() -> None:
    _, problems = _load(
        """\
        apiVersion: llmform/v1
        workspaces:
          - [a, b]: x
            name: prod
        """
    )
    assert problems == ["f.yaml:3:5: error: workspaces[0]: a mapping key must be a plain scalar"]


def test_python_tags_are_refused_not_executed() -> None:
    _, problems = _load(
        """\
        apiVersion: llmform/v1
        workspaces:
          - name: !!python/object/apply:os.getcwd []
        """
    )
    assert problems == [
        "f.yaml:3:11: error: workspaces[0].name: unsupported YAML tag "
        "'tag:yaml.org,2002:python/object/apply:os.getcwd'; remove the tag"
    ]


def test_documents_that_are_not_llmform_s_are_not_even_built_when_scanned() -> None:
    # CloudFormation-style tags and a duplicate key: someone else's business
    documents, problems = _load(
        """\
        Resources:
          Bucket:
            Name: !Sub "${AWS::StackName}"
            Name: again
        """,
        explicit=False,
    )
    assert (documents, problems) == ([], [])


# -- limits --------------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_in_little_memory() -> None:
    lines = ["apiVersion: llmform/v1", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 12)]
    text = "\n".join(lines) + "\n"  # 6 * 9**11 strings once expanded: about 10**11
    tracemalloc.start()
    try:
        result = load_text("bomb.yaml", text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.documents == []
    assert [d.message for d in result.diagnostics] == [
        "YAML aliases expand this document far beyond its written size; llmform refuses it "
        "(a 'billion laughs' file?); write the values out"
    ]
    assert peak < 20 * 1024 * 1024


def test_ordinary_use_of_anchors_is_not_a_bomb() -> None:
    models = "\n".join(f"  - <<: *m\n    name: model-{i}" for i in range(200))
    data = _one(
        f"""\
apiVersion: llmform/v1
defaults: &m {{type: chat, max_tokens: 8192, tools: true}}
models:
{models}
"""
    )
    assert len(data["models"]) == 200
    assert data["models"][199] == {
        "name": "model-199",
        "type": "chat",
        "max_tokens": 8192,
        "tools": True,
    }


def test_nesting_beyond_the_limit_is_refused_where_it_happens() -> None:
    depth = MAX_DEPTH + 5
    block = "".join(f"{'  ' * level}a:\n" for level in range(depth)) + "  " * depth + "x: 1\n"
    result = load_text("deep.yaml", "apiVersion: llmform/v1\n" + block)
    # The top-level mapping is level 1; the "a:" on line 2 + n, indented 2n, holds level n + 2.
    # So level MAX_DEPTH + 1 is the mapping that starts on line 2 + MAX_DEPTH, column
    # 2 * MAX_DEPTH + 1.
    assert [str(d) for d in result.diagnostics] == [
        f"deep.yaml:{2 + MAX_DEPTH}:{2 * MAX_DEPTH + 1}: error: {TOO_DEEP}"
    ]


def test_nesting_just_inside_the_limit_loads() -> None:
    depth = MAX_DEPTH - 1  # plus the top-level mapping: exactly MAX_DEPTH levels
    result = load_text("ok.yaml", "apiVersion: llmform/v1\nx: " + "[" * depth + "]" * depth)
    assert result.diagnostics == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("x: " + "[" * 100_000 + "]" * 100_000, id="flow-100000"),
        pytest.param("x: " + "{a: " * 50_000 + "1" + "}" * 50_000, id="flow-mapping-50000"),
        pytest.param("x:\n" + "- " * 60_000 + "1", id="block-60000"),
    ],
)
def test_pathological_nesting_neither_crashes_nor_recurses(tmp_path: Path, body: str) -> None:
    # libyaml's composer recurses in C and crashed the interpreter (SIGSEGV) at about 20,000
    # levels: run it in a separate process so that a regression fails this test, not the run.
    file = tmp_path / "deep.yaml"
    file.write_text("apiVersion: llmform/v1\n" + body + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "llmform.cli", "--no-color", "validate", str(file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert f": error: {TOO_DEEP}\n" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_large_shallow_file_is_not_mistaken_for_a_deep_one() -> None:
    # far more brackets than the cheap bound allows, so the real depth is counted
    configs = "\n".join(
        f"  - {{name: c{i}, workspace: prod, factory: OpenAI, models: [gpt-4o, gpt-4o-mini]}}"
        for i in range(3000)
    )
    result = load_text("big.yaml", f"apiVersion: llmform/v1\nconfigs:\n{configs}\n")
    assert result.diagnostics == []
    assert len(result.documents[0].data["configs"]) == 3000


# -- files ---------------------------------------------------------------------------------


def _messages(paths: list[str]) -> list[str]:
    return [str(d) for d in load_paths(paths).diagnostics]


def test_an_unreadable_file_is_reported_not_raised(tmp_path: Path) -> None:
    """Root reads a file whatever its mode, so as root the check runs without the capabilities
    that bypass file permissions (util-linux's setpriv drops them from the bounding set)."""
    file = tmp_path / "secret.yaml"
    file.write_text("apiVersion: llmform/v1\n")
    file.chmod(0)
    code = (
        "import sys; from llmform.desired.loader import load_paths; "
        "print([str(d) for d in load_paths([sys.argv[1]]).diagnostics])"
    )
    as_user = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    command = [*(as_user if os.geteuid() == 0 else []), sys.executable, "-c", code, str(file)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
        expected = [f"{file}: error: cannot read file: Permission denied"]
        assert done.stdout.strip() == repr(expected)
    finally:
        file.chmod(0o600)


def test_a_dangling_link_in_a_scanned_directory_is_reported(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("apiVersion: llmform/v1\n")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    assert _messages([str(tmp_path)]) == [
        f"{tmp_path / 'gone.yaml'}: error: cannot read file: No such file or directory"
    ]


def test_a_symlink_loop_named_explicitly_says_so(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    assert _messages([str(loop)]) == [
        f"{loop}: error: cannot read file: Too many levels of symbolic links"
    ]


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_file_whose_read_fails_is_reported() -> None:
    # open() succeeds and read() fails with EIO, for root too
    assert _messages(["/proc/self/mem"]) == [
        "/proc/self/mem: error: cannot read file: Input/output error"
    ]


def test_a_fifo_in_a_scanned_directory_is_passed_over(tmp_path: Path) -> None:
    # reading a FIFO nobody writes to blocks forever: run in a process with a timeout
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "ok.yaml").write_text("apiVersion: llmform/v1\nworkspaces: [{name: prod}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "llmform.cli", "--no-color", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stderr) == (
        0,
        "Valid: 1 file(s), 0 factories, 1 workspaces, 0 configs\n",
    )


def test_missing_paths_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "comments.yaml").write_text("# nothing yet\n")
    assert _messages(
        [str(tmp_path / "missing.yaml"), str(tmp_path / "empty.yaml"), str(tmp_path)]
    ) == [
        f"{tmp_path / 'missing.yaml'}: error: no such file or directory",
        f"{tmp_path / 'empty.yaml'}: error: file is empty; start it with 'apiVersion: llmform/v1'",
    ]  # scanned (not named), comments.yaml and empty.yaml are simply not llmform's


def test_discovery_order_hidden_folders_and_duplicates(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml", "sub/c.yaml", ".git/d.yaml", "sub/.e.yaml", "f.txt"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"apiVersion: llmform/v1\nworkspaces: [{{name: w{len(name)}}}]\n")
    named = tmp_path / "b.yaml"
    result = load_paths([str(tmp_path), str(named), f"{tmp_path}/./b.yaml"])
    assert result.diagnostics == []
    assert [Path(d.file).relative_to(tmp_path).as_posix() for d in result.documents] == [
        "a.yml",
        "b.yaml",
        "sub/c.yaml",
    ]


def test_diagnostics_are_errors() -> None:
    result = load_text("f.yaml", "apiVersion: llmform/v1\na: 1\na: 2\n")
    assert [d.severity for d in result.diagnostics] == [Severity.ERROR]


@pytest.mark.parametrize("depth", [1_001, 3_000])
def test_libyamls_own_nesting_limit_is_reported_as_too_deep(depth: int) -> None:
    # libyaml 0.2.5 (PyYAML 6.0.4's wheels) stops at 1,000 levels with its own wording; below
    # the cheap bound the composer meets it, above it the depth count does: the same error
    result = load_text("deep.yaml", "apiVersion: llmform/v1\nx: " + "[" * depth + "]" * depth)
    assert [d.message for d in result.diagnostics] == [TOO_DEEP]
    assert result.diagnostics[0].location.line == 2


# -- bounded reads and characters YAML forbids ---------------------------------------------


def test_a_file_past_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    from llmform.desired.loader import MAX_FILE_BYTES

    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:  # sparse: no 16 MiB written to disk
        handle.write(b"apiVersion: llmform/v1\n")
        handle.truncate(MAX_FILE_BYTES + 1)
    tracemalloc.start()
    try:
        messages = _messages([str(huge)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert messages == [
        f"{huge}: error: larger than 16 MiB, the most llmform reads from one file; check that "
        "this is the file you meant, or split the state over several files"
    ]
    assert peak < 2 * MAX_FILE_BYTES + 1024 * 1024  # the bound, not the file, sets the cost


def _capped_memory() -> None:
    """In the child: at most 1 GiB of address space, so that a regression (an unbounded read of
    an endless input) fails with MemoryError instead of taking the machine's memory."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))


@pytest.mark.parametrize(
    "command",
    [
        pytest.param("validate /dev/zero", id="dev-zero"),
        pytest.param('validate <(yes "a: b")', id="endless-pipe"),  # a FIFO named explicitly
        pytest.param("plan --no-validate-keys /dev/zero", id="plan-dev-zero"),
    ],
)
def test_an_endless_input_is_read_with_a_bound(tmp_path: Path, command: str) -> None:
    python = f"{sys.executable} -m llmform.cli --no-color"
    result = subprocess.run(
        ["bash", "-c", f"exec {python} {command}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        preexec_fn=_capped_memory,
    )
    assert result.returncode == 1
    assert "error: larger than 16 MiB, the most llmform reads from one file" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # plan opened no store


def test_a_lone_surrogate_escape_is_refused_by_the_pure_python_scanner_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # libyaml refuses "\ud800" while scanning; PyYAML's pure-Python scanner (used where libyaml
    # is not built) makes a str that no terminal, JSON document or store could take
    import yaml

    import llmform.desired.composed

    monkeypatch.setattr(llmform.desired.composed, "_Loader", yaml.SafeLoader)
    for text in (
        'apiVersion: llmform/v1\nworkspaces: [{name: prod, description: "a\\ud800b"}]\n',
        'apiVersion: llmform/v1\nworkspaces: [{name: prod, labels: {"\\udfff": x}}]\n',
    ):
        result = load_text("f.yaml", text)
        assert result.documents == []
        assert [str(d) for d in result.diagnostics] == [
            f"f.yaml:2:{text.splitlines()[1].index(chr(34)) + 1}: error: an escape of a lone "
            "surrogate (\\ud800 to \\udfff) is no character; write the character itself, or "
            "its \\U escape"
        ]


def test_an_alias_bomb_through_merge_keys_is_refused() -> None:
    lines = ["apiVersion: llmform/v1", "m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}"]
    lines += [
        f"m{i}: &m{i} [{', '.join([f'{{<<: *m{i - 1}, k{j}: x}}' for j in range(9)])}]"
        if i == 1
        else f"m{i}: &m{i} [{', '.join([f'*m{i - 1}'] * 9)}]"
        for i in range(1, 12)
    ]
    result = load_text("bomb.yaml", "\n".join(lines) + "\n")  # 10**11 nodes, expanded
    assert result.documents == []
    assert "YAML aliases expand this document far beyond its written size" in str(
        result.diagnostics[0]
    )
