"""Helpers for key-check tests: a controllable clock and targets built from plain keys."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from llmform.checks.run import CheckReport, CheckTarget, KeySlot, check_keys
from llmform.secrets.base import SecretValue

# Loading the CA bundle costs ~0.1 s per client on this machine; the servers here are plain
# HTTP on loopback, so one context serves every test.
_SSL = ssl.create_default_context()

EPOCH = 1_800_000_000.0


class FakeClock:
    """``sleep`` records each wait and moves ``clock`` on by it; nothing really waits."""

    def __init__(self, now: float = EPOCH) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def slots(keys: Sequence[str]) -> tuple[KeySlot, ...]:
    """Keys as a config holds them: primary then backups, fingerprinted (plain sha256 is
    enough here; the real fingerprint is keyed)."""
    return tuple(
        KeySlot(
            "api_key" if i == 0 else f"backup_keys[{i - 1}]",
            i,
            SecretValue(k),
            "test:" + hashlib.sha256(k.encode()).hexdigest(),
        )
        for i, k in enumerate(keys)
    )


def target(
    provider_type: str,
    api_base: str | None,
    keys: Sequence[str],
    models: Sequence[str] = (),
    options: Mapping[str, str] | None = None,
    address: str = "config.ws/c",
    secrets: Mapping[str, str] | None = None,
) -> CheckTarget:
    return CheckTarget(
        address=address,
        provider_type=provider_type,
        api_base=api_base,
        keys=slots(keys),
        models=tuple(models),
        options=dict(options or {}),
        secrets={k: SecretValue(v) for k, v in (secrets or {}).items()},
        secret_fingerprints=tuple(
            f"{k}=test:{hashlib.sha256(v.encode()).hexdigest()}"
            for k, v in sorted((secrets or {}).items())
        ),
    )


# The two ways a run sends: its own transport (llmform.checks.wire), and httpx's client, which
# runs with a proxy in the environment use. Tests of what a failure looks like run on both.
SENDERS = ("wire", "httpx")


def run(
    targets: Sequence[CheckTarget],
    clock: FakeClock | None = None,
    sender: str = "wire",
    **options: Any,
) -> CheckReport:
    """``check_keys`` on a fake clock, through the default transport (``sender="wire"``) or
    through an httpx client like the one a run with a proxy uses, with a shared TLS context."""
    clock = clock or FakeClock()
    options.setdefault("timeout", 5.0)

    async def go() -> CheckReport:
        if sender == "wire":
            return await check_keys(targets, sleep=clock.sleep, clock=clock.clock, **options)
        parallelism = options.get("parallelism", 10)
        limits = httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism)
        async with httpx.AsyncClient(verify=_SSL, limits=limits) as client:
            return await check_keys(
                targets, sleep=clock.sleep, clock=clock.clock, client=client, **options
            )

    return asyncio.run(go())


def self_signed_tls(folder: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 that no CA signed: what a client
    that verifies must refuse."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context
