"""Encryption at rest: a local AES-GCM key, and Vault Transit on a real OpenBao."""

from __future__ import annotations

import base64

import pytest
from baoserver import BaoServer, unique

from llmform.secrets.base import SecretValue
from llmform.secrets.crypto import (
    LOCAL_PREFIX,
    TRANSIT_PREFIX,
    CipherError,
    LocalCipher,
    TransitCipher,
    cipher_from_env,
    generate_key,
)
from llmform.secrets.settings import VaultSettings

CANARY = SecretValue("sk-canary-" + "7c1e0b9a55d2")
HERE, THERE = "config prod/openai api_key", "config dev/openai api_key"


def flip(sealed: str, prefix: str) -> str:
    """The same sealed text with one bit of its body changed."""
    body = bytearray(base64.urlsafe_b64decode(sealed[len(prefix) :]))
    body[-1] ^= 1
    return prefix + base64.urlsafe_b64encode(bytes(body)).decode()


def test_local_cipher_round_trip_and_tamper_evidence() -> None:
    key = SecretValue(generate_key())
    cipher = LocalCipher(key)
    sealed = cipher.encrypt(CANARY, HERE)
    assert sealed.startswith(LOCAL_PREFIX)
    assert CANARY.reveal() not in sealed
    assert cipher.encrypt(CANARY, HERE) != sealed  # a fresh nonce each time
    assert cipher.decrypt(sealed, HERE) == CANARY
    assert LocalCipher(key).decrypt(sealed, HERE) == CANARY
    refusals = {
        "moved to another row": lambda: cipher.decrypt(sealed, THERE),
        "another key": lambda: LocalCipher(SecretValue(generate_key())).decrypt(sealed, HERE),
        "altered": lambda: cipher.decrypt(flip(sealed, LOCAL_PREFIX), HERE),
        "truncated": lambda: cipher.decrypt(sealed[:30], HERE),
    }
    for why, attempt in refusals.items():
        with pytest.raises(CipherError, match="cannot open the value sealed for") as caught:
            attempt()
        assert CANARY.reveal() not in str(caught.value), why
    with pytest.raises(CipherError, match="not a value sealed by the local key"):
        cipher.decrypt("vault:v1:abc", HERE)
    assert key.reveal() not in repr(cipher)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("!!!", "not base64"),
        (base64.urlsafe_b64encode(b"short").decode(), "holds 5 bytes, not 32"),
    ],
)
def test_local_cipher_rejects_bad_keys(key: str, message: str) -> None:
    with pytest.raises(CipherError, match=message):
        LocalCipher(SecretValue(key))


def test_cipher_from_env() -> None:
    assert cipher_from_env({}) is None  # the default: references only
    assert isinstance(cipher_from_env({"LLMFORM_ENCRYPTION_KEY": generate_key()}), LocalCipher)
    transit = cipher_from_env({"LLMFORM_TRANSIT_KEY": "llmform", "VAULT_ADDR": "http://x:1"})
    assert isinstance(transit, TransitCipher)
    assert (transit.mount, transit.key) == ("transit", "llmform")
    with pytest.raises(CipherError, match="not both"):
        cipher_from_env({"LLMFORM_ENCRYPTION_KEY": generate_key(), "LLMFORM_TRANSIT_KEY": "k"})


def test_transit_round_trip_rotation_and_refusals(bao: BaoServer) -> None:
    mount, key = unique("transit"), "llmform"
    root = bao.root()
    root.sys.enable_secrets_engine("transit", path=mount)
    root.secrets.transit.create_key(name=key, key_type="aes256-gcm96", mount_point=mount)
    cipher = TransitCipher(VaultSettings(addr=bao.addr, token=SecretValue("root")), key, mount)
    try:
        sealed = cipher.encrypt(CANARY, HERE)
        assert sealed.startswith(f"{TRANSIT_PREFIX}{mount}/{key}:vault:v1:")
        assert CANARY.reveal() not in sealed
        assert cipher.decrypt(sealed, HERE) == CANARY
        # Rotated in Vault: new values use v2, old ones still open.
        root.secrets.transit.rotate_key(name=key, mount_point=mount)
        assert ":vault:v2:" in cipher.encrypt(CANARY, HERE)
        assert cipher.decrypt(sealed, HERE) == CANARY
        with pytest.raises(CipherError, match="message authentication failed") as caught:
            cipher.decrypt(sealed, THERE)
        assert CANARY.reveal() not in str(caught.value)
    finally:
        cipher.close()

    narrow = bao.token(f'path "{mount}/decrypt/{key}" {{ capabilities = ["update"] }}')
    limited = TransitCipher(VaultSettings(addr=bao.addr, token=SecretValue(narrow)), key, mount)
    try:
        assert limited.decrypt(sealed, HERE) == CANARY
        with pytest.raises(CipherError, match=f'must grant "update" on "{mount}/encrypt/{key}"'):
            limited.encrypt(CANARY, HERE)
    finally:
        limited.close()
