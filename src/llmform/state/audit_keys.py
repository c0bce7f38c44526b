"""The audit chain's seals: how each event's stored hash says what sealed it, and the keys.

A stored hash names its scheme, so every event says how it was sealed and a trail can mix
them (history from before a key was set stays readable):

- ``<64 hex>``: plain SHA-256 over llmform 0.1's canonical form (events of earlier releases);
- ``sha256:<64 hex>``: plain SHA-256, no key set when the event was written;
- ``hmac-sha256:<key id>:<64 hex>``: HMAC-SHA256 with ``LLMFORM_AUDIT_KEY``; the key id (12 hex
  of an HMAC of a fixed text) tells one local key from another without revealing it;
- ``transit:<mount>/<key>:vault:v<N>:<base64>``: an HMAC made by Vault Transit with
  ``LLMFORM_AUDIT_TRANSIT_KEY`` (mount ``LLMFORM_TRANSIT_MOUNT``, default ``transit``); rotating
  the key in Vault keeps older events verifiable.

A plain hash proves only that the events agree with each other: anyone who can write the store
can recompute it. A keyed seal can only be made by whoever holds the key, which never enters
the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import LlmformError
from ..secrets.settings import VaultSettings, settings_from_env
from ..secrets.transit import TransitClient

PLAIN_PREFIX = "sha256:"
HMAC_PREFIX = "hmac-sha256:"
TRANSIT_PREFIX = "transit:"
MIN_KEY_LENGTH = 32
_KEY_ID_TEXT = b"llmform audit key id v1"
_LEGACY = re.compile(r"[0-9a-f]{64}")
_PLAIN = re.compile(r"sha256:[0-9a-f]{64}")
_HMAC = re.compile(r"hmac-sha256:([0-9a-f]{12}):[0-9a-f]{64}")
_TRANSIT = re.compile(r"transit:([^:]+/[^:]+):vault:v[1-9][0-9]*:[A-Za-z0-9+/]+={0,2}")
_BATCH = 500  # events verified per Transit request
_PROBE = b"llmform audit key probe"


class AuditKeyError(LlmformError):
    """The audit key is unusable or cannot seal; the message never holds the key."""


@dataclass(frozen=True)
class Seal:
    """What a stored hash says sealed its event."""

    kind: str  # legacy | plain | hmac | transit | unknown
    key: str = ""  # the local key's id, or Transit's mount/key

    @property
    def keyed(self) -> bool:
        return self.kind in ("hmac", "transit")

    def describe(self) -> str:
        return {
            "legacy": "plain SHA-256 (an earlier llmform)",
            "plain": "plain SHA-256 (no key)",
            "hmac": f"a local LLMFORM_AUDIT_KEY (key id {self.key})",
            "transit": f"the Vault Transit key {self.key}",
        }.get(self.kind, "nothing llmform writes")


def seal_of(stored: str) -> Seal:
    if _LEGACY.fullmatch(stored):
        return Seal("legacy")
    if _PLAIN.fullmatch(stored):
        return Seal("plain")
    if found := _HMAC.fullmatch(stored):
        return Seal("hmac", found.group(1))
    if found := _TRANSIT.fullmatch(stored):
        return Seal("transit", found.group(1))
    return Seal("unknown")


def plain_seal(message: bytes) -> str:
    return PLAIN_PREFIX + hashlib.sha256(message).hexdigest()


class ChainKey(Protocol):
    """A key that seals audit events; it lives outside the store."""

    label: str  # how messages name it, never its value

    def seal(self, message: bytes) -> str: ...

    def owns(self, stored: str) -> bool:
        """Whether ``stored`` claims to be a seal of this very key."""
        ...

    def verify(self, items: Sequence[tuple[bytes, str]]) -> list[bool]:
        """For each (message, stored seal) whether the seal is this key's seal of it."""
        ...

    def close(self) -> None: ...


class LocalChainKey:
    """HMAC-SHA256 with a secret of at least 32 characters from the environment."""

    label = "LLMFORM_AUDIT_KEY"

    def __init__(self, secret: str) -> None:
        secret = secret.strip()
        if len(secret) < MIN_KEY_LENGTH:
            raise AuditKeyError(
                f"LLMFORM_AUDIT_KEY is {len(secret)} characters long; it must be at least "
                f"{MIN_KEY_LENGTH} (make one with: python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        # surrogateescape: any bytes the environment held are part of the key
        self._key = secret.encode("utf-8", "surrogateescape")
        self.key_id = hmac.new(self._key, _KEY_ID_TEXT, hashlib.sha256).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"LocalChainKey(key id {self.key_id})"

    def seal(self, message: bytes) -> str:
        mac = hmac.new(self._key, message, hashlib.sha256).hexdigest()
        return f"{HMAC_PREFIX}{self.key_id}:{mac}"

    def owns(self, stored: str) -> bool:
        return seal_of(stored) == Seal("hmac", self.key_id)

    def verify(self, items: Sequence[tuple[bytes, str]]) -> list[bool]:
        return [
            hmac.compare_digest(self.seal(message).encode(), stored.encode("utf-8", "replace"))
            for message, stored in items
        ]

    def close(self) -> None:
        pass


class TransitChainKey:
    """HMACs made and checked by Vault Transit: the key never leaves Vault. One client, logged
    in once, for the key's lifetime (the way ``secrets.crypto.TransitCipher`` reaches Transit)."""

    def __init__(
        self,
        settings: VaultSettings,
        key: str,
        mount: str = "transit",
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.key = key.strip().strip("/")
        self.mount = mount.strip().strip("/")
        self.label = f"the Vault Transit key {self.mount}/{self.key}"
        if not self.key or ":" in self.key or ":" in self.mount:
            raise AuditKeyError(
                "LLMFORM_AUDIT_TRANSIT_KEY must name a Transit key (a name without ':'), and "
                "LLMFORM_TRANSIT_MOUNT its mount"
            )
        self._transit = TransitClient(settings, sleep)

    def __repr__(self) -> str:
        return f"TransitChainKey({self.mount}/{self.key} at {self.settings.addr})"

    def seal(self, message: bytes) -> str:
        data = self._post("hmac", {"input": _b64(message)})
        mac = data.get("hmac")
        stored = f"{TRANSIT_PREFIX}{self.mount}/{self.key}:{mac}"
        if not isinstance(mac, str) or not self.owns(stored):
            raise AuditKeyError(f"Vault Transit gave no HMAC for the audit events ({self.label})")
        return stored

    def owns(self, stored: str) -> bool:
        return seal_of(stored) == Seal("transit", f"{self.mount}/{self.key}")

    def verify(self, items: Sequence[tuple[bytes, str]]) -> list[bool]:
        verdicts: list[bool] = []
        cut = len(f"{TRANSIT_PREFIX}{self.mount}/{self.key}:")
        for start in range(0, len(items), _BATCH):
            batch = items[start : start + _BATCH]
            body = [{"input": _b64(message), "hmac": stored[cut:]} for message, stored in batch]
            results = self._post("verify", {"batch_input": body}).get("batch_results")
            if not isinstance(results, list) or len(results) != len(batch):
                raise AuditKeyError(f"Vault Transit did not verify the audit events ({self.label})")
            verdicts += [isinstance(r, Mapping) and r.get("valid") is True for r in results]
        return verdicts

    def close(self) -> None:
        self._transit.close()

    def _post(self, op: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return self._transit.post(
            self.mount, self.key, op, body, what="the audit events", error=AuditKeyError
        )


def chain_key_from_env(
    environ: Mapping[str, str] | None = None, settings: VaultSettings | None = None
) -> ChainKey | None:
    """The audit key ``LLMFORM_AUDIT_KEY`` or ``LLMFORM_AUDIT_TRANSIT_KEY`` configure, or None
    (events are then chained by plain SHA-256, which proves only internal consistency)."""
    env = os.environ if environ is None else environ
    local = env.get("LLMFORM_AUDIT_KEY", "")
    transit = env.get("LLMFORM_AUDIT_TRANSIT_KEY", "")
    for name, value in (("LLMFORM_AUDIT_KEY", local), ("LLMFORM_AUDIT_TRANSIT_KEY", transit)):
        # Empty is unset (CI expands a missing secret to ""), but blanks were meant as a key:
        # chaining without one would silently drop the protection the variable asked for.
        if value and not value.strip():
            raise AuditKeyError(
                f"{name} holds only whitespace: set it to the key, or unset it (an empty "
                "value counts as unset)"
            )
    if local.strip() and transit.strip():
        raise AuditKeyError("set LLMFORM_AUDIT_KEY or LLMFORM_AUDIT_TRANSIT_KEY, not both")
    if local.strip():
        return LocalChainKey(local)
    if transit.strip():
        if settings is None:
            settings = settings_from_env(env)
        return TransitChainKey(settings, transit, env.get("LLMFORM_TRANSIT_MOUNT") or "transit")
    return None


@contextmanager
def configured_chain_key(
    environ: Mapping[str, str] | None = None, *, probe: bool = False
) -> Iterator[ChainKey | None]:
    """``chain_key_from_env``, closed after (a Transit key holds a Vault connection). With
    ``probe``, the key seals a test message first, so that an unreachable Vault or a missing
    key or permission fails the command before it has touched anything."""
    key = chain_key_from_env(environ)
    try:
        if key is not None and probe:
            key.seal(_PROBE)
        yield key
    finally:
        if key is not None:
            key.close()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
