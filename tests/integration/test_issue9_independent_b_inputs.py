"""Issue 9, item 11 (second half), from the issue's words: no internal error for damaged meta
values or rows, a non-UTF-8 git user.email, max_tokens beyond 64 bits (rejected by validate),
/dev/zero named as input (a bounded read), deeply nested plan or RAGFlow JSON, raw control
characters in YAML (reported with line:col), a valid file that ends in `---`.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from pathlib import Path

import pytest
from support.cli import run
from support.issue9b import git_repo, isolate, llmform, tree, url

KEY = "sk-valid-0123456789abcdefABCDEF"

STATE = (
    "apiVersion: llmform/v1\n"
    "workspaces:\n"
    "  - name: w\n"
    "    labels: {team: a}\n"
    "    defaults: {chat: c/gpt-4o-mini}\n"
    "configs:\n"
    "  - name: c\n"
    "    workspace: w\n"
    "    factory: OpenAI\n"
    "    api_key: {env: LLMFORM_TEST_KEY}\n"
    "    models: [gpt-4o-mini]\n"
)


@pytest.fixture
def store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """An applied store (reg.db) of STATE (s.yaml), in the working directory tmp_path."""
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("LLMFORM_TEST_KEY", KEY)
    (tmp_path / "s.yaml").write_text(STATE)
    path = tmp_path / "reg.db"
    code, _, err = run(
        capsys, "apply", "--auto-approve", "--no-validate-keys", "--store", url(path), "s.yaml"
    )
    assert code == 0, err
    return path


def sql(path: Path, statement: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(statement)
        db.commit()


# -- damaged meta values and rows ---------------------------------------------------------------

# (what is damaged, the SQL, a word the error must hold)
META = [
    ("serial-not-a-number", "UPDATE meta SET value = 'abc' WHERE key = 'serial'", "serial"),
    ("serial-negative", "UPDATE meta SET value = '-5' WHERE key = 'serial'", "serial"),
    ("serial-null", "UPDATE meta SET value = NULL WHERE key = 'serial'", "serial"),
    ("lineage-missing", "DELETE FROM meta WHERE key = 'lineage'", "lineage"),
    (
        "fingerprint-key-not-hex",
        "UPDATE meta SET value = 'not hex at all' WHERE key = 'fingerprint_key'",
        "fingerprint",
    ),
    ("schema-version-unknown", "UPDATE meta SET value = '99' WHERE key = 'schema_version'", "99"),
    ("schema-version-text", "UPDATE meta SET value = 'two' WHERE key = 'schema_version'", "schema"),
]
ROWS = [
    ("labels-not-json", "UPDATE workspaces SET labels = '{not json'", "workspaces"),
    ("labels-a-list", "UPDATE workspaces SET labels = '[1, 2]'", "workspaces"),
    ("defaults-a-number", "UPDATE workspaces SET defaults = '42'", "workspaces"),
    ("options-not-json", "UPDATE configs SET options = '{'", "configs"),
    ("enabled-text", "UPDATE configs SET enabled = 'yes please'", "configs"),
    ("api-base-a-blob", "UPDATE configs SET api_base = x'00ff'", "configs"),
    ("tags-a-string", "UPDATE factories SET tags = '\"LLM\"'", "factories"),
    ("model-types-not-json", "UPDATE factory_models SET types = 'chat,'", "factory_models"),
    ("max-tokens-text", "UPDATE factory_models SET max_tokens = 'lots'", "factory_models"),
    ("secret-ref-empty", "UPDATE config_secrets SET ref = ''", "config_secrets"),
    ("secret-ref-a-number", "UPDATE config_secrets SET ref = 7", "config_secrets"),
]
COMMANDS = {
    "plan": ["plan", "--no-validate-keys", "s.yaml"],
    "apply": ["apply", "--auto-approve", "--no-validate-keys", "s.yaml"],
    "export": ["export"],
    "destroy": ["destroy", "--auto-approve"],
}


@pytest.mark.parametrize("command", ["plan", "apply", "export", "audit", "audit-verify", "destroy"])
@pytest.mark.parametrize(("damage", "statement", "word"), META, ids=[m[0] for m in META])
def test_damaged_meta_value(
    damage: str,
    statement: str,
    word: str,
    command: str,
    store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sql(store, statement)
    before = tree(tmp_path)
    args = {**COMMANDS, "audit": ["audit"], "audit-verify": ["audit", "--verify"]}[command]
    code, out, err = run(capsys, *args, "--store", url(store))
    if code == 0:
        # a command that does not need the damaged value may do its work; plan and apply
        # need every one of them
        assert command not in ("plan", "apply"), out + err
        return
    assert code == 1, out + err
    assert "meta" in err and word in err, err
    assert tree(tmp_path) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(("damage", "statement", "table"), ROWS, ids=[r[0] for r in ROWS])
def test_damaged_row(
    damage: str,
    statement: str,
    table: str,
    command: str,
    store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sql(store, statement)
    before = tree(tmp_path)
    code, out, err = run(capsys, *COMMANDS[command], "--store", url(store))
    assert code == 1, out + err
    assert table in err, err
    assert tree(tmp_path) == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET fields = '{broken' WHERE seq = 2",
        "UPDATE audit_events SET seq = seq + 100 WHERE seq = 3",
        "UPDATE audit_events SET actor = 5 WHERE seq = 1",
        "UPDATE audit_events SET prev_hash = 'x' WHERE seq = 4",
    ],
)
def test_damaged_audit_rows_fail_verify_and_list_without_a_crash(
    statement: str, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql(store, statement)
    code, out, err = run(capsys, "audit", "--verify", "--store", url(store))
    assert code == 1, out + err
    assert re.search(r"\b\d+\b", err)  # names the event
    for args in (["audit"], ["audit", "--json"]):
        code, out, err = run(capsys, *args, "--store", url(store))
        assert code in (0, 1)


# -- a git user.email that is not UTF-8 ---------------------------------------------------------


@pytest.fixture
def latin1_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path)
    repo = git_repo(tmp_path / "repo")
    config = repo / ".git" / "config"
    text = config.read_bytes().replace(b"tester@example.com", b"ren\xe9@example.com")
    config.write_bytes(text)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("LLMFORM_TEST_KEY", KEY)
    monkeypatch.chdir(repo)
    (repo / "s.yaml").write_text(STATE)
    return repo


def test_apply_with_a_non_utf8_git_email(
    latin1_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = latin1_repo / "reg.db"
    code, out, err = run(
        capsys, "apply", "--auto-approve", "--no-validate-keys", "--store", url(store), "s.yaml"
    )
    assert code == 0, err
    code, out, err = run(capsys, "audit", "--store", url(store))
    assert code == 0
    assert "git:ren\\xe9@example.com" in out, out
    code, out, _ = run(capsys, "audit", "--json", "--store", url(store))
    actors = {json.loads(line)["actor"] for line in out.splitlines()}
    assert actors == {"git:ren\\xe9@example.com"}
    assert run(capsys, "audit", "--verify", "--store", url(store))[0] == 0


def test_destroy_with_a_non_utf8_git_email(
    latin1_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = latin1_repo / "reg.db"
    args = ("--no-validate-keys", "--store", url(store), "s.yaml")
    assert run(capsys, "apply", "--auto-approve", *args)[0] == 0
    code, _out, err = run(capsys, "destroy", "--auto-approve", "--store", url(store))
    assert code == 0, err
    assert run(capsys, "audit", "--verify", "--store", url(store))[0] == 0


def test_non_utf8_git_email_as_a_process(latin1_repo: Path) -> None:
    result = llmform(
        "apply",
        "--auto-approve",
        "--no-validate-keys",
        "--store",
        url(latin1_repo / "reg.db"),
        "s.yaml",
        cwd=latin1_repo,
        env={
            "LLMFORM_TEST_KEY": KEY,
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
        },
    )
    assert result.returncode == 0, result.stderr
    listing = llmform("audit", "--store", url(latin1_repo / "reg.db"), cwd=latin1_repo)
    assert "ren\\xe9@example.com" in listing.stdout


# -- max_tokens beyond 64 bits ------------------------------------------------------------------

BIG = [2**63, 2**64, 2**64 + 1, 10**30, 10**400]


def custom_model_state(max_tokens: str, where: str) -> str:
    model = f"{{name: big, type: chat, max_tokens: {max_tokens}}}"
    if where == "factory":
        return (
            "apiVersion: llmform/v1\n"
            "factories:\n"
            "  - name: F\n"
            "    type: openai-compatible\n"
            "    api_base: https://llm.example.com/v1\n"
            f"    models: [{model}]\n"
            "workspaces: [{name: w}]\n"
        )
    return (
        "apiVersion: llmform/v1\n"
        "workspaces: [{name: w}]\n"
        "configs:\n"
        "  - name: c\n"
        "    workspace: w\n"
        "    factory: Ollama\n"
        f"    models: [{model}]\n"
    )


@pytest.mark.parametrize("where", ["factory", "config"])
@pytest.mark.parametrize("value", BIG, ids=lambda v: f"2^{v.bit_length() - 1}")
@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_max_tokens_beyond_64_bits_is_rejected_by_validate(
    command: str,
    value: int,
    where: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    (tmp_path / "s.yaml").write_text(custom_model_state(str(value), where))
    args = {
        "validate": ["validate"],
        "plan": ["plan", "--no-validate-keys"],
        "apply": ["apply", "--auto-approve", "--no-validate-keys"],
    }[command]
    code, _out, err = run(capsys, *args, "s.yaml")
    assert code == 1
    assert re.search(r"s\.yaml:\d+:\d+: error: .*max_tokens", err), err
    assert str(value) not in err or len(str(value)) < 40  # a 400-digit number is not echoed
    assert not (tmp_path / ".llmform").exists()


@pytest.mark.parametrize("fmt", ["json"])
def test_max_tokens_beyond_64_bits_in_validate_json(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    (tmp_path / "s.yaml").write_text(custom_model_state(str(2**64), "config"))
    code, out, _ = run(capsys, "validate", "--format", fmt, "s.yaml")
    assert code == 1
    assert "max_tokens" in out and json.loads(out)


def test_max_tokens_at_the_64_bit_limit_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    (tmp_path / "s.yaml").write_text(custom_model_state(str(2**63 - 1), "config"))
    assert run(capsys, "validate", "s.yaml")[0] == 0
    code, _out, err = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "s.yaml")
    assert code == 0, err
    assert str(2**63 - 1) in run(capsys, "export")[1]


# -- /dev/zero named as input -------------------------------------------------------------------

ZERO_COMMANDS = [
    ["validate", "/dev/zero"],
    ["plan", "--no-validate-keys", "/dev/zero"],
    ["apply", "--auto-approve", "--no-validate-keys", "/dev/zero"],
    ["apply", "/dev/zero"],
    ["show", "/dev/zero"],
    ["catalog", "import-ragflow", "/dev/zero"],
    ["validate", "--ignore-foreign", "--whole-state", "/dev/zero"],
    ["audit", "--verify", "--audit-file", "/dev/zero"],
]


@pytest.mark.parametrize("args", ZERO_COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_dev_zero_as_input_is_a_bounded_read(args: list[str], store: Path, tmp_path: Path) -> None:
    before = tree(tmp_path)
    result = llmform(
        *args, "--store", url(store), cwd=tmp_path, env={"LLMFORM_TEST_KEY": KEY}, timeout=60
    )
    assert result.returncode in (1, 2)
    assert "/dev/zero" in result.stderr, result.stderr
    assert tree(tmp_path) == before


@pytest.mark.parametrize("variable", ["LLMFORM_TRUSTED_ENDPOINTS_FILE"])
def test_dev_zero_as_a_settings_file(variable: str, store: Path, tmp_path: Path) -> None:
    result = llmform(
        "plan",
        "s.yaml",
        "--store",
        url(store),
        cwd=tmp_path,
        env={"LLMFORM_TEST_KEY": KEY, variable: "/dev/zero"},
        timeout=60,
    )
    assert result.returncode == 1
    assert variable in result.stderr or "/dev/zero" in result.stderr


# -- deeply nested plan and RAGFlow JSON --------------------------------------------------------


@pytest.mark.parametrize("depth", [40, 1000, 100_000])
@pytest.mark.parametrize("command", ["show", "apply", "show-json", "show-markdown"])
def test_deeply_nested_plan_file(
    depth: int, command: str, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "deep.plan"
    plan.write_text('{"format": "llmform-plan/3", "x": ' + "[" * depth + "]" * depth + "}")
    before = tree(tmp_path)
    args = {
        "show": ["show"],
        "apply": ["apply"],
        "show-json": ["show", "--format", "json"],
        "show-markdown": ["show", "--format", "markdown"],
    }[command]
    code, out, err = run(capsys, *args, "--store", url(store), str(plan))
    assert code == 1
    said = err if command in ("show", "apply") else out
    assert "deep" in said.lower() or "nested" in said.lower(), said
    assert tree(tmp_path) == before
    if command == "show-json":
        assert json.loads(out)["errors"]


@pytest.mark.parametrize("depth", [40, 1000, 100_000])
@pytest.mark.parametrize("shape", ["array", "object"])
def test_deeply_nested_ragflow_json(
    depth: int,
    shape: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    inner = "[" * depth + "]" * depth if shape == "array" else '{"a":' * depth + "1" + "}" * depth
    (tmp_path / "llm_factories.json").write_text('{"factory_llm_infos": [' + inner + "]}")
    code, out, err = run(capsys, "catalog", "import-ragflow", "llm_factories.json")
    assert code == 1
    assert "llm_factories.json" in err
    if depth > 100:
        assert "deep" in err.lower() or "nested" in err.lower(), err
    assert out == ""


# -- raw control characters in YAML -------------------------------------------------------------

CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x9b"]


@pytest.mark.parametrize("char", CONTROL, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("where", ["value", "key", "comment", "quoted"])
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_raw_control_character_is_reported_with_line_and_column(
    char: str,
    where: str,
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    lines = ["apiVersion: llmform/v1", "workspaces:", "  - name: w", "    description: hello"]
    if where == "value":
        lines[3] = f"    description: hel{char}lo"
        column = 21
    elif where == "key":
        lines[3] = f"    descr{char}iption: hello"
        column = 10
    elif where == "comment":
        lines[3] = f"    description: hello  # a{char}b"
        column = 28
    else:
        lines[3] = f'    description: "hel{char}lo"'
        column = 22
    (tmp_path / "s.yaml").write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    args = ["plan", "--no-validate-keys"] if command == "plan" else ["validate"]
    code, out, err = run(capsys, *args, "s.yaml")
    assert code == 1
    assert f"s.yaml:4:{column}: error:" in err, err
    assert f"U+{ord(char):04X}" in err or f"\\x{ord(char):02x}" in err.lower(), err
    assert char not in out + err
    assert not (tmp_path / ".llmform").exists()


def test_control_character_on_a_later_line_after_multibyte_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns count characters, not bytes (libyaml counts bytes)."""
    isolate(monkeypatch, tmp_path)
    text = (
        "apiVersion: llmform/v1\n# 日本語のコメント\nworkspaces:\n"
        '  - name: w\n    description: "日本語\x1b"\n'
    )
    (tmp_path / "s.yaml").write_text(text)
    code, _, err = run(capsys, "validate", "s.yaml")
    assert code == 1 and "s.yaml:5:22: error:" in err, err


# -- a valid file that ends in `---` ------------------------------------------------------------

ENDINGS = ["---\n", "---", "--- \n", "---\n\n", "...\n", "--- # the end\n", "---\n...\n", "--- ~\n"]


@pytest.mark.parametrize("ending", ENDINGS, ids=repr)
def test_valid_file_ending_in_a_document_marker(
    ending: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("LLMFORM_TEST_KEY", KEY)
    (tmp_path / "plain.yaml").write_text(STATE)
    (tmp_path / "ended").mkdir()
    (tmp_path / "ended" / "s.yaml").write_text(STATE + ending)
    code, out, err = run(capsys, "validate", "ended/s.yaml")
    assert code == 0, err
    assert "1 file" in out + err
    plain = run(capsys, "plan", "--no-validate-keys", "plain.yaml")
    ended = run(capsys, "plan", "--no-validate-keys", "ended/s.yaml")
    assert ended[0] == plain[0] == 0
    assert ended[1] == plain[1]
    code, out, err = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "ended")
    assert code == 0, err
    assert run(capsys, "plan", "--detailed-exitcode", "--no-validate-keys", "ended")[0] == 0
