"""Encryption at rest through the CLI: with LLMFORM_ENCRYPTION_KEY set, plan shows it, apply
seals every value into the registry, an application opens them with llmform.registry, and
the database file never holds a value in clear. (The library and Transit are tested in
test_encryption_at_rest.py.)"""

from __future__ import annotations

import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from llmform.cli import main
from llmform.errors import LlmformError
from llmform.registry import Registry
from llmform.secrets.crypto import generate_key

CANARY = f"sk-CANARY-{secrets.token_hex(8)}"

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    api_key: {env: PRIMARY}
    backup_keys: [{env: BACKUP}]
    models: [gpt-4o]
"""


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("PRIMARY", CANARY + "-primary")
    monkeypatch.setenv("BACKUP", CANARY + "-backup")
    monkeypatch.delenv("LLMFORM_TRANSIT_KEY", raising=False)
    monkeypatch.delenv("LLMFORM_ENCRYPTION_KEY", raising=False)
    (tmp_path / "llmform.yaml").write_text(STATE)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    # Key checks are the subject of test_cli_key_checks; here they would only need a server.
    skip = ["--no-validate-keys"] if args[0] in ("plan", "apply") else []
    code = main(["--no-color", args[0], *skip, *args[1:]])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert CANARY not in out + err
    return code, out, err


def test_values_are_sealed_opened_by_the_application_and_cleared_when_the_key_goes(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    monkeypatch.setenv("LLMFORM_ENCRYPTION_KEY", key)
    run(capsys, "init")
    code, out, err = run(capsys, "plan", "-o", "sealed.plan", "llmform.yaml")
    assert code == 0, err
    assert "+ encrypted                    = true" in out
    code, _, err = run(capsys, "apply", "--auto-approve", "sealed.plan")
    assert code == 0, err

    with Registry.from_env(str(repo / "store.db")) as registry:
        [config] = registry.configs("prod")
        assert registry.api_key(config).reveal() == CANARY + "-primary"
        assert [v.reveal() for v in registry.backup_keys(config)] == [CANARY + "-backup"]
    assert CANARY.encode() not in (repo / "store.db").read_bytes()
    assert CANARY.encode() not in (repo / "sealed.plan").read_bytes()
    assert run(capsys, "plan", "--detailed-exitcode", "llmform.yaml")[0] == 0

    # Rotated: sealed anew, and the application reads the new value.
    monkeypatch.setenv("PRIMARY", CANARY + "-rotated")
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    with Registry.from_env(str(repo / "store.db")) as registry:
        [config] = registry.configs("prod")
        assert registry.api_key(config).reveal() == CANARY + "-rotated"

    # Without the key the plan turns encryption off, and apply clears the sealed values.
    monkeypatch.delenv("LLMFORM_ENCRYPTION_KEY")
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "llmform.yaml")
    assert code == 2
    assert "- encrypted" in out and "Plan: 0 to add, 1 to change, 0 to destroy." in out
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    with Registry(str(repo / "store.db")) as registry:
        [config] = registry.configs("prod")
        with pytest.raises(LlmformError, match="references only"):
            registry.api_key(config)


def test_a_plan_made_with_a_key_is_not_applied_without_it(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORM_ENCRYPTION_KEY", generate_key())
    run(capsys, "init")
    run(capsys, "plan", "-o", "sealed.plan", "llmform.yaml")
    monkeypatch.delenv("LLMFORM_ENCRYPTION_KEY")
    code, _, err = run(capsys, "apply", "--auto-approve", "sealed.plan")
    assert code == 1
    assert "this plan stores secret values encrypted, but neither LLMFORM_ENCRYPTION_KEY" in err
    assert run(capsys, "audit")[1] == ""  # nothing was applied


def test_a_bad_key_is_an_error_that_does_not_echo_it(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORM_ENCRYPTION_KEY", CANARY)
    code, _, err = run(capsys, "plan", "llmform.yaml")
    assert code == 1
    assert "the encryption key is not base64 text" in err
    # which variable, and how to make a good key
    assert err.startswith("error: LLMFORM_ENCRYPTION_KEY: the encryption key is not base64 text;")
    python, *command = shlex.split(err.split("made with: ", 1)[1].strip())
    assert python == "python3"
    made = subprocess.run([sys.executable, *command], capture_output=True, text=True, check=True)
    monkeypatch.setenv("LLMFORM_ENCRYPTION_KEY", made.stdout.strip())
    assert run(capsys, "plan", "llmform.yaml")[0] == 0
