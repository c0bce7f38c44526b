"""Fuzzing the CLI: a valid configuration, a saved plan and a RAGFlow export, each mutated at
random (characters YAML and JSON care about, control characters, huge numbers, deep brackets),
and arbitrary argument lists. Whatever comes in, llmform answers with a result or a clear error:
exit 0, 1 (or click's 2 for usage), never an internal error or a traceback, nothing on stdout
or stderr that a terminal would act on, and a store that only apply may change left as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmform.cli import main

VALID = """\
apiVersion: llmform/v1
factories:
  - name: Local
    type: openai-compatible
    api_base: http://127.0.0.1:9/v1
    models:
      - {name: m1, type: chat, max_tokens: 8192}
workspaces:
  - name: prod
    description: "the production tenant"
    labels: {team: platform, tier: "1"}
    defaults: {chat: main/m1}
configs:
  - name: main
    workspace: prod
    factory: Local
    api_key: {env: KEY}
    backup_keys: [{env: KEY}]
    models: [m1, {name: own, type: [chat, embedding], max_tokens: 10}]
"""

# What a mutation inserts: YAML and JSON syntax, controls, odd numbers, odd Unicode
PIECES = [
    *list(":-[]{},#&*!|>'\"%@`?\n\t \\"),
    *("\x00", "\x1b[2J", "\x85", "\x9b", "\u2028", "\u202e", "\ufeff", "\udcff", "é", "中"),
    *("---\n", "...\n", "<<: ", "!!python/object:os.system ", "&a ", "*a", "? ", "- "),
    *("9" * 30, "-1", "1e999", ".nan", "0x" + "f" * 20, "null", "~", "yes", "[" * 200),
    *("apiVersion: llmform/v1\n", "workspaces:\n", "  - name: x\n", "{env: KEY}", "vault:"),
]

edits = st.lists(
    st.tuples(
        st.floats(0, 1),
        st.sampled_from(["insert", "delete", "replace"]),
        st.lists(st.sampled_from(PIECES), min_size=1, max_size=3).map("".join),
    ),
    min_size=1,
    max_size=6,
)


def mutate(text: str, changes: list[tuple[float, str, str]]) -> str:
    for where, how, piece in changes:
        at = int(where * len(text))
        if how == "insert":
            text = text[:at] + piece + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + len(piece) :]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    return text


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("KEY", "sk-fuzzing-key-0123456789")
    for name in ("LLMFORM_AUDIT_KEY", "LLMFORM_AUDIT_TRANSIT_KEY", "VAULT_ADDR"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "llmform.yaml").write_text(VALID)
    assert main(["apply", "--auto-approve", "--no-validate-keys", "llmform.yaml"]) == 0
    assert main(["plan", "--no-validate-keys", "-o", "saved.plan", "llmform.yaml"]) == 0
    yield tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--no-color", *args])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (code, out, err)
    for text in (out, err):
        assert "internal error" not in text and "Traceback" not in text, text
        assert all(c.isprintable() or c == "\n" for c in text), text
    if code == 1:
        assert err.strip(), out  # a failure always says why
    return code, out, err


@FUZZ
@given(changes=edits)
def test_a_mutated_configuration_is_validated_and_planned_or_refused_clearly(
    folder: Path, capsys: pytest.CaptureFixture[str], changes: list[tuple[float, str, str]]
) -> None:
    text = mutate(VALID, changes)
    (folder / "fuzzed.yaml").write_bytes(text.encode("utf-8", "surrogateescape"))
    store = (folder / "store.db").read_bytes()
    run(capsys, "validate", "fuzzed.yaml")
    run(capsys, "plan", "--no-validate-keys", "fuzzed.yaml")
    run(capsys, "plan", "--no-validate-keys", "--format", "json", "fuzzed.yaml")
    assert (folder / "store.db").read_bytes() == store


def same_json(text: str, original: str) -> bool:
    try:
        return bool(json.loads(text) == json.loads(original))
    except ValueError:
        return False


@FUZZ
@given(changes=edits)
def test_a_mutated_saved_plan_is_refused_clearly(
    folder: Path, capsys: pytest.CaptureFixture[str], changes: list[tuple[float, str, str]]
) -> None:
    text = mutate((folder / "saved.plan").read_text(), changes)
    (folder / "fuzzed.plan").write_bytes(text.encode("utf-8", "surrogateescape"))
    store = (folder / "store.db").read_bytes()
    code, _, _ = run(capsys, "show", "fuzzed.plan")
    if not same_json(text, (folder / "saved.plan").read_text()):
        assert code == 1  # any change to an authenticated plan is refused (not its layout)
        assert run(capsys, "apply", "fuzzed.plan")[0] == 1
    assert (folder / "store.db").read_bytes() == store


RAGFLOW = json.dumps(
    {
        "factory_llm_infos": [
            {
                "name": "Vendor",
                "tags": "LLM,TEXT EMBEDDING",
                "status": "1",
                "llm": [
                    {
                        "llm_name": "m1",
                        "tags": "LLM,CHAT,8k",
                        "max_tokens": 8192,
                        "model_type": "chat",
                    },
                    {"llm_name": "e1", "max_tokens": 512, "model_type": "embedding"},
                ],
            }
        ]
    },
    indent=1,
)


@FUZZ
@given(changes=edits)
def test_a_mutated_ragflow_export_is_converted_or_refused_clearly(
    folder: Path, capsys: pytest.CaptureFixture[str], changes: list[tuple[float, str, str]]
) -> None:
    (folder / "r.json").write_bytes(mutate(RAGFLOW, changes).encode("utf-8", "surrogateescape"))
    code, out, _ = run(capsys, "catalog", "import-ragflow", "r.json")
    if code == 0:  # what it writes is a valid llmform file
        (folder / "converted.yaml").write_text(out)
        assert run(capsys, "validate", "converted.yaml")[0] == 0


WORDS = [
    *("validate", "plan", "apply", "show", "destroy", "export", "audit", "catalog", "init"),
    *("force-unlock", "schema", "import-ragflow", "--format", "json", "markdown", "text", "-o"),
    *("--store", "sqlite:///store.db", "sqlite:///other.db", "./x.db", "-w", "prod", "nope"),
    *("--verify", "--head", "1:sha256:00", "--since", "2026-01-01", "--json", "--address"),
    *("--no-validate-keys", "--auto-approve", "--lock-timeout", "0", "nan", "--parallelism"),
    *("--check-cache-ttl", "-v", "--no-color", "--help", "llmform.yaml", "saved.plan", "."),
    *("--audit-file", "audit.jsonl", "/dev/zero", "/dev/null", "OpenAI", "--no-secrets", "--"),
    # (a non-UTF-8 argument is test_cli_hostile_inputs': click writes its usage errors raw to
    # stderr, which a process encodes with backslashreplace but pytest's capture cannot)
    *("", "-", "\x1b[2J", "a\nb", "9" * 30),
]


@FUZZ
@given(args=st.lists(st.sampled_from(WORDS), max_size=8))
def test_any_argument_list_ends_in_a_result_or_a_clear_error(
    folder: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    if "apply" in args or "destroy" in args or "init" in args:
        args = [*args, "--store", "sqlite:///scratch.db"]  # the fuzzed store, not the fixture's
    store = (folder / "store.db").read_bytes()
    run(capsys, *args)
    assert (folder / "store.db").read_bytes() == store
