"""Encryption at rest end to end through the library: a state planned ``encrypted``, its values
sealed (``sealing.seal_changes``), applied to a real SQLite registry, read back by the store and
opened by ``llmform.registry`` for an application; with a local key and with Vault Transit on a
real OpenBao, whose KV also supplies the values."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from baoserver import BaoServer, unique

from llmform.core.diff import UPDATE, Change, diff
from llmform.core.export import export_yaml
from llmform.core.render import render
from llmform.core.resources import desired_resources, secret_slots
from llmform.desired.model import DesiredState, SecretRef
from llmform.desired.validate import load_state
from llmform.engine.plan import make_plan
from llmform.errors import LlmformError, StoreError
from llmform.registry import Registry
from llmform.secrets.base import SecretValue, fingerprint
from llmform.secrets.crypto import (
    Cipher,
    CipherError,
    LocalCipher,
    cipher_from_env,
    generate_key,
)
from llmform.secrets.env import EnvResolver
from llmform.secrets.sealing import seal_changes
from llmform.secrets.settings import VaultSettings
from llmform.secrets.vault import VaultResolver
from llmform.targets.registry.sqlite import SqliteStore

CANARY = "sk-canary-at-rest-" + "5f0c2e"
ENV = {
    "AR_MAIN": CANARY + "-main",
    "AR_BACKUP": CANARY + "-backup",
    "AR_SECRET": CANARY + "-secret",
}
YAML = """\
apiVersion: llmform/v1
factories:
  - {name: Acme, type: openai-compatible, api_base: 'https://llm.acme.example/v1',
     models: [{name: m1, type: chat}]}
workspaces: [{name: prod}, {name: dev}]
configs:
  - {name: main, workspace: prod, factory: Acme, api_key: API_KEY,
     backup_keys: [BACKUP_KEY], models: [m1]}
  - {name: aws, workspace: prod, factory: Bedrock, region: us-east-1,
     api_key: {env: AR_MAIN}, api_secret: {env: AR_SECRET},
     models: [anthropic.claude-haiku-4-5-20251001-v1:0]}
  - {name: local, workspace: dev, factory: Acme, models: [m1]}
"""
ENV_REFS = {"API_KEY": "{env: AR_MAIN}", "BACKUP_KEY": "{env: AR_BACKUP}"}


def write_state(directory: Path, refs: Mapping[str, str] = ENV_REFS) -> DesiredState:
    text = YAML
    for name, ref in refs.items():
        text = text.replace(name, ref)
    path = directory / "llmform.yaml"
    path.write_text(text, encoding="utf-8")
    return load_state([str(path)])


def refs_of(state: DesiredState) -> list[SecretRef]:
    return [ref for c in state.configs.values() for ref in secret_slots(c).values()]


def apply(
    store: SqliteStore,
    state: DesiredState,
    values: Mapping[SecretRef, SecretValue],
    cipher: Cipher | None,
) -> list[Change]:
    """What plan + apply will do once wired: plan ``encrypted`` when there is a cipher, seal,
    apply in one transaction. Returns the changes applied."""
    key = store.fingerprint_key()
    fingerprints = {ref: fingerprint(key, value) for ref, value in values.items()}
    current = store.read()
    desired = desired_resources(state, fingerprints, encrypted=cipher is not None)
    changes = [c for c in diff(desired, current.resources) if c.action != "no-op"]
    sealed = seal_changes(changes, values, cipher) if cipher is not None else None
    store.apply(changes, (current.lineage, current.serial), [], sealed)
    return changes


def replan(
    store: SqliteStore,
    state: DesiredState,
    values: Mapping[SecretRef, SecretValue],
    encrypted: bool,
) -> list[Change]:
    key = store.fingerprint_key()
    fingerprints = {ref: fingerprint(key, value) for ref, value in values.items()}
    desired = desired_resources(state, fingerprints, encrypted=encrypted)
    return [c for c in diff(desired, store.read().resources) if c.action != "no-op"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        yield opened
    finally:
        opened.close()


def raw_bytes(store: SqliteStore) -> bytes:
    directory = Path(store.path).parent
    return b"".join(p.read_bytes() for p in sorted(directory.glob("registry.db*")))


def ciphertexts(store: SqliteStore) -> dict[tuple[str, str, str], str | None]:
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute("SELECT workspace, config, slot, ciphertext FROM config_secrets")
        return {(ws, c, slot): text for ws, c, slot, text in rows}


def test_local_key_round_trip_move_and_switch_off(tmp_path: Path, store: SqliteStore) -> None:
    state = write_state(tmp_path)
    resolution = EnvResolver(ENV).resolve(refs_of(state))
    assert resolution.problems == ()
    values = resolution.values
    key = SecretValue(generate_key())
    cipher = LocalCipher(key)

    changes = apply(store, state, values, cipher)
    assert {c.address for c in changes if c.kind == "config"} == {
        "config.prod/main",
        "config.prod/aws",
        "config.dev/local",
    }
    read = store.read().resources
    assert read["config.prod/main"].attrs["encrypted"] is True
    assert read["config.prod/aws"].attrs["encrypted"] is True
    assert "encrypted" not in read["config.dev/local"].attrs  # no secrets, nothing to seal
    assert replan(store, state, values, encrypted=True) == []  # what was planned is what is read
    assert CANARY.encode() not in raw_bytes(store)

    with Registry(store.path, cipher=LocalCipher(key)) as registry:
        main = registry.config("prod", "main")
        aws = registry.config("prod", "aws")
        local = registry.config("dev", "local")
        assert main is not None and aws is not None and local is not None
        assert (main.encrypted, aws.encrypted, local.encrypted) == (True, True, False)
        assert registry.api_key(main).reveal() == ENV["AR_MAIN"]
        assert [v.reveal() for v in registry.backup_keys(main)] == [ENV["AR_BACKUP"]]
        assert registry.secret(aws, "api_secret").reveal() == ENV["AR_SECRET"]
        assert dict(aws.secret_refs) == {"api_key": "env:AR_MAIN", "api_secret": "env:AR_SECRET"}
        with pytest.raises(LlmformError, match="config dev/local has no secret 'api_key'"):
            registry.api_key(local)
    with Registry(store.path) as registry:  # no key given
        main = registry.config("prod", "main")
        assert main is not None
        with pytest.raises(LlmformError, match="is stored encrypted; open the registry with"):
            registry.api_key(main)
    with Registry(store.path, cipher=LocalCipher(SecretValue(generate_key()))) as registry:
        main = registry.config("prod", "main")
        assert main is not None
        with pytest.raises(CipherError, match="sealed with another key") as caught:
            registry.api_key(main)
        assert CANARY not in str(caught.value)

    # A sealed value copied onto another row does not open there: another config, another slot.
    sealed = ciphertexts(store)
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "UPDATE config_secrets SET ciphertext = ? WHERE config = 'main' AND slot = 'api_key'",
            (sealed[("prod", "aws", "api_key")],),
        )
        conn.execute(
            "UPDATE config_secrets SET ciphertext = ? WHERE config = 'aws' AND slot = 'api_key'",
            (sealed[("prod", "aws", "api_secret")],),
        )
    with Registry(store.path, cipher=cipher) as registry:
        for name in ("main", "aws"):
            config = registry.config("prod", name)
            assert config is not None
            with pytest.raises(CipherError, match=f"sealed for 'config.prod/{name}#api_key'"):
                registry.api_key(config)

    # A rotated value with encryption on: an update that seals the new value.
    rotated = dict(ENV, AR_MAIN=CANARY + "-rotated")
    values = EnvResolver(rotated).resolve(refs_of(state)).values
    changes = apply(store, state, values, cipher)
    assert {c.address for c in changes} == {"config.prod/main", "config.prod/aws"}
    with Registry(store.path, cipher=cipher) as registry:
        main = registry.config("prod", "main")
        assert main is not None
        assert registry.api_key(main).reveal() == rotated["AR_MAIN"]

    # Switched off: an update of each config with secrets, and no sealed value left behind.
    changes = replan(store, state, values, encrypted=False)
    assert sorted((c.address, c.action) for c in changes) == [
        ("config.prod/aws", UPDATE),
        ("config.prod/main", UPDATE),
    ]
    assert all(
        [(f.name, f.before, f.after) for f in c.fields] == [("encrypted", True, None)]
        for c in changes
    )
    apply(store, state, values, None)
    assert set(ciphertexts(store).values()) == {None}
    assert "encrypted" not in store.read().resources["config.prod/main"].attrs
    assert replan(store, state, values, encrypted=False) == []
    with Registry(store.path, cipher=cipher) as registry:
        main = registry.config("prod", "main")
        assert main is not None and not main.encrypted
        with pytest.raises(LlmformError) as caught:
            registry.api_key(main)
        assert str(caught.value) == (
            "this registry keeps references only for prod/main api_key; resolve env:AR_MAIN "
            "yourself, or apply with LLMFORM_ENCRYPTION_KEY (or LLMFORM_TRANSIT_KEY) set"
        )


def plan_text(store: SqliteStore, state: DesiredState, encrypted: bool) -> str:
    return render(make_plan(state, store, EnvResolver(ENV), encrypted=encrypted), "text")


def test_plan_text_and_export_with_encryption(tmp_path: Path, store: SqliteStore) -> None:
    state = write_state(tmp_path)
    values = EnvResolver(ENV).resolve(refs_of(state)).values
    apply(store, state, values, None)
    text = plan_text(store, state, encrypted=True)
    assert text.count("      + encrypted = true\n") == 2
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in text

    apply(store, state, values, LocalCipher(SecretValue(generate_key())))
    text = plan_text(store, state, encrypted=False)
    assert text.count("      - encrypted = true -> null\n") == 2
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in text

    # Export writes references as ever; the store matches its export planned with the key.
    exported = tmp_path / "export"
    exported.mkdir()
    (exported / "llmform.yaml").write_text(export_yaml(store.read()), encoding="utf-8")
    assert "encrypted" not in (exported / "llmform.yaml").read_text(encoding="utf-8")
    again = load_state([str(exported / "llmform.yaml")])
    assert replan(store, again, values, encrypted=True) == []


def test_what_cannot_be_sealed_or_stored(tmp_path: Path, store: SqliteStore) -> None:
    state = write_state(tmp_path)
    values = dict(EnvResolver(ENV).resolve(refs_of(state)).values)
    cipher = LocalCipher(SecretValue(generate_key()))
    key = store.fingerprint_key()
    desired = desired_resources(
        state, {ref: fingerprint(key, v) for ref, v in values.items()}, encrypted=True
    )
    current = store.read()
    changes = [c for c in diff(desired, current.resources) if c.action != "no-op"]

    partial = {ref: v for ref, v in values.items() if str(ref) != "env:AR_SECRET"}
    with pytest.raises(CipherError) as caught:
        seal_changes(changes, partial, cipher)
    assert str(caught.value) == (
        "cannot store secrets encrypted without their values; not resolved:\n"
        "  config.prod/aws api_secret: env:AR_SECRET"
    )

    # The store writes what the plan says or nothing: planned encrypted without sealed values,
    # or sealed values for a config not planned encrypted.
    sealed = seal_changes(changes, values, cipher)
    expected = (current.lineage, current.serial)
    plain = desired_resources(state, {}, encrypted=False)
    plain_changes = [c for c in diff(plain, current.resources) if c.action != "no-op"]
    cases = [
        (changes, None, "config.prod/aws is planned encrypted, but no sealed value was given"),
        (plain_changes, sealed, "config.prod/aws is not planned encrypted, but sealed values"),
    ]
    for attempt, given, message in cases:
        with pytest.raises(StoreError, match=f"apply refused, nothing changed: {message}"):
            store.apply(attempt, expected, [], given)
        assert store.read().serial == current.serial
        assert store.read().resources == {}


def test_vault_values_sealed_by_transit(bao: BaoServer, tmp_path: Path, store: SqliteStore) -> None:
    kv = bao.kv_mount(2)
    bao.put(kv, "llm", {"api_key": CANARY + "-vault", "backup": CANARY + "-vault-backup"})
    transit = unique("transit")
    root = bao.root()
    root.sys.enable_secrets_engine("transit", path=transit)
    root.secrets.transit.create_key(name="llmform", key_type="aes256-gcm96", mount_point=transit)
    state = write_state(
        tmp_path,
        {
            "API_KEY": f'{{vault: "{kv}/llm#api_key"}}',
            "BACKUP_KEY": f'{{vault: "{kv}/llm#backup"}}',
        },
    )
    settings = VaultSettings(addr=bao.addr, token=SecretValue("root"))
    refs = refs_of(state)
    vault_values = VaultResolver(settings).resolve(refs)
    env_values = EnvResolver(ENV).resolve(refs)
    assert vault_values.problems == () and env_values.problems == ()
    values = {**vault_values.values, **env_values.values}

    environ = {
        "VAULT_ADDR": bao.addr,
        "VAULT_TOKEN": "root",
        "LLMFORM_TRANSIT_KEY": "llmform",
        "LLMFORM_TRANSIT_MOUNT": transit,
    }
    cipher = cipher_from_env(environ)
    assert cipher is not None
    try:
        apply(store, state, values, cipher)
    finally:
        close = getattr(cipher, "close", None)
        if close is not None:
            close()
    assert all(
        text is not None and text.startswith(f"llmform:transit:{transit}/llmform:vault:v1:")
        for (_, config, _), text in ciphertexts(store).items()
    )
    assert CANARY.encode() not in raw_bytes(store)
    with Registry.from_env(store.path, {}) as keyless:  # no key in this environment
        main = keyless.config("prod", "main")
        assert main is not None
        with pytest.raises(LlmformError, match="is stored encrypted; open the registry with"):
            keyless.api_key(main)

    with Registry.from_env(store.path, environ) as registry:
        main = registry.config("prod", "main")
        assert main is not None and main.encrypted
        assert main.api_key_ref == f"vault:{kv}/llm#api_key"
        assert registry.api_key(main).reveal() == CANARY + "-vault"
        assert [v.reveal() for v in registry.backup_keys(main)] == [CANARY + "-vault-backup"]
        aws = registry.config("prod", "aws")
        assert aws is not None
        assert registry.secret(aws, "api_secret").reveal() == ENV["AR_SECRET"]
    # Sealed for one row, opened for another: Transit's associated data refuses it.
    sealed = ciphertexts(store)
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "UPDATE config_secrets SET ciphertext = ? WHERE config = 'main' AND slot = 'api_key'",
            (sealed[("prod", "main", "backup_keys[0]")],),
        )
    with Registry.from_env(store.path, environ) as registry:
        main = registry.config("prod", "main")
        assert main is not None
        with pytest.raises(CipherError, match="message authentication failed") as caught:
            registry.api_key(main)
        assert CANARY not in str(caught.value)
