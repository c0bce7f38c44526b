"""Through the CLI: a name, a path, a URL or a setting that a user or an attacker chose, quoted
back in an error on stderr, is one escaped piece of that error's line. A newline in it cannot
forge an ``error:`` line, a terminal escape cannot reach the terminal, whichever command and
whichever message quotes it (the error's own lines are its arguments: ``LlmformError.lines``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmform.cli import main

HOSTILE = "x\nerror: forged\x1b[2J\x1b]0;owned\x07\u202e"
BENIGN = "x"

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: KEY}
"""

# (arguments, environment); {s} is the hostile or benign text, {d} the test's folder
CASES: dict[str, tuple[list[str], dict[str, str]]] = {
    "export, no store": (["export", "--store", "sqlite:///{d}/{s}.db"], {}),
    "audit, no store": (["audit", "--store", "sqlite:///{d}/{s}.db"], {}),
    "audit --verify, no store": (["audit", "--verify"], {"LLMFORM_STORE": "sqlite:///{d}/{s}.db"}),
    "force-unlock, no store": (["force-unlock", "abc", "--store", "sqlite:///{d}/{s}.db"], {}),
    "force-unlock, no such lock": (["force-unlock", "{s}"], {}),
    "init in a file": (["init", "--store", "sqlite:///{d}/file/{s}.db"], {}),
    "a path for a URL": (["plan", "--store", "./{s}.db"], {}),
    "show, no file": (["show", "{d}/{s}.plan"], {}),
    "plan -w": (["plan", "--no-validate-keys", "-w", "{s}"], {}),
    "apply -w": (["apply", "--auto-approve", "--no-validate-keys", "-w", "{s}"], {}),
    "destroy -w": (["destroy", "--auto-approve", "-w", "{s}"], {}),
    "plan -o": (["plan", "--no-validate-keys", "-o", "{d}/missing/{s}.plan"], {}),
    "export -o": (["export", "-o", "{d}/missing/{s}.yaml"], {}),
    "apply --audit-file": (
        ["apply", "--auto-approve", "--no-validate-keys", "--audit-file", "{d}/missing/{s}"],
        {},
    ),
    "audit --verify --audit-file": (["audit", "--verify", "--audit-file", "{d}/{s}.jsonl"], {}),
    "audit --verify --head": (["audit", "--verify", "--head", "3:{s}"], {}),
    "catalog import-ragflow": (["catalog", "import-ragflow", "{d}/{s}.json"], {}),
    "trusted endpoints file": (["plan"], {"LLMFORM_TRUSTED_ENDPOINTS_FILE": "{d}/{s}"}),
    "VAULT_ADDR": (
        ["apply", "--auto-approve", "--no-validate-keys"],
        {"LLMFORM_AUDIT_TRANSIT_KEY": "audit", "VAULT_ADDR": "{s}"},
    ),
}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("KEY", "sk-escaping-test-key")
    for name in ("LLMFORM_AUDIT_KEY", "LLMFORM_AUDIT_TRANSIT_KEY", "VAULT_ADDR", "VAULT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "llmform.yaml").write_text(STATE)
    (tmp_path / "file").write_text("a file, not a directory")
    assert main(["apply", "--auto-approve", "--no-validate-keys", "llmform.yaml"]) == 0
    return tmp_path


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    case: str,
    s: str,
) -> str:
    args, env = CASES[case]
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(d=folder, s=s))
    capsys.readouterr()
    code = main(["--no-color", *(arg.format(d=folder, s=s) for arg in args)])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "internal error" not in err
    return err


@pytest.mark.parametrize("case", CASES)
def test_a_quoted_name_or_path_adds_no_line_and_no_control_character(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    case: str,
) -> None:
    reference = run(capsys, monkeypatch, folder, case, BENIGN)
    err = run(capsys, monkeypatch, folder, case, HOSTILE)
    assert err.count("\n") == reference.count("\n"), err
    assert not any(line.startswith("error: forged") for line in err.splitlines()), err
    assert all(c.isprintable() or c == "\n" for c in err), err
    # quoted escaped, or as a Python literal
    assert "x\\x0aerror: forged\\x1b[2J" in err or "x\\nerror: forged\\x1b[2J" in err, err
