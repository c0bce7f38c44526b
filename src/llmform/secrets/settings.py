"""How to reach and log in to Vault: one frozen record, built from the environment or by hand.

The Vault CLI's variables mean what they mean there. hvac reads some of them itself, but only
``VAULT_ADDR``/``VAULT_TOKEN``/``VAULT_CACERT`` and only at import time, and it ignores
``VAULT_NAMESPACE`` and ``VAULT_SKIP_VERIFY``, so everything is mapped here explicitly instead:

==============================  =================================================================
``VAULT_ADDR``                  server address, e.g. ``https://vault.example.com:8200`` (required)
``VAULT_TOKEN``                 token for ``token`` auth; else the file ``~/.vault-token``
``VAULT_NAMESPACE``             namespace sent as ``X-Vault-Namespace`` on every request
``VAULT_CACERT``/``VAULT_CAPATH``  CA bundle file / directory that signs the server certificate
``VAULT_CLIENT_CERT``/``_KEY``  client certificate for mutual TLS
``VAULT_SKIP_VERIFY``           ``true`` disables certificate checks (never in production)
``VAULT_CLIENT_TIMEOUT``        seconds per request (default 30)
``VAULT_MAX_RETRIES``           retries of a 429/503 answer (default 5), with exponential backoff
==============================  =================================================================

llmform's own variables choose the login method:

================================  ===============================================================
``LLMFORM_VAULT_AUTH``            ``token`` (default), ``approle``, ``jwt`` or ``userpass``
``LLMFORM_VAULT_AUTH_PATH``       where the method is mounted (default: the method's name)
``LLMFORM_VAULT_ROLE_ID``         AppRole role_id
``LLMFORM_VAULT_SECRET_ID``       AppRole secret_id (or ``..._SECRET_ID_FILE``: a file holding it)
``LLMFORM_VAULT_ROLE``            JWT role
``LLMFORM_VAULT_JWT``             the JWT itself (or ``..._JWT_FILE``: a file holding it); when
                                  neither is set inside GitHub Actions, the job's OIDC token is
                                  fetched from ``ACTIONS_ID_TOKEN_REQUEST_URL`` with
                                  ``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` (needs ``id-token: write``)
``LLMFORM_VAULT_JWT_AUDIENCE``    audience asked of GitHub for that token (the role's
                                  ``bound_audiences``); default: GitHub's own default
``LLMFORM_VAULT_USERNAME``        userpass user
``LLMFORM_VAULT_PASSWORD``        userpass password
``LLMFORM_VAULT_CONCURRENCY``     parallel reads (default 4, at most 16)
================================  ===============================================================
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..desired.secret_shapes import url_may_hold_secret
from ..files import read_at_most
from .base import SecretValue, value_problem
from .errors import VaultConfigError

_N = TypeVar("_N", int, float)

AUTH_METHODS = ("token", "approle", "jwt", "userpass")

_TRUE = {"1", "t", "true"}
_FALSE = {"0", "f", "false"}


@dataclass(frozen=True)
class VaultSettings:
    """Everything the Vault resolver needs to connect; credentials are masked ``SecretValue``s."""

    addr: str | None = None
    namespace: str | None = None
    # True: the system CA store; a str: a CA file or directory; False: no verification.
    verify: bool | str = True
    client_cert: tuple[str, str] | None = None
    timeout: float = 30.0
    max_retries: int = 5
    concurrency: int = 4
    auth: str = "token"
    auth_path: str | None = None
    token: SecretValue | None = None
    role_id: str | None = None
    secret_id: SecretValue | None = None
    role: str | None = None
    jwt: SecretValue | None = None
    jwt_audience: str | None = None
    github_oidc_url: str | None = None
    github_oidc_token: SecretValue | None = None
    username: str | None = None
    password: SecretValue | None = None
    # A renewable token with less than this many seconds left is renewed before the reads.
    renew_below: int = 600
    renew_increment: int = 3600

    @property
    def mount_of_auth(self) -> str:
        return (self.auth_path or self.auth).strip("/")


def settings_from_env(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> VaultSettings:
    """Read the Vault CLI's and llmform's variables (see the module docstring).

    Raises ``VaultConfigError`` for a malformed value; a missing one is reported when it is needed.
    """
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    def secret(name: str, file_name: str | None = None) -> SecretValue | None:
        value = env.get(name, "")
        if value.strip():
            return SecretValue(value.strip())
        path = get(file_name) if file_name else None
        if path:
            return SecretValue(_read_file(path, file_name or name))
        return None

    auth = (get("LLMFORM_VAULT_AUTH") or "token").lower()
    if auth not in AUTH_METHODS:
        raise VaultConfigError(
            f"LLMFORM_VAULT_AUTH={auth!r} is not a login method llmform knows; "
            f"use one of {', '.join(AUTH_METHODS)}"
        )

    token = _header_safe(secret("VAULT_TOKEN"), "VAULT_TOKEN")
    if token is None:
        token_file = (home if home is not None else _home(env)) / ".vault-token"
        if token_file.is_file():
            text = _read_file(str(token_file), "~/.vault-token", empty_ok=True)
            token = _header_safe(SecretValue(text), str(token_file)) if text else None

    verify: bool | str = True
    if _bool(env, "VAULT_SKIP_VERIFY"):
        verify = False
    elif get("VAULT_CACERT"):
        verify = get("VAULT_CACERT") or True
    elif get("VAULT_CAPATH"):
        verify = get("VAULT_CAPATH") or True

    cert, key = get("VAULT_CLIENT_CERT"), get("VAULT_CLIENT_KEY")
    if bool(cert) != bool(key):
        raise VaultConfigError("set both VAULT_CLIENT_CERT and VAULT_CLIENT_KEY, or neither")

    return VaultSettings(
        addr=_server_address((get("VAULT_ADDR") or "").rstrip("/") or None),
        namespace=(get("VAULT_NAMESPACE") or "").strip("/") or None,
        verify=verify,
        client_cert=(cert, key) if cert and key else None,
        timeout=_number(env, "VAULT_CLIENT_TIMEOUT", 30.0, float),
        max_retries=_number(env, "VAULT_MAX_RETRIES", 5, int),
        concurrency=min(16, max(1, _number(env, "LLMFORM_VAULT_CONCURRENCY", 4, int))),
        auth=auth,
        auth_path=get("LLMFORM_VAULT_AUTH_PATH"),
        token=token,
        role_id=get("LLMFORM_VAULT_ROLE_ID"),
        secret_id=secret("LLMFORM_VAULT_SECRET_ID", "LLMFORM_VAULT_SECRET_ID_FILE"),
        role=get("LLMFORM_VAULT_ROLE"),
        jwt=secret("LLMFORM_VAULT_JWT", "LLMFORM_VAULT_JWT_FILE"),
        jwt_audience=get("LLMFORM_VAULT_JWT_AUDIENCE"),
        github_oidc_url=get("ACTIONS_ID_TOKEN_REQUEST_URL"),
        github_oidc_token=_header_safe(
            secret("ACTIONS_ID_TOKEN_REQUEST_TOKEN"), "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
        ),
        username=get("LLMFORM_VAULT_USERNAME"),
        password=secret("LLMFORM_VAULT_PASSWORD"),
    )


def _server_address(addr: str | None) -> str | None:
    """``VAULT_ADDR``, which every Vault message names, refused (and not quoted) when it holds
    what may be a secret: a user:password@, a query or fragment (``?token=``), a key-shaped
    part, or a token set in the wrong variable."""
    if addr is None:
        return None
    if url_may_hold_secret(addr):
        raise VaultConfigError(
            "VAULT_ADDR must be the server's address only, e.g. https://vault.example.com:8200 "
            "(not shown: it holds a user:password@, a query or fragment, or what looks like a "
            "key); log in with VAULT_TOKEN or LLMFORM_VAULT_AUTH and its variables instead"
        )
    return addr


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


# A token, a secret_id or a JWT is a few KiB at most.
MAX_CREDENTIAL_FILE = 1 << 20


def _read_file(path: str, variable: str, empty_ok: bool = False) -> str:
    try:
        raw = read_at_most(path, MAX_CREDENTIAL_FILE)
    except OSError as exc:
        raise VaultConfigError(f"{variable}={path}: cannot read it ({exc.strerror})") from None
    if raw is None:
        raise VaultConfigError(
            f"{variable}={path}: the file is larger than 1 MiB, which no credential is; is it "
            "the right file?"
        )
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise VaultConfigError(f"{variable}={path}: the file is not UTF-8 text") from None
    if not text and not empty_ok:
        raise VaultConfigError(f"{variable}={path}: the file is empty")
    return text


def _header_safe(value: SecretValue | None, source: str) -> SecretValue | None:
    """A token sent in an HTTP header must be plain ASCII: say so, naming where it came from
    and never the value (requests' own error would quote the header)."""
    if value is not None and (problem := value_problem(value.reveal())) is not None:
        raise VaultConfigError(f"the token in {source} {problem.replace('the key', 'it')}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    # Go's strconv.ParseBool, as the Vault CLI reads it.
    value = env.get(name, "").strip().lower()
    if not value:
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise VaultConfigError(f"{name}={env[name]!r} is not a boolean; write true or false")


def _number(env: Mapping[str, str], name: str, default: _N, kind: type[_N]) -> _N:
    value = env.get(name, "").strip().removesuffix("s")
    if not value:
        return default
    try:
        number = kind(value)
    except ValueError:
        raise VaultConfigError(f"{name}={env[name]!r} is not a number") from None
    if not math.isfinite(number):  # a NaN or infinite timeout would never time out
        raise VaultConfigError(f"{name}={env[name]!r} is not a finite number")
    if number < 0:
        raise VaultConfigError(f"{name}={env[name]!r} must not be negative")
    return number
