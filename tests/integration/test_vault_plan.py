"""plan and apply through the CLI with keys in a real OpenBao: resolution, rotation, problems,
and a canary value that must appear in no output, plan file, store row, audit event or log."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest
from baoserver import BaoServer, unique
from support.cli import run
from support.provider_servers import ProviderServer


def state(v2: str, v1: str, openai: str = "", anthropic: str = "") -> str:
    """Key checks go to ``openai`` and ``anthropic`` (local servers) when given."""
    return f"""\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    api_base: {openai or "https://api.openai.com/v1"}
    api_key: {{vault: "{v2}/llm/openai#api_key"}}
    backup_keys:
      - {{vault: "llm/openai#backup", mount: {v2}}}
      - {{vault: "{v2}/llm/openai#api_key", version: 1}}
    models: [gpt-4o]
  - name: anthropic
    workspace: prod
    factory: Anthropic
    api_base: {anthropic or "https://api.anthropic.com"}
    api_key: {{vault: "{v1}/llm/anthropic#api_key"}}
    models: [claude-sonnet-4-6]
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bao: BaoServer) -> tuple[Path, str, str]:
    v2, v1 = bao.kv_mount(2), bao.kv_mount(1)
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("VAULT_", "LLMFORM_VAULT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.vault-token of the user's
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    monkeypatch.setenv("VAULT_TOKEN", "root")
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    (tmp_path / "llmform.yaml").write_text(state(v2, v1))
    return tmp_path, v2, v1


def everything_written(root: Path) -> str:
    """Every file under ``root`` (plan files, the store), as text, bytes decoded leniently."""
    texts = [p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file()]
    return "\n".join(texts)


def plan_rotate_apply(
    capsys: pytest.CaptureFixture[str], bao: BaoServer, v2: str, canary: str
) -> list[str]:
    """Plan, apply, rotate in Vault, see the rotation and the saved plan go stale."""
    outputs = []
    run(capsys, "init")
    code, out, err = run(capsys, "plan", "-o", "first.plan", "llmform.yaml")
    outputs.append(out + err)
    assert code == 0, err
    assert "(sensitive value)" in out
    code, out, err = run(capsys, "apply", "--auto-approve", "first.plan")
    outputs.append(out + err)
    assert code == 0, err

    # Rotated in Vault: the plan says so without showing it, and a saved plan goes stale.
    code, out, err = run(capsys, "plan", "-o", "second.plan", "llmform.yaml")
    outputs.append(out + err)
    assert "No changes" in out, out
    bao.put(v2, "llm/openai", {"api_key": canary + "-v3", "backup": canary + "-backup"})
    code, out, err = run(capsys, "plan", "--detailed-exitcode", "llmform.yaml")
    outputs.append(out + err)
    assert code == 2
    assert "(sensitive value changed)" in out
    code, out, err = run(capsys, "apply", "--auto-approve", "second.plan")
    outputs.append(out + err)
    assert code == 1
    assert "changed since the plan was made" in err

    return outputs


def test_plan_apply_rotate_with_vault_keys_and_no_value_anywhere(
    repo: tuple[Path, str, str],
    bao: BaoServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, v2, v1 = repo
    canary = "sk-canary-" + unique("plan")
    bao.put(v2, "llm/openai", {"api_key": canary + "-v1", "backup": canary + "-backup"})
    bao.put(v2, "llm/openai", {"api_key": canary + "-v2", "backup": canary + "-backup"})
    bao.put(v1, "llm/anthropic", {"api_key": canary + "-anthropic"}, version=1)
    caplog.set_level(logging.DEBUG)
    outputs = []
    # The values read from Vault are what the providers are asked about.
    openai_keys = {canary + s: "valid" for s in ("-v1", "-v2", "-v3", "-backup")}
    with (
        ProviderServer("openai", openai_keys, models=["gpt-4o"]) as openai,
        ProviderServer(
            "anthropic", {canary + "-anthropic": "valid"}, models=["claude-sonnet-4-6"]
        ) as anthropic,
    ):
        (root / "llmform.yaml").write_text(state(v2, v1, openai.api_base, anthropic.api_base))
        monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", f"{openai.url} {anthropic.url}")
        outputs += plan_rotate_apply(capsys, bao, v2, canary)
        assert sorted(set(openai.keys_seen())) == sorted(openai_keys)
        assert anthropic.keys_seen() == [canary + "-anthropic"]

    sources = {
        "output": "\n".join(outputs),
        "files": everything_written(root),
        "log": caplog.text,
    }
    with sqlite3.connect(root / "store.db") as conn:
        rows = [
            repr(row)
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            for row in conn.execute(f'SELECT * FROM "{table}"')
        ]
    sources["rows"] = "\n".join(rows)
    assert f"{v2}/llm/openai#api_key" in sources["rows"]  # references are kept, values are not
    for where, text in sources.items():
        assert canary not in text, where


def test_vault_problems_reach_the_plan_report_all_at_once(
    repo: tuple[Path, str, str], bao: BaoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _, v2, v1 = repo
    bao.put(v2, "llm/openai", {"api_key": "only-this-key"})
    code, _, err = run(capsys, "plan", "llmform.yaml")
    assert code == 1
    assert "has no key 'backup' (its keys: api_key)" in err
    assert f"no secret at {v1}/llm/anthropic" in err
    assert "only-this-key" not in err


def test_a_sealed_or_absent_vault_stops_the_plan_with_what_to_do(
    repo: tuple[Path, str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VAULT_ADDR")
    code, _, err = run(capsys, "plan", "llmform.yaml")
    assert code == 1
    assert "VAULT_ADDR is not set" in err


def test_no_secrets_and_disabled_configs_leave_vault_alone(
    repo: tuple[Path, str, str],
    bao: BaoServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--no-secrets asks Vault nothing (the server's audit device is the witness) and still
    plans; a disabled config's secret is read only when its fingerprint must be written, and
    one rotated in Vault while the config is disabled is reported as not compared."""
    root, v2, v1 = repo
    bao.put(v2, "llm/openai", {"api_key": "sk-one", "backup": "sk-two"})
    bao.put(v1, "llm/anthropic", {"api_key": "sk-three"}, version=1)
    path = root / "llmform.yaml"
    path.write_text(
        path.read_text().replace("factory: Anthropic\n", "factory: Anthropic\n    enabled: false\n")
    )
    code, out, err = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")
    assert code == 0, out + err

    # rotated in Vault: the enabled config's rotation shows, the disabled one's is not read
    bao.put(v2, "llm/openai", {"api_key": "sk-one-rotated", "backup": "sk-two"})
    bao.put(v1, "llm/anthropic", {"api_key": "sk-three-rotated"}, version=1)
    mark = bao.audit_mark()
    code, out, err = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", ".")
    assert code == 2, err
    assert "~ secrets.api_key.value = (sensitive value changed)" in out
    assert "  config.prod/anthropic  api_key\n" in out
    read = {r.get("path") for r in bao.audit_requests(mark)}
    assert not [p for p in read if p and "llm/anthropic" in p]
    assert [p for p in read if p and "llm/openai" in p]

    # --no-secrets: not a single request, and neither rotation claimed nor denied
    mark = bao.audit_mark()
    code, out, err = run(capsys, "plan", "--no-secrets", "--detailed-exitcode", "llmform.yaml")
    assert code == 0, err
    assert bao.audit_requests(mark) == []
    assert "sensitive value" not in out
    assert (
        "Secret values not compared (--no-secrets):\n"
        "  config.prod/anthropic    api_key\n"
        "  config.prod/openai-main  api_key, backup_keys[0], backup_keys[1]\n"
    ) in out
    # without Vault at all, the same
    monkeypatch.delenv("VAULT_ADDR")
    monkeypatch.delenv("VAULT_TOKEN")
    code, out2, err = run(capsys, "plan", "--no-secrets", "--detailed-exitcode", "llmform.yaml")
    assert (code, out2) == (0, out), err


def test_a_disabled_configs_missing_vault_secret_does_not_stop_the_plan(
    repo: tuple[Path, str, str], bao: BaoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """An enabled config's missing secret stops the run; a disabled config's is reported and
    the config planned without its fingerprint."""
    root, v2, v1 = repo
    bao.put(v2, "llm/openai", {"api_key": "sk-one", "backup": "sk-two"})
    path = root / "llmform.yaml"
    path.write_text(
        path.read_text().replace("factory: Anthropic\n", "factory: Anthropic\n    enabled: false\n")
    )
    code, out, err = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", ".")
    assert code == 2, err
    assert (
        f"Warning: not read, so stored without a fingerprint until a plan reads it: "
        f"vault:{v1}/llm/anthropic#api_key: no secret at {v1}/llm/anthropic"
    ) in out
    assert "(used by config.prod/anthropic api_key)" in out
    path.write_text(path.read_text().replace("    enabled: false\n", ""))
    code, _, err = run(capsys, "plan", "--no-validate-keys", ".")
    assert code == 1 and f"no secret at {v1}/llm/anthropic" in err
