"""Optional encryption at rest, for registries whose applications need the value itself.

By default a store keeps references and keyed fingerprints only. With a configured key, a
value can be stored sealed instead: authenticated encryption, bound to a ``context`` (say, the
config's address and the slot) so that a sealed value copied onto another row fails to open.

Two ciphers behind one Protocol:

- ``LocalCipher``: AES-256-GCM from ``cryptography`` with a 32-byte key the operator keeps
  (``LLMFORM_ENCRYPTION_KEY``, base64; ``generate_key()`` makes one).
- ``TransitCipher``: Vault's Transit engine holds the key (``LLMFORM_TRANSIT_KEY``, on the mount
  ``LLMFORM_TRANSIT_MOUNT``, default ``transit``); the context is Transit's associated data;
  rotating the key in Vault keeps old values readable.

Sealed text names its cipher (``llmform:aesgcm:v1:…``, ``llmform:transit:<mount>/<key>:vault:v1:…``)
so a reader knows what opens it. ``sealing.seal_changes`` seals a plan's values for the store
(the SQLite registry keeps them in ``config_secrets.ciphertext``), with the context
``config.<workspace>/<name>#<slot>``; ``llmform.registry`` opens them for applications.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from ..errors import LlmformError
from .base import SecretValue
from .settings import VaultSettings, settings_from_env
from .transit import TransitClient

LOCAL_PREFIX = "llmform:aesgcm:v1:"
TRANSIT_PREFIX = "llmform:transit:"
_NONCE = 12


class CipherError(LlmformError):
    """A value cannot be sealed or opened; the message never holds the value or the key."""


class Cipher(Protocol):
    def encrypt(self, value: SecretValue, context: str) -> str: ...

    def decrypt(self, sealed: str, context: str) -> SecretValue: ...


def generate_key() -> str:
    """A fresh key for ``LocalCipher``, as the base64 text ``LLMFORM_ENCRYPTION_KEY`` holds."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


MAKE_KEY = (
    'it is 32 random bytes in base64, made with: python3 -c "from llmform.secrets.crypto '
    'import generate_key; print(generate_key())"'
)


class LocalCipher:
    """AES-256-GCM with a random 96-bit nonce per value and the context as associated data."""

    def __init__(self, key: SecretValue) -> None:
        try:
            raw = base64.b64decode(key.reveal().encode(), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise CipherError(f"the encryption key is not base64 text; {MAKE_KEY}") from None
        if len(raw) != 32:
            raise CipherError(f"the encryption key holds {len(raw)} bytes, not 32; {MAKE_KEY}")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(raw)

    def __repr__(self) -> str:
        return "LocalCipher(key=***)"

    def encrypt(self, value: SecretValue, context: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, value.reveal().encode(), context.encode())
        return LOCAL_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, sealed: str, context: str) -> SecretValue:
        from cryptography.exceptions import InvalidTag

        if not sealed.startswith(LOCAL_PREFIX):
            raise CipherError(f"not a value sealed by the local key ({_kind(sealed)})")
        try:
            blob = base64.urlsafe_b64decode(sealed[len(LOCAL_PREFIX) :].encode())
            plain = self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], context.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise CipherError(
                f"cannot open the value sealed for {context!r}: it was sealed with another key "
                "or for another place, or it was altered"
            ) from None
        return SecretValue(plain.decode())


class TransitCipher:
    """Vault Transit encrypt/decrypt; one client, logged in once, for the cipher's lifetime."""

    def __init__(
        self,
        settings: VaultSettings,
        key: str,
        mount: str = "transit",
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.key = key.strip("/")
        self.mount = mount.strip("/")
        self._transit = TransitClient(settings, sleep)

    def __repr__(self) -> str:
        return f"TransitCipher({self.mount}/{self.key} at {self.settings.addr})"

    def encrypt(self, value: SecretValue, context: str) -> str:
        answer = self._post(
            self.mount,
            self.key,
            "encrypt",
            {"plaintext": _b64(value.reveal()), "associated_data": _b64(context)},
            context,
        )
        ciphertext = answer.get("ciphertext")
        if not isinstance(ciphertext, str) or not ciphertext.startswith("vault:"):
            raise CipherError(f"Vault Transit gave no ciphertext for {context!r}")
        return f"{TRANSIT_PREFIX}{self.mount}/{self.key}:{ciphertext}"

    def decrypt(self, sealed: str, context: str) -> SecretValue:
        if not sealed.startswith(TRANSIT_PREFIX) or ":" not in sealed[len(TRANSIT_PREFIX) :]:
            raise CipherError(f"not a value sealed by Vault Transit ({_kind(sealed)})")
        where, _, ciphertext = sealed[len(TRANSIT_PREFIX) :].partition(":")
        mount, _, key = where.rpartition("/")
        answer = self._post(
            mount,
            key,
            "decrypt",
            {"ciphertext": ciphertext, "associated_data": _b64(context)},
            context,
        )
        try:
            return SecretValue(base64.b64decode(str(answer["plaintext"])).decode())
        except (KeyError, binascii.Error, ValueError):
            raise CipherError(f"Vault Transit gave no readable plaintext for {context!r}") from None

    def close(self) -> None:
        self._transit.close()

    def _post(
        self, mount: str, key: str, op: str, body: Mapping[str, str], context: str
    ) -> Mapping[str, Any]:
        return self._transit.post(mount, key, op, body, what=f"for {context!r}", error=CipherError)


def cipher_from_env(
    environ: Mapping[str, str] | None = None, settings: VaultSettings | None = None
) -> Cipher | None:
    """The configured cipher, or None: without a key the store keeps references only."""
    env = os.environ if environ is None else environ
    local, transit = env.get("LLMFORM_ENCRYPTION_KEY", ""), env.get("LLMFORM_TRANSIT_KEY", "")
    if local.strip() and transit.strip():
        raise CipherError("set LLMFORM_ENCRYPTION_KEY or LLMFORM_TRANSIT_KEY, not both")
    if local.strip():
        try:
            return LocalCipher(SecretValue(local.strip()))
        except CipherError as exc:
            raise CipherError(f"LLMFORM_ENCRYPTION_KEY: {exc}") from None
    if transit.strip():
        if settings is None:
            settings = settings_from_env(env)
        return TransitCipher(
            settings, transit.strip(), env.get("LLMFORM_TRANSIT_MOUNT") or "transit"
        )
    return None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _kind(sealed: str) -> str:
    # Name what the text claims to be, never the text.
    if sealed.startswith(LOCAL_PREFIX):
        return "sealed with a local key"
    if sealed.startswith(TRANSIT_PREFIX):
        return "sealed with Vault Transit"
    return "not sealed text"


@contextmanager
def configured_cipher() -> Iterator[Cipher | None]:
    """The cipher of LLMFORM_ENCRYPTION_KEY / LLMFORM_TRANSIT_KEY, if any, closed after."""
    cipher = cipher_from_env()
    try:
        yield cipher
    finally:
        close = getattr(cipher, "close", None)
        if close is not None:
            close()
