"""Plans that read no secret, or fewer, through the CLI on a real SQLite file:

- ``plan --no-secrets`` (a pull request from a fork gets no secrets): references compared,
  values reported as not compared in every format, key checks skipped and said so, nothing
  resolved, and the plan can never be applied;
- a disabled config's secrets are read only when the plan needs them (the config is created,
  a reference changed, encryption must seal them), else the store's fingerprint is kept;
- a reference left unread keeps the store's fingerprint, and a later plan that reads it
  compares and records it correctly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from llmform.cli import main
from llmform.secrets.crypto import generate_key

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: NS_MAIN}
    backup_keys: [{env: NS_BACKUP}]
    models: [gpt-4o]
  - name: spare
    workspace: prod
    factory: DeepSeek
    description: kept for a rainy day
    enabled: false
    api_key: {env: NS_SPARE}
    models: [deepseek-chat]
"""
VALUES = {"NS_MAIN": "sk-ns-main-0001", "NS_BACKUP": "sk-ns-backup-0002", "NS_SPARE": "sk-spare-3"}
NOT_READ = (
    "Secret values were not read (--no-secrets): references are compared, values are not. "
    "This plan cannot be applied."
)


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    for name in ("LLMFORM_ENCRYPTION_KEY", "LLMFORM_TRANSIT_KEY", "VAULT_ADDR", "VAULT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.vault-token of the user's
    for name, value in VALUES.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "llmform.yaml").write_text(STATE)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--no-color", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err
    for value in VALUES.values():
        assert value not in out + err
    return code, out, err


def apply(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")
    assert code == 0, out + err


def edit(repo: Path, change: Callable[[str], str]) -> None:
    path = repo / "llmform.yaml"
    path.write_text(change(path.read_text()))


def fingerprints(repo: Path) -> dict[tuple[str, str], str | None]:
    with sqlite3.connect(repo / "store.db") as conn:
        rows = conn.execute("SELECT config, slot, fingerprint FROM config_secrets").fetchall()
    return {(config, slot): fp for config, slot, fp in rows}


def unset_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VALUES:
        monkeypatch.delenv(name)


# -- plan --no-secrets ------------------------------------------------------------------------


def test_no_secrets_plans_a_vault_reference_with_no_vault_configured(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No VAULT_ADDR, no token and no env values: nothing is resolved, so the plan is made;
    without --no-secrets the same plan fails on the first reference it must read."""
    edit(repo, lambda t: t.replace("{env: NS_MAIN}", '{vault: "secret/llm/openai#api_key"}'))
    unset_secrets(monkeypatch)
    code, _, err = run(capsys, "plan", "--no-validate-keys", "llmform.yaml")
    assert code == 1 and "VAULT_ADDR is not set" in err

    code, out, err = run(capsys, "plan", "--no-secrets", "--detailed-exitcode", "llmform.yaml")
    assert code == 2, err
    assert '+ secrets.api_key        = "vault:secret/llm/openai#api_key"' in out
    assert "(sensitive value)" not in out  # no value was read, none is claimed
    assert out.endswith(
        f"{NOT_READ}\n\nKey checks were skipped (--no-secrets).\n\n"
        "Secret values not compared (--no-secrets):\n"
        "  config.prod/main   api_key, backup_keys[0]\n"
        "  config.prod/spare  api_key\n\n"
        "Plan: 5 to add, 0 to change, 0 to destroy.\n"
    )


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_no_secrets_says_so_in_every_format_and_lists_each_config_not_compared(
    fmt: str, repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(capsys)
    unset_secrets(monkeypatch)
    code, out, err = run(capsys, "plan", "--no-secrets", "--format", fmt, "llmform.yaml")
    assert code == 0, err
    if fmt == "json":
        data = json.loads(out)
        assert data["summary"] == {"add": 0, "change": 0, "destroy": 0}
        assert NOT_READ in data["warnings"]
        assert "Key checks were skipped (--no-secrets)." in data["warnings"]
        # nothing changed, so no change is listed (issue 14): the warning names each config
        assert data["changes"] == [] and data["unchanged"]["count"] == 5
        assert (
            "Secret values not compared (--no-secrets): config.prod/main (api_key, "
            "backup_keys[0]); config.prod/spare (api_key)"
        ) in data["warnings"]
    elif fmt == "markdown":
        assert f"**{NOT_READ}**" in out
        assert "_Key checks were skipped (--no-secrets)._" in out
        assert (
            "Secret values not compared (--no-secrets):\n\n"
            "- `config.prod/main`: `api_key`, `backup_keys[0]`\n"
            "- `config.prod/spare`: `api_key`\n"
        ) in out
    else:
        assert out == (
            f"{NOT_READ}\n\n"
            "Key checks were skipped (--no-secrets).\n\n"
            "Secret values not compared (--no-secrets):\n"
            "  config.prod/main   api_key, backup_keys[0]\n"
            "  config.prod/spare  api_key\n\n"
            "No changes. The store matches the configuration.\n"
        )


def test_no_secrets_compares_references_and_never_claims_a_value_changed(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(capsys)
    monkeypatch.setenv("NS_MAIN", "sk-ns-rotated-9")  # a rotation --no-secrets cannot see
    edit(
        repo,
        lambda t: t.replace("[{env: NS_BACKUP}]", "[{env: NS_OTHER}]").replace(
            "models: [gpt-4o]", "models: [gpt-4o, gpt-4o-mini]"
        ),
    )
    code, out, err = run(capsys, "plan", "--no-secrets", "llmform.yaml")
    assert code == 0, err
    assert '~ secrets.backup_keys[0] = "env:NS_BACKUP" -> "env:NS_OTHER"' in out
    assert "sensitive value" not in out
    assert "  config.prod/main   api_key, backup_keys[0]\n" in out
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in out


def test_a_no_secrets_plan_is_never_applied(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(capsys)
    edit(repo, lambda t: t.replace("kept for a rainy day", "kept for later"))
    before = (repo / "store.db").read_bytes()
    code, _, err = run(capsys, "plan", "--no-secrets", "-o", "fork.plan", "llmform.yaml")
    assert code == 0
    assert "made with --no-secrets, it is for review only and cannot be applied" in err
    assert "apply it with" not in err
    for extra in ([], ["--no-validate-keys"]):
        code, out, err = run(capsys, "apply", "--auto-approve", *extra, "fork.plan")
        assert code == 1
        assert out == ""
        assert err == (
            "error: this plan was made with --no-secrets: secret values were not read nor "
            "compared and keys were not checked, so it cannot be applied; run llmform plan (or "
            "apply) where the secrets can be read\n"
        )
    assert (repo / "store.db").read_bytes() == before
    # apply has no such flag: it always reads the secrets it writes
    code, _, err = run(capsys, "apply", "--auto-approve", "--no-secrets", "llmform.yaml")
    assert code == 2 and "No such option '--no-secrets'" in err


def test_no_secrets_keeps_the_stored_encryption_without_the_key(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork gets no encryption key either: values sealed in the store are not shown as
    being unsealed."""
    monkeypatch.setenv("LLMFORM_ENCRYPTION_KEY", generate_key())
    apply(capsys)
    monkeypatch.delenv("LLMFORM_ENCRYPTION_KEY")
    unset_secrets(monkeypatch)
    code, out, err = run(capsys, "plan", "--no-secrets", "--detailed-exitcode", "llmform.yaml")
    assert code == 0, out + err
    assert "encrypted" not in out


# -- disabled configs -------------------------------------------------------------------------


def test_a_disabled_configs_secret_is_not_read_and_its_fingerprint_kept(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(capsys)
    stored = fingerprints(repo)
    assert all(stored.values())
    monkeypatch.delenv("NS_SPARE")  # unset: the plan does not need it
    code, out, err = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", ".")
    assert code == 0, err
    assert out == (
        "Key checks were skipped (--no-validate-keys).\n\n"
        "Secret values not compared (disabled configs, read only when needed):\n"
        "  config.prod/spare  api_key\n\n"
        "No changes. The store matches the configuration.\n"
    )
    # an update of the disabled config rewrites its row with the fingerprint it had
    edit(repo, lambda t: t.replace("kept for a rainy day", "kept for later"))
    code, out, err = run(capsys, "plan", "--no-validate-keys", "llmform.yaml")
    assert code == 0, err
    assert '~ description = "kept for a rainy day" -> "kept for later"' in out
    assert "sensitive value" not in out
    apply(capsys)
    assert fingerprints(repo) == stored

    # enabled again with the same value: nothing but the flag changes
    monkeypatch.setenv("NS_SPARE", VALUES["NS_SPARE"])
    edit(repo, lambda t: t.replace("enabled: false", "enabled: true"))
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "llmform.yaml")
    assert "~ enabled = false -> true" in out
    assert "sensitive value" not in out and "not compared" not in out
    # with a value rotated while it was disabled: the rotation shows
    monkeypatch.setenv("NS_SPARE", "sk-spare-rotated")
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "llmform.yaml")
    assert "~ secrets.api_key.value = (sensitive value changed)" in out
    apply(capsys)
    assert fingerprints(repo)[("spare", "api_key")] not in (None, stored[("spare", "api_key")])


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda t: t.replace("name: spare", "name: spare-2"), id="created"),
        pytest.param(lambda t: t.replace("{env: NS_SPARE}", "{env: NS_SPARE_2}"), id="reference"),
    ],
)
def test_a_disabled_configs_new_secret_is_read(
    change: Callable[[str], str],
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new config or a changed reference has no fingerprint in the store to keep: the value
    is read so that the stored one is right."""
    apply(capsys)
    edit(repo, change)
    monkeypatch.setenv("NS_SPARE_2", VALUES["NS_SPARE"])
    apply(capsys)
    stored = fingerprints(repo)
    address = "spare-2" if ("spare-2", "api_key") in stored else "spare"
    assert stored[(address, "api_key")] == fingerprints_of_spare(repo, VALUES["NS_SPARE"])


def fingerprints_of_spare(repo: Path, value: str) -> str:
    """The fingerprint a plan that reads ``value`` stores, by the store's own key."""
    from llmform.secrets.base import SecretValue, fingerprint
    from llmform.targets.registry.sqlite import SqliteStore

    store = SqliteStore(f"sqlite:///{repo / 'store.db'}")
    try:
        return fingerprint(store.fingerprint_key(), SecretValue(value))
    finally:
        store.close()


def test_a_disabled_config_created_without_its_secret_is_fingerprinted_once_enabled(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: an env var unset for a disabled config does not fail plan or apply;
    enabled with the value set, the fingerprint is recorded, and compared from then on."""
    monkeypatch.delenv("NS_SPARE")
    code, out, err = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", ".")
    assert code == 2, err
    assert "environment variable NS_SPARE is not set; export it (used by config.prod/spare" in out
    apply(capsys)
    assert fingerprints(repo)[("spare", "api_key")] is None
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", ".")
    assert code == 0 and "NS_SPARE is not set" in out  # said again until it is read

    monkeypatch.setenv("NS_SPARE", VALUES["NS_SPARE"])
    edit(repo, lambda t: t.replace("enabled: false", "enabled: true"))
    code, out, _ = run(capsys, "plan", "--no-validate-keys", ".")
    assert "      ~ enabled               = false -> true\n" in out
    assert "      + secrets.api_key.value = (sensitive value)\n" in out
    apply(capsys)
    assert fingerprints(repo)[("spare", "api_key")] == fingerprints_of_spare(
        repo, VALUES["NS_SPARE"]
    )
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", ".")
    assert code == 0, out
    monkeypatch.setenv("NS_SPARE", "sk-spare-rotated")
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", ".")
    assert code == 2 and "~ secrets.api_key.value = (sensitive value changed)" in out


VAULT_SPARE = STATE.replace("{env: NS_SPARE}", '{vault: "secret/llm/spare#api_key"}')


@pytest.mark.parametrize(
    ("environment", "why"),
    [
        ({}, "VAULT_ADDR is not set; export VAULT_ADDR="),
        ({"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "hvs.r5-token"}, "127.0.0.1:1"),
    ],
    ids=["no VAULT_ADDR", "unreachable"],
)
def test_a_disabled_configs_secret_from_a_vault_that_cannot_be_used_is_a_warning(
    environment: dict[str, str],
    why: str,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a disabled config reads from Vault, and Vault cannot be used at all (not set up, or
    down): as for an unset variable, the config is planned and applied without that
    fingerprint and the plan says why, rather than the run stopping for a value it need not
    have. An enabled config's Vault secret still stops the run."""
    monkeypatch.setenv("VAULT_CLIENT_TIMEOUT", "2")
    monkeypatch.setenv("VAULT_MAX_RETRIES", "0")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    edit(repo, lambda _: VAULT_SPARE)
    code, out, err = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", ".")
    assert code == 2, err
    (warning,) = [line for line in out.splitlines() if line.startswith("Warning: not read")]
    assert warning.startswith(
        "Warning: not read, so stored without a fingerprint until a plan reads it: "
        "vault:secret/llm/spare#api_key: "
    )
    assert why in warning and warning.endswith("(used by config.prod/spare api_key)")
    apply(capsys)
    assert fingerprints(repo)[("spare", "api_key")] is None
    assert fingerprints(repo)[("main", "api_key")] is not None

    edit(repo, lambda t: t.replace("enabled: false", "enabled: true"))
    code, out, err = run(capsys, "plan", "--no-validate-keys", ".")
    assert (code, out) == (1, "")
    assert why in err


def test_encryption_reads_a_disabled_configs_secret_only_when_it_must_seal_it(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORM_ENCRYPTION_KEY", generate_key())
    apply(capsys)
    monkeypatch.delenv("NS_SPARE")
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml")
    assert code == 0 and "config.prod/spare  api_key" in out  # sealed already: not needed
    edit(repo, lambda t: t.replace("kept for a rainy day", "kept for later"))
    code, _, err = run(capsys, "plan", "--no-validate-keys", "llmform.yaml")
    assert code == 1  # rewritten, so sealed anew: the value is needed
    assert "NS_SPARE is not set; export it (used by config.prod/spare api_key)" in err


def test_a_fingerprint_the_store_lacks_is_recorded_by_the_next_plan_that_reads_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply(capsys)
    stored = fingerprints(repo)
    with sqlite3.connect(repo / "store.db") as conn:
        conn.execute("UPDATE config_secrets SET fingerprint = NULL WHERE config = 'main'")
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml")
    assert code == 2
    assert "+ secrets.api_key.value        = (sensitive value)" in out
    assert "+ secrets.backup_keys[0].value = (sensitive value)" in out
    apply(capsys)
    assert fingerprints(repo) == stored
    code, out, _ = run(capsys, "plan", "--no-validate-keys", "--detailed-exitcode", "llmform.yaml")
    assert code == 0, out


def test_a_saved_plan_keeps_an_unread_fingerprint(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(capsys)
    stored = fingerprints(repo)
    monkeypatch.delenv("NS_SPARE")
    edit(repo, lambda t: t.replace("kept for a rainy day", "kept for later"))
    assert run(capsys, "plan", "--no-validate-keys", "-o", "p.plan", "llmform.yaml")[0] == 0
    saved = json.loads((repo / "p.plan").read_text())
    assert saved["not_compared"] == {"config.prod/spare": ["api_key"]}
    assert "env:NS_SPARE" not in saved["fingerprints"]  # not read, so not re-checked
    code, out, err = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "p.plan")
    assert code == 0, out + err
    assert fingerprints(repo) == stored
