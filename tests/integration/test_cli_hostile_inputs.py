"""A table of hostile inputs and environments, each run through the CLI against a real store
that holds an applied state: odd files (special devices, endless, deep, binary, huge
numbers), odd arguments and options, odd settings in the environment, damaged plan files and
RAGFlow exports. Every one must be a clear error: exit 1 with a message on stderr that says
what is wrong (the piece in ``says``), no ``internal error``, no traceback, nothing on either
stream that a terminal would act on, and the store byte for byte as it was.

``tests/cases/validate`` holds the YAML cases of ``validate`` with their exact messages; here the
same kinds of input go through the commands that would write (plan, apply, destroy) and the
commands that read everything else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llmform.cli import main

GOOD = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: KEY}
"""

HEAD = "apiVersion: llmform/v1\nworkspaces:\n  - name: prod\n"
FACTORY = (
    "apiVersion: llmform/v1\nfactories:\n  - name: F\n    type: openai\n"
    "    api_base: https://f.example/v1\n    models:\n      - {{name: m, type: chat, "
    "max_tokens: {}}}\n"
)
DEEP_JSON = "[" * 100_000 + "]" * 100_000
NO_KEYS = "--no-validate-keys"
# a config whose endpoint is a closed port on this machine: a key check fails at once
CLOSED_PORT = GOOD.replace(
    "    factory: OpenAI\n", "    factory: OpenAI\n    api_base: http://127.0.0.1:9/v1\n"
)


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    says: str  # a piece of the error on stderr
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


def yaml_case(text: str | bytes, says: str) -> dict[str, Case]:
    """The same bad file through plan, apply and destroy's neighbour, apply of a folder."""
    files = {"bad/llmform.yaml": text}
    return {
        "plan": Case(("plan", NO_KEYS, "bad/llmform.yaml"), says, files),
        "apply": Case(("apply", NO_KEYS, "--auto-approve", "bad/llmform.yaml"), says, files),
        "apply a folder": Case(("apply", NO_KEYS, "--auto-approve", "bad"), says, files),
    }


YAML_INPUTS: dict[str, tuple[str | bytes, str]] = {
    "a NUL byte": (HEAD + "    description: a\x00b\n", "NUL byte"),
    "a raw ESC": (HEAD + "    description: a\x1b[2Jb\n", "control character U+001B"),
    "a raw C1 control": (HEAD + "    description: a\x9b31mb\n", "control character U+009B"),
    "a raw DEL": (HEAD + '    description: "a\x7fb"\n', "control character U+007F"),
    "a byte order mark inside": (HEAD + "    description: \ufeffx\n", "byte order mark"),
    "Latin-1 text": ((HEAD + "    description: caf\xe9\n").encode("latin-1"), "not UTF-8"),
    "UTF-16 text": (HEAD.encode("utf-16"), "not UTF-8"),
    "a lone surrogate's bytes": (HEAD.encode() + b"    description: \xed\xa0\x80\n", "UTF-8"),
    "max_tokens 2^63": (FACTORY.format(2**63), "must be at most 9223372036854775807"),
    "max_tokens 2^64": (FACTORY.format(2**64), "must be at most 9223372036854775807"),
    "max_tokens in hex": (FACTORY.format("0x" + "f" * 20), "must be at most"),
    "max_tokens with underscores": (FACTORY.format("9_223_372_036_854_775_808"), "at most"),
    "max_tokens 5000 digits": (FACTORY.format("9" * 5000), "5,000 characters long"),
    "max_tokens 1e400": (FACTORY.format("1e400"), "expected an integer"),
    "max_tokens .nan": (FACTORY.format(".nan"), "expected an integer"),
    "max_tokens -1": (FACTORY.format(-1), "must be at least 0"),
    "vault version 2^64": (
        GOOD.replace("{env: KEY}", "{vault: 'kv/llm#key', version: 18446744073709551616}"),
        "must be at most 9223372036854775807",
    ),
    "flow nesting 100000 deep": (HEAD + "    labels: " + DEEP_JSON + "\n", "nested more than"),
    "block nesting 3000 deep": (
        HEAD + "".join("  " * i + "    a:\n" for i in range(3000)),
        "nested more than",
    ),
    "a billion laughs": (
        HEAD
        + "    labels:\n      a: &a [x,x,x,x,x,x,x,x,x]\n"
        + "".join(
            f"      {n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
            for p, n in zip("abcde", "bcdef", strict=True)
        )
        + "      g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
        "billion laughs",
    ),
    "a Python tag": (HEAD + "    description: !!python/object/apply:os.system [id]\n", "tag"),
    "an undefined alias": (HEAD + "    description: *nowhere\n", "nowhere"),
    "an unclosed quote": (HEAD + '    description: "open\n', "invalid YAML"),
    "an unclosed flow list": (HEAD + "    labels: [a, b\n", "invalid YAML"),
    "a key of 2000 characters": (HEAD + "    " + "k" * 2000 + ": v\n", "longer than 1024"),
    "a file of 17 MiB": (HEAD + "#" + "x" * (17 << 20) + "\n", "larger than 16 MiB"),
    "only '---'": ("---\n", "apiVersion: llmform/v1"),
    "an empty file": ("", "apiVersion: llmform/v1"),
    "a misspelt apiVersion": ("apiversion: llmform/v1\nworkspaces: []\n", "apiVersion"),
}

CASES: dict[str, Case] = {
    f"{name}, {command}": case
    for name, (text, says) in YAML_INPUTS.items()
    for command, case in yaml_case(text, says).items()
}

CASES |= {
    # special files named as input: bounded reads, clear words
    "plan /dev/zero": Case(("plan", NO_KEYS, "/dev/zero"), "larger than 16 MiB"),
    "apply /dev/urandom": Case(
        ("apply", NO_KEYS, "--auto-approve", "/dev/urandom"), "larger than 16 MiB"
    ),
    "plan /dev/null": Case(("plan", NO_KEYS, "/dev/null"), "file is empty"),
    "plan a path that does not exist": Case(("plan", NO_KEYS, "nowhere.yaml"), "no such file"),
    "plan an empty folder": Case(
        ("plan", NO_KEYS, "empty"), "no llmform document", {"empty/.k": ""}
    ),
    "show /dev/zero": Case(("show", "/dev/zero"), "64 MiB"),
    "apply a plan file of /dev/zero": Case(("apply", "/dev/zero"), ""),
    "show a directory": Case(("show", "bad"), "", {"bad/x": ""}),
    "import-ragflow /dev/zero": Case(("catalog", "import-ragflow", "/dev/zero"), "MiB"),
    "audit --verify --audit-file /dev/zero": Case(
        ("audit", "--verify", "--audit-file", "/dev/zero"), "longer than any audit event"
    ),
    "trusted endpoints file /dev/zero": Case(
        ("plan",),
        "LLMFORM_TRUSTED_ENDPOINTS_FILE",
        env={"LLMFORM_TRUSTED_ENDPOINTS_FILE": "/dev/zero"},
    ),
    "trusted endpoints file is a folder": Case(
        ("plan",), "LLMFORM_TRUSTED_ENDPOINTS_FILE", env={"LLMFORM_TRUSTED_ENDPOINTS_FILE": "/"}
    ),
    # saved plans: damaged, deep, odd numbers
    "a plan file nested 100000 deep": Case(("show", "p.plan"), "nested", {"p.plan": DEEP_JSON}),
    "apply a plan file nested deep": Case(("apply", "p.plan"), "nested", {"p.plan": DEEP_JSON}),
    "a plan file with NaN": Case(
        ("show", "p.plan"), "a number is not valid", {"p.plan": '{"format_version": NaN}'}
    ),
    "a plan file with a 5000-digit number": Case(
        ("show", "p.plan"), "", {"p.plan": '{"format_version": ' + "9" * 5000 + "}"}
    ),
    "a plan file with duplicate keys": Case(
        ("show", "p.plan"), "the same field twice", {"p.plan": '{"a": 1, "a": 2}'}
    ),
    "a plan file of binary": Case(
        ("apply", "p.plan"), "plan file", {"p.plan": b"\x00\xff\xfe" * 9}
    ),
    "a plan file that is a JSON list": Case(("apply", "p.plan"), "plan file", {"p.plan": "[]"}),
    "a plan file from another format": Case(
        ("show", "p.plan"), "llmform-plan/1", {"p.plan": json.dumps({"format": "llmform-plan/1"})}
    ),
    # RAGFlow exports
    "RAGFlow JSON nested deep": Case(
        ("catalog", "import-ragflow", "r.json"), "nested", {"r.json": DEEP_JSON}
    ),
    "RAGFlow JSON with max_tokens 2^64": Case(
        ("catalog", "import-ragflow", "r.json"),
        "max_tokens",
        {
            "r.json": json.dumps(
                {
                    "factory_llm_infos": [
                        {
                            "name": "V",
                            "llm": [{"llm_name": "m", "model_type": "chat", "max_tokens": 2**64}],
                        }
                    ]
                }
            )
        },
    ),
    "RAGFlow JSON with a 5000-digit number": Case(
        ("catalog", "import-ragflow", "r.json"), "", {"r.json": '{"a": ' + "9" * 5000 + "}"}
    ),
    "RAGFlow JSON that is a list": Case(
        ("catalog", "import-ragflow", "r.json"), "", {"r.json": "[]"}
    ),
    "RAGFlow JSON that is not JSON": Case(
        ("catalog", "import-ragflow", "r.json"), "", {"r.json": "{nope"}
    ),
    # arguments and options
    "--store with a path": Case(("plan", NO_KEYS, "--store", "./my.db"), "sqlite:///./my.db"),
    "--store with two slashes": Case(("export", "--store", "sqlite://my.db"), "sqlite:///"),
    "--store of another kind": Case(("export", "--store", "postgres://u@h/db"), "postgres"),
    "--store empty": Case(("export", "--store", ""), "store"),
    "--store a directory": Case(("export", "--store", "sqlite:///bad"), "bad", {"bad/x": ""}),
    "--store a file that is no database": Case(
        ("export", "--store", "sqlite:///notes.txt"), "notes.txt", {"notes.txt": "hello " * 100}
    ),
    "--store a file that is no database, apply": Case(
        ("apply", NO_KEYS, "--auto-approve", "--store", "sqlite:///notes.txt"),
        "notes.txt",
        {"notes.txt": "hello " * 100},
    ),
    "--store a non-UTF-8 path that does not exist": Case(
        ("export", "--store", "sqlite:///caf\udce9.db"), "caf\\udce9.db"
    ),
    "-w empty": Case(("plan", NO_KEYS, "-w", ""), "workspace"),
    "-w unknown": Case(("apply", NO_KEYS, "--auto-approve", "-w", "nope"), "nope"),
    "destroy -w unknown": Case(("destroy", "--auto-approve", "-w", "nope"), "nope"),
    "--lock-timeout nan": Case(
        ("apply", NO_KEYS, "--auto-approve", "--lock-timeout", "nan"), "not a number of seconds"
    ),
    "--lock-timeout -1": Case(("destroy", "--auto-approve", "--lock-timeout", "-1"), "x>=0"),
    "--parallelism 0": Case(("plan", "--parallelism", "0"), "parallelism"),
    "--parallelism 10^30": Case(
        ("plan", "--parallelism", "1" + "0" * 30, "closed"),
        "unreachable",
        {"closed/llmform.yaml": CLOSED_PORT},
        {"LLMFORM_TRUSTED_ENDPOINTS": "http://127.0.0.1:9/v1"},
    ),
    "--check-cache-ttl nan": Case(("plan", "--check-cache-ttl", "nan"), "not a number of seconds"),
    "--check-cache-ttl inf": Case(("plan", "--check-cache-ttl", "inf", "-w", "nope"), "nope"),
    "--format unknown": Case(("plan", NO_KEYS, "--format", "yaml"), "yaml"),
    "audit --since garbage": Case(("audit", "--since", "yesterday"), "'yesterday' is not an ISO"),
    "audit --head garbage": Case(("audit", "--verify", "--head", "zz"), "zz"),
    "audit --head far ahead": Case(("audit", "--verify", "--head", f"{2**70}:sha256:00"), ""),
    "audit --head without --verify": Case(("audit", "--head", "1:sha256:00"), "--verify"),
    "audit --verify --audit-file deep": Case(
        ("audit", "--verify", "--audit-file", "a.jsonl"), "", {"a.jsonl": DEEP_JSON + "\n"}
    ),
    "audit --verify --audit-file not JSON": Case(
        ("audit", "--verify", "--audit-file", "a.jsonl"), "", {"a.jsonl": "{nope\n"}
    ),
    "force-unlock an empty id": Case(("force-unlock", ""), "lock"),
    "force-unlock an unknown id": Case(("force-unlock", "abc"), "abc"),
    "catalog an unknown vendor": Case(("catalog", "NoSuchVendor"), "NoSuchVendor"),
    "an unknown command": Case(("deploy",), "deploy"),
    "plan -o into a missing folder": Case(("plan", NO_KEYS, "-o", "no/such/p.plan"), "no/such"),
    "plan -o onto a folder": Case(("plan", NO_KEYS, "-o", "bad"), "bad", {"bad/x": ""}),
    "export -o onto a folder": Case(("export", "-o", "bad"), "bad", {"bad/x": ""}),
    "apply --audit-file onto a folder": Case(
        ("apply", NO_KEYS, "--auto-approve", "--audit-file", "bad"), "bad", {"bad/x": ""}
    ),
    "apply --audit-file /dev/full": Case(
        ("apply", NO_KEYS, "--auto-approve", "--audit-file", "/dev/full"), "audit"
    ),
    # the environment
    "KEY with a non-ASCII character": Case(
        ("plan",), "non-ASCII", env={"KEY": "sk-caf\u00e9-123456"}
    ),
    "KEY with a trailing newline": Case(("plan",), "line break", env={"KEY": "sk-abcdefgh\n"}),
    "KEY with a CR inside": Case(("apply", "--auto-approve"), "CR", env={"KEY": "sk-ab\rcdefgh"}),
    "KEY empty": Case(("plan",), "KEY", env={"KEY": ""}),
    "KEY non-UTF-8": Case(("plan",), "KEY", env={"KEY": "sk-\udcff-abcdefgh"}),
    **{
        f"LLMFORM_CHECK_BACKOFF {value}": Case(
            ("plan",), "LLMFORM_CHECK_BACKOFF", env={"LLMFORM_CHECK_BACKOFF": value}
        )
        for value in ("soon", "nan", "inf", "-1")
    },
    "LLMFORM_AUDIT_KEY too short": Case(
        ("apply", NO_KEYS, "--auto-approve"),
        "LLMFORM_AUDIT_KEY",
        env={"LLMFORM_AUDIT_KEY": "short"},
    ),
    "LLMFORM_AUDIT_KEY on audit --verify": Case(
        ("audit", "--verify"), "LLMFORM_AUDIT_KEY", env={"LLMFORM_AUDIT_KEY": "short"}
    ),
    "LLMFORM_AUDIT_TRANSIT_KEY without Vault": Case(
        ("apply", NO_KEYS, "--auto-approve"), "VAULT_ADDR", env={"LLMFORM_AUDIT_TRANSIT_KEY": "k"}
    ),
    "LLMFORM_ENCRYPTION_KEY not a key": Case(
        ("apply", NO_KEYS, "--auto-approve"),
        "LLMFORM_ENCRYPTION_KEY",
        env={"LLMFORM_ENCRYPTION_KEY": "x"},
    ),
    "LLMFORM_TRUSTED_ENDPOINTS junk": Case(
        ("plan",), "LLMFORM_TRUSTED_ENDPOINTS", env={"LLMFORM_TRUSTED_ENDPOINTS": "not a url"}
    ),
    "VAULT_ADDR without a scheme": Case(
        ("plan", NO_KEYS, "v"),
        "VAULT_ADDR",
        {"v/llmform.yaml": GOOD.replace("{env: KEY}", "{vault: 'kv/llm#key'}")},
        {"VAULT_ADDR": "vault.example:8200", "VAULT_TOKEN": "t"},
    ),
    "VAULT_ADDR unreachable": Case(
        ("plan", NO_KEYS, "v"),
        "127.0.0.1:9",
        {"v/llmform.yaml": GOOD.replace("{env: KEY}", "{vault: 'kv/llm#key'}")},
        {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "t", "VAULT_MAX_RETRIES": "0"},
    ),
    "VAULT_TOKEN with a newline": Case(
        ("plan", NO_KEYS, "v"),
        "VAULT_TOKEN",
        {"v/llmform.yaml": GOOD.replace("{env: KEY}", "{vault: 'kv/llm#key'}")},
        {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "t\nx"},
    ),
    "VAULT_CLIENT_TIMEOUT not a number": Case(
        ("plan", NO_KEYS, "v"),
        "VAULT_CLIENT_TIMEOUT",
        {"v/llmform.yaml": GOOD.replace("{env: KEY}", "{vault: 'kv/llm#key'}")},
        {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "t", "VAULT_CLIENT_TIMEOUT": "x"},
    ),
    **{
        f"{name}={value}": Case(
            ("plan", NO_KEYS, "v"),
            f"{value}: {says}" if name.startswith("VAULT_CLIENT") else f"{value}, {says}",
            {"v/llmform.yaml": GOOD.replace("{env: KEY}", "{vault: 'kv/llm#key'}")},
            {"VAULT_ADDR": "https://127.0.0.1:9", "VAULT_TOKEN": "t", name: value, **more},
        )
        for name, value, says, more in (
            ("VAULT_CACERT", "/nonexistent.pem", "no such file", {}),
            ("VAULT_CACERT", "/dev/zero", "not a regular file", {}),
            ("VAULT_CAPATH", "/dev/null", "not a regular file", {}),
            ("VAULT_CLIENT_CERT", "/nonexistent.pem", "no such file", {"VAULT_CLIENT_KEY": "/k"}),
        )
    },
    "VAULT_CLIENT_TIMEOUT nan": Case(
        ("plan", NO_KEYS, "v"),
        "VAULT_CLIENT_TIMEOUT='nan' is not a finite number",
        {"v/llmform.yaml": GOOD.replace("{env: KEY}", "{vault: 'kv/llm#key'}")},
        {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "t", "VAULT_CLIENT_TIMEOUT": "nan"},
    ),
    "LLMFORM_VAULT_AUTH unknown": Case(
        ("plan", NO_KEYS, "v"),
        "LLMFORM_VAULT_AUTH",
        {"v/llmform.yaml": GOOD.replace("{env: KEY}", "{vault: 'kv/llm#key'}")},
        {"VAULT_ADDR": "http://127.0.0.1:9", "LLMFORM_VAULT_AUTH": "kerberos\x1b[2J"},
    ),
    "an AppRole secret_id file of /dev/zero": Case(
        ("plan", NO_KEYS, "v"),
        "LLMFORM_VAULT_SECRET_ID_FILE",
        {"v/llmform.yaml": GOOD.replace("{env: KEY}", "{vault: 'kv/llm#key'}")},
        {
            "VAULT_ADDR": "http://127.0.0.1:9",
            "LLMFORM_VAULT_AUTH": "approle",
            "LLMFORM_VAULT_ROLE_ID": "r",
            "LLMFORM_VAULT_SECRET_ID_FILE": "/dev/zero",
        },
    ),
    "GITHUB_ACTOR with a newline, a refused apply": Case(
        ("apply", "--auto-approve", "-w", "nope"),
        "nope",
        env={"GITHUB_ACTOR": "evil\n\x1b[2J", "GITHUB_SHA": "\x1b]0;t\x07"},
    ),
}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("KEY", "sk-hostile-inputs-key")
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0.01")
    for name in list(os.environ):
        if name.startswith(("VAULT_", "LLMFORM_AUDIT", "LLMFORM_TRUSTED", "LLMFORM_ENCRYPTION")):
            monkeypatch.delenv(name)
    (tmp_path / "llmform.yaml").write_text(GOOD)
    assert main(["apply", "--auto-approve", NO_KEYS, "llmform.yaml"]) == 0
    return tmp_path


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_input_is_a_clear_error_and_changes_nothing(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    case = CASES[name]
    for path, content in case.files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (folder / path).write_bytes(content)
        else:
            (folder / path).write_text(content, encoding="utf-8")
    for variable, value in case.env.items():
        monkeypatch.setenv(variable, value)
    store = (folder / "store.db").read_bytes()
    capsys.readouterr()
    code = main(["--no-color", *case.args])
    out, err = capsys.readouterr()
    assert code in (1, 2), (code, out, err)  # 2: click's usage errors
    assert err.strip(), out
    assert case.says in err, err
    for text in (out, err):
        assert "internal error" not in text and "Traceback" not in text, text
        assert all(c.isprintable() or c == "\n" for c in text), text
    assert (folder / "store.db").read_bytes() == store


@pytest.mark.parametrize(
    "name", ["my#1.db", "what?.db", "100%.db", "caf\udce9.db"], ids=["#", "?", "%", "not UTF-8"]
)
def test_the_store_and_the_registry_open_the_file_named_not_another(
    folder: Path, name: str
) -> None:
    """Characters a SQLite URI gives a meaning (#, ?, %) and bytes that are not UTF-8 in the
    file's name: the library opens that file ('my#1.db' is not 'my'), and never fails on it."""
    from llmform.registry import Registry
    from llmform.targets.base import OpenMode
    from llmform.targets.registry.sqlite import SqliteStore

    shutil.copy(folder / "store.db", folder / name)
    decoy = name.split("#")[0].split("?")[0]  # 'my', 'what': what a URI would have opened
    if decoy != name:
        (folder / decoy).write_text("another file")
    else:  # store URLs refuse '#' and '?' (they would be a fragment or a query)
        store = SqliteStore(f"sqlite:///{folder / name}", OpenMode.READ)
        try:
            assert store.read().serial == 1
        finally:
            store.close()
    with Registry(str(folder / name)) as registry:
        assert registry.config("prod", "main").factory == "OpenAI"


def test_an_output_encoding_that_cannot_hold_the_text_escapes_it(folder: Path) -> None:
    """A real process whose stdout is Latin-1 (PYTHONIOENCODING), printing a plan with
    Chinese text: written as escapes, not an internal error."""
    (folder / "llmform.yaml").write_text(
        GOOD.replace("  - name: prod\n", "  - name: prod\n    description: 中文\n")
    )
    done = subprocess.run(
        [sys.executable, "-m", "llmform.cli", "--no-color", "plan", NO_KEYS],
        capture_output=True,
        cwd=folder,
        env={**os.environ, "PYTHONIOENCODING": "latin-1"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b'~ description = "" -> "\\u4e2d\\u6587"' in done.stdout, done.stdout


@pytest.mark.parametrize("ending", ["---\n", "---", "...\n", "---\n...\n", "---\n# the end\n"])
def test_a_valid_file_that_ends_in_a_document_marker_is_planned_and_applied_as_it_is(
    folder: Path, capsys: pytest.CaptureFixture[str], ending: str
) -> None:
    changed = GOOD.replace("  - name: prod\n", "  - name: prod\n    description: d\n")
    (folder / "llmform.yaml").write_text(changed)
    capsys.readouterr()
    assert main(["--no-color", "plan", NO_KEYS]) == 0
    without = capsys.readouterr().out
    (folder / "llmform.yaml").write_text(changed + ending)
    assert main(["--no-color", "validate"]) == 0
    assert main(["--no-color", "plan", NO_KEYS]) == 0
    assert capsys.readouterr().out == without
    assert main(["--no-color", "apply", NO_KEYS, "--auto-approve"]) == 0
    capsys.readouterr()
    assert main(["--no-color", "plan", NO_KEYS]) == 0
    assert "No changes." in capsys.readouterr().out
