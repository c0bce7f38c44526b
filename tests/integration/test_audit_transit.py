"""The audit chain keyed by Vault Transit on a real OpenBao server: HMACs made and verified by
Transit (the key never leaves it), across a key rotation; rewrites caught; an unreachable Vault
or a token without permission refused before the store is touched. On each store
(``store_url``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from baoserver import BaoServer, unique
from support.cli import run
from support.store_db import StoreDb, snapshot, store_db
from test_audit_chain import downgrade_last_run, edit_and_rehash, replace_trail, trail

from llmform.errors import StoreError
from llmform.secrets.base import SecretValue
from llmform.secrets.settings import VaultSettings
from llmform.state.audit_keys import TransitChainKey
from llmform.targets import open_store

STATE = "apiVersion: llmform/v1\nworkspaces:\n  - name: prod\n    labels: {{team: {team}}}\n"


@pytest.fixture
def transit(
    bao: BaoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> tuple[str, str]:
    for name in list(os.environ):
        if name.startswith(("VAULT_", "LLMFORM_VAULT_", "LLMFORM_AUDIT_")):
            monkeypatch.delenv(name)
    mount, key = unique("transit"), "audit"
    root = bao.root()
    root.sys.enable_secrets_engine("transit", path=mount)
    root.secrets.transit.create_key(name=key, mount_point=mount)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    monkeypatch.setenv("VAULT_TOKEN", "root")
    monkeypatch.setenv("LLMFORM_AUDIT_TRANSIT_KEY", key)
    monkeypatch.setenv("LLMFORM_TRANSIT_MOUNT", mount)
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    return mount, key


def apply(capsys: pytest.CaptureFixture[str], team: str) -> str:
    Path("llmform.yaml").write_text(STATE.format(team=team))
    code, out, err = run(capsys, "apply", "--auto-approve", "llmform.yaml")
    assert code == 0, err
    found = re.search(r"^Audit chain head: (\S+)$", out, re.MULTILINE)
    assert found, out
    return found.group(1)


def test_transit_seals_and_verifies_across_a_rotation(
    bao: BaoServer, transit: tuple[str, str], capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    mount, key = transit
    assert apply(capsys, "a").startswith(f"3:transit:{mount}/{key}:vault:v1:")
    bao.root().secrets.transit.rotate_key(name=key, mount_point=mount)
    head = apply(capsys, "b")
    assert head.startswith(f"6:transit:{mount}/{key}:vault:v2:")
    code, out, err = run(capsys, "audit", "--verify", "--head", head)
    assert code == 0, err
    assert f"Events 1-6: sealed with the Vault Transit key {mount}/{key}, verified with it" in out

    with store_db(store_url) as db:
        pristine = trail(db)
    for rewrite, expected in (
        (
            edit_only,
            "audit chain broken at event 2: its content does not match its seal by the Vault "
            f"Transit key {mount}/{key} (edited, or sealed for another store and copied here)",
        ),
        (edit_and_rehash, f"no event is sealed with the Vault Transit key {mount}/{key}"),
        (downgrade_last_run, "audit chain broken at event 4: it is sealed with plain SHA-256"),
    ):
        with store_db(store_url) as db:
            replace_trail(db, pristine)
            rewrite(db)
        code, _, err = run(capsys, "audit", "--verify")
        assert code == 1 and expected in err, err


def edit_only(conn: StoreDb) -> None:
    conn.execute("UPDATE audit_events SET actor = 'ci:mallory' WHERE seq = 2")


def test_verify_needs_the_transit_verify_permission(
    bao: BaoServer,
    transit: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mount, key = transit
    apply(capsys, "a")
    narrow = bao.token(f'path "{mount}/hmac/{key}" {{ capabilities = ["update"] }}')
    monkeypatch.setenv("VAULT_TOKEN", narrow)
    assert apply(capsys, "b").startswith("6:transit:")  # sealing needs hmac only
    code, _, err = run(capsys, "audit", "--verify")
    assert code == 1
    assert f'the token\'s policies must grant "update" on "{mount}/verify/{key}"' in err
    assert narrow not in err


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VAULT_ADDR": "http://127.0.0.1:1"}, "cannot reach Vault at http://127.0.0.1:1"),
        ({"LLMFORM_AUDIT_TRANSIT_KEY": "missing"}, "could not hmac the audit events with"),
        ({"VAULT_TOKEN": "not-a-token"}, "rejected the token: it is invalid, expired or revoked"),
    ],
)
def test_an_unusable_transit_key_is_refused_before_the_store_is_touched(
    transit: tuple[str, str],
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    message: str,
) -> None:
    apply(capsys, "a")
    before = snapshot(store_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    Path("llmform.yaml").write_text(STATE.format(team="b"))
    code, _, err = run(capsys, "apply", "--auto-approve", "llmform.yaml")
    assert code == 1 and message in err, err
    assert "not-a-token" not in err
    assert snapshot(store_url) == before


def test_vault_failing_mid_apply_rolls_the_apply_back(
    bao: BaoServer, transit: tuple[str, str], store_url: str
) -> None:
    """The store's own guard, for a Vault that fails after apply started: nothing is written."""
    mount, key = transit
    store = open_store(store_url)
    gone = TransitChainKey(
        VaultSettings(addr="http://127.0.0.1:1", token=SecretValue("root")), key, mount
    )
    try:
        state = store.read()
        draft = {
            "time": "t",
            "run_id": "r",
            "actor": "a",
            "commit": None,
            "address": "",
            "action": "apply-start",
            "fields": [],
            "result": "started",
        }
        with pytest.raises(StoreError, match="apply refused, nothing changed: cannot reach Vault"):
            store.apply([], (state.lineage, state.serial), [draft], chain_key=gone)
        assert store.audit_events() == [] and store.read().serial == 0
    finally:
        gone.close()
        store.close()
