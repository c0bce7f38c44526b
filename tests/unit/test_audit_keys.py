"""The audit chain's seal schemes and keys, and the actor: pure functions, no store."""

from __future__ import annotations

import pytest

from llmform.state.actor import as_text, current_actor
from llmform.state.audit import message, seal
from llmform.state.audit_keys import (
    AuditKeyError,
    LocalChainKey,
    Seal,
    TransitChainKey,
    chain_key_from_env,
    seal_of,
)

HEX = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (HEX, Seal("legacy")),
        (f"sha256:{HEX}", Seal("plain")),
        (f"hmac-sha256:0123456789ab:{HEX}", Seal("hmac", "0123456789ab")),
        ("transit:transit/audit:vault:v1:AbC+/9==", Seal("transit", "transit/audit")),
        ("transit:ns/transit/audit:vault:v12:QUJD", Seal("transit", "ns/transit/audit")),
        (HEX.upper(), Seal("unknown")),
        (HEX[:-1], Seal("unknown")),
        (f"sha256:{HEX}\n", Seal("unknown")),
        (f"hmac-sha256:{HEX}", Seal("unknown")),  # no key id
        ("transit:audit:vault:v1:QUJD", Seal("unknown")),  # no mount
        ("vault:v1:QUJD", Seal("unknown")),
        ("", Seal("unknown")),
    ],
)
def test_a_stored_hash_says_how_it_was_sealed(stored: str, expected: Seal) -> None:
    assert seal_of(stored) == expected


@pytest.mark.parametrize("secret", ["x" * 31, "  " + "x" * 31 + "\n", ""])
def test_a_short_audit_key_is_refused_without_echoing_it(secret: str) -> None:
    with pytest.raises(AuditKeyError, match=r"it must be at least 32 \(make one with") as refused:
        LocalChainKey(secret)
    assert f"is {len(secret.strip())} characters long" in str(refused.value)
    assert not secret.strip() or secret.strip() not in str(refused.value)


def test_the_local_key_is_stripped_identified_and_never_shown() -> None:
    secret = "k" * 32
    key = LocalChainKey(secret)
    assert LocalChainKey(f"  {secret}\n").key_id == key.key_id != LocalChainKey("j" * 32).key_id
    assert secret not in repr(key) and key.key_id in repr(key)
    sealed = key.seal(b"message")
    assert seal_of(sealed) == Seal("hmac", key.key_id) and key.owns(sealed)
    assert secret not in sealed
    assert key.verify([(b"message", sealed), (b"other", sealed), (b"message", "sha256:x")]) == [
        True,
        False,
        False,
    ]
    assert LocalChainKey("é" * 32).seal(b"m") != LocalChainKey("\udce9" * 32).seal(b"m")


def test_the_seal_format_is_stable() -> None:
    """Stores keep these: a change of the sealed form would break every existing trail."""
    draft = {
        "time": "2026-01-01T00:00:00+00:00",
        "run_id": "run",
        "actor": "ci:octocat",
        "commit": None,
        "address": "workspace.prod",
        "action": "update",
        "fields": ["labels.équipe"],
        "result": "ok",
    }
    plain = seal([draft], "0" * 64, 1)[0]
    keyed = seal([draft], "0" * 64, 1, LocalChainKey("k" * 32))[0]
    assert message(plain) == (
        b'["llmform audit event v1",1,"2026-01-01T00:00:00+00:00","run","ci:octocat",null,'
        b'"workspace.prod","update","[\\"labels.\\\\u00e9quipe\\"]","ok","' + b"0" * 64 + b'"]'
    )
    assert plain.hash == "sha256:2b925a713b5eab68e572d2b82c5112213bed60a8bcfd4a24860a8520e768ca01"
    assert keyed.hash == (
        "hmac-sha256:72b2363e357a:0c15324c58abc4436f1b01f948a5fe7c0f9c3faf84f792f7a8ab4778a40b8f5d"
    )


def test_chain_key_from_env() -> None:
    assert chain_key_from_env({}) is None
    assert chain_key_from_env({"LLMFORM_AUDIT_KEY": "", "LLMFORM_AUDIT_TRANSIT_KEY": ""}) is None
    with pytest.raises(AuditKeyError, match="LLMFORM_AUDIT_KEY holds only whitespace"):
        chain_key_from_env({"LLMFORM_AUDIT_KEY": "  ", "LLMFORM_AUDIT_TRANSIT_KEY": ""})
    assert isinstance(chain_key_from_env({"LLMFORM_AUDIT_KEY": "k" * 32}), LocalChainKey)
    transit = chain_key_from_env({"LLMFORM_AUDIT_TRANSIT_KEY": "audit", "VAULT_ADDR": "http://x:1"})
    assert isinstance(transit, TransitChainKey)
    assert (transit.mount, transit.key) == ("transit", "audit")
    assert transit.label == "the Vault Transit key transit/audit"
    other = chain_key_from_env(
        {"LLMFORM_AUDIT_TRANSIT_KEY": "a", "LLMFORM_TRANSIT_MOUNT": "/ops/transit/"}
    )
    assert isinstance(other, TransitChainKey) and other.label.endswith("ops/transit/a")
    with pytest.raises(AuditKeyError, match="not both"):
        chain_key_from_env({"LLMFORM_AUDIT_KEY": "k" * 32, "LLMFORM_AUDIT_TRANSIT_KEY": "a"})
    with pytest.raises(AuditKeyError, match="must name a Transit key"):
        chain_key_from_env({"LLMFORM_AUDIT_TRANSIT_KEY": "a:b"})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("octocat", "octocat"),
        ("caf\udce9", "caf\\xe9"),  # os.environ's spelling of the byte 0xE9
        ("é\udcff", "é\\xff"),
        ("\ud800x", "\\ud800x"),  # a lone surrogate that came from no byte
        ("a\nb\x1b", "a\nb\x1b"),  # control characters are kept: printing escapes them
    ],
)
def test_as_text(value: str, text: str) -> None:
    assert as_text(value) == text


@pytest.mark.parametrize(
    ("environ", "actor"),
    [
        ({"GITHUB_ACTOR": "octocat", "GITLAB_USER_LOGIN": "tanuki"}, "ci:octocat"),
        ({"GITHUB_ACTOR": "  ", "GITLAB_USER_LOGIN": "tanuki"}, "ci:tanuki"),
        ({"BUILDKITE_BUILD_CREATOR": "Ada Lovelace"}, "ci:Ada Lovelace"),
        ({"CIRCLE_USERNAME": " circle\n"}, "ci:circle"),
        ({"GITHUB_ACTOR": "bad\udcffbyte"}, "ci:bad\\xffbyte"),
    ],
)
def test_the_actor_from_ci_variables(environ: dict[str, str], actor: str) -> None:
    assert current_actor(environ) == actor
