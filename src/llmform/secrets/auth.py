"""Logging in to Vault: token, AppRole, JWT (a given token or GitHub Actions' OIDC one), userpass.

One function per method in an explicit registry. Each leaves the hvac client holding a usable
token, or raises ``VaultAuthError``/``VaultConfigError`` with what to do. A token given directly
is checked with lookup-self (which also tells apart "expired" from "denied by policy" later) and
renewed when it is renewable and runs low.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from hvac import exceptions as hvac_exc  # type: ignore[import-untyped]

from .base import SecretValue
from .errors import VaultAuthError, VaultConfigError
from .settings import VaultSettings
from .vault_http import Caller, field, number, server_errors

log = logging.getLogger("llmform.secrets.vault")

_RELOGIN = {
    "token": "log in again (`vault login` / `bao login` writes ~/.vault-token) or set VAULT_TOKEN",
    "approle": "check LLMFORM_VAULT_ROLE_ID and LLMFORM_VAULT_SECRET_ID (a secret_id can expire "
    "or run out of uses)",
    "jwt": "check LLMFORM_VAULT_ROLE and that the token's issuer, audience and claims match the "
    "role's bound_issuer, bound_audiences and bound_claims",
    "userpass": "check LLMFORM_VAULT_USERNAME and LLMFORM_VAULT_PASSWORD",
}


def login(client: Any, settings: VaultSettings, call: Caller) -> None:
    """Authenticate ``client`` by the method ``settings.auth`` names."""
    try:
        method = _METHODS[settings.auth]
    except KeyError:
        raise VaultConfigError(f"unknown Vault login method {settings.auth!r}") from None
    method(client, settings, call)


def _token(client: Any, settings: VaultSettings, call: Caller) -> None:
    if settings.token is None:
        raise VaultConfigError(
            "no Vault token: set VAULT_TOKEN, run `vault login` (it writes ~/.vault-token), "
            "or choose another method with LLMFORM_VAULT_AUTH=approle|jwt|userpass"
        )
    client.token = settings.token.reveal()
    try:
        info = call("token lookup-self", lambda: client.auth.token.lookup_self())
    except hvac_exc.Forbidden:
        raise VaultAuthError(
            f"Vault at {settings.addr} rejected the token: it is invalid, expired or revoked "
            f"(or lacks the 'default' policy, which allows token lookup-self); {_RELOGIN['token']}"
        ) from None
    except hvac_exc.VaultError as exc:
        raise VaultAuthError(
            f"Vault at {settings.addr} did not accept the token's lookup-self: "
            f"{server_errors(exc)}; {_RELOGIN['token']}"
        ) from None
    ttl = number(field(info, "data", "ttl"))
    if field(info, "data", "renewable") is True and 0 < ttl < settings.renew_below:
        _renew(client, settings, call, ttl)


def _renew(client: Any, settings: VaultSettings, call: Caller, ttl: int) -> None:
    try:
        answer = call(
            "token renew-self",
            lambda: client.auth.token.renew_self(increment=settings.renew_increment),
        )
    except hvac_exc.VaultError as exc:
        # The token still works for ``ttl`` seconds, enough for one run: go on, but say so.
        log.warning("could not renew the Vault token (%s); %ds left", server_errors(exc), ttl)
        return
    new_ttl = number(field(answer, "auth", "lease_duration"))
    log.info("renewed the Vault token: %ds left instead of %ds", new_ttl, ttl)


def _approle(client: Any, settings: VaultSettings, call: Caller) -> None:
    if not settings.role_id:
        raise VaultConfigError("AppRole login needs LLMFORM_VAULT_ROLE_ID (and usually _SECRET_ID)")
    secret_id = settings.secret_id.reveal() if settings.secret_id else None
    _login(
        settings,
        call,
        lambda: client.auth.approle.login(
            role_id=settings.role_id, secret_id=secret_id, mount_point=settings.mount_of_auth
        ),
    )


def _jwt(client: Any, settings: VaultSettings, call: Caller) -> None:
    token = settings.jwt or github_actions_token(settings)
    _login(
        settings,
        call,
        lambda: client.auth.jwt.jwt_login(
            role=settings.role, jwt=token.reveal(), path=settings.mount_of_auth
        ),
    )


def _userpass(client: Any, settings: VaultSettings, call: Caller) -> None:
    if not settings.username or settings.password is None:
        raise VaultConfigError(
            "userpass login needs LLMFORM_VAULT_USERNAME and LLMFORM_VAULT_PASSWORD"
        )
    password = settings.password.reveal()
    _login(
        settings,
        call,
        lambda: client.auth.userpass.login(
            username=settings.username, password=password, mount_point=settings.mount_of_auth
        ),
    )


def _login(settings: VaultSettings, call: Caller, fn: Callable[[], object]) -> None:
    where = f"auth/{settings.mount_of_auth}"
    try:
        call(f"{settings.auth} login at {where}", fn)
    except (hvac_exc.InvalidPath, hvac_exc.Forbidden) as exc:
        # Bad credentials are a 400 with a reason; a bare 403 (or 404) on a login path means
        # nothing there handles logins: Vault answers an unauthenticated request to an unknown
        # route with "permission denied".
        if isinstance(exc, hvac_exc.Forbidden) and server_errors(exc) != "permission denied":
            raise VaultAuthError(
                f"Vault refused the {settings.auth} login at {where}: {server_errors(exc)}; "
                f"{_RELOGIN[settings.auth]}"
            ) from None
        raise VaultAuthError(
            f"no {settings.auth} auth method answers at {where} on Vault at {settings.addr} "
            "(permission denied); set LLMFORM_VAULT_AUTH_PATH to where it is mounted "
            "(`vault auth list`)"
        ) from None
    except hvac_exc.VaultError as exc:  # 400 with a reason, 401, 405, ...
        raise VaultAuthError(
            f"Vault refused the {settings.auth} login at {where}: {server_errors(exc)}; "
            f"{_RELOGIN[settings.auth]}"
        ) from None
    except (KeyError, TypeError):
        # hvac reads the token out of the answer itself: an answer without one is not Vault's.
        raise VaultAuthError(
            f"Vault at {settings.addr} answered the {settings.auth} login at {where} without a "
            "token; is VAULT_ADDR the Vault server itself (not a proxy or a web page)?"
        ) from None
    log.info("logged in to Vault with %s at %s", settings.auth, where)


def github_actions_token(settings: VaultSettings) -> SecretValue:
    """The job's OIDC token from the GitHub Actions runner (needs ``permissions: id-token: write``).

    Fetched with plain ``requests`` so that nothing meant for Vault (its token, its namespace)
    is ever sent to the runner's endpoint.
    """
    if not settings.github_oidc_url:
        raise VaultConfigError(
            "jwt login needs a token: set LLMFORM_VAULT_JWT or LLMFORM_VAULT_JWT_FILE, or run "
            "in GitHub Actions with `permissions: id-token: write` (which provides "
            "ACTIONS_ID_TOKEN_REQUEST_URL)"
        )
    if settings.github_oidc_token is None:
        raise VaultConfigError(
            "ACTIONS_ID_TOKEN_REQUEST_URL is set but ACTIONS_ID_TOKEN_REQUEST_TOKEN is not; "
            "give the job `permissions: id-token: write`"
        )
    url = settings.github_oidc_url
    if settings.jwt_audience:
        url = _add_query(url, {"audience": settings.jwt_audience})
    host = urlsplit(url).netloc
    try:
        response = requests.get(
            url,
            headers={"Authorization": f"bearer {settings.github_oidc_token.reveal()}"},
            timeout=settings.timeout,
        )
    except requests.RequestException:
        raise VaultAuthError(
            f"cannot fetch the GitHub Actions OIDC token from {host}; is this a GitHub runner?"
        ) from None
    if response.status_code != 200:
        raise VaultAuthError(
            f"GitHub Actions refused the OIDC token request (HTTP {response.status_code} from "
            f"{host}); give the job `permissions: id-token: write`"
        )
    try:
        value = response.json()["value"]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str) or not value:
        raise VaultAuthError(f"the GitHub Actions OIDC answer from {host} holds no token")
    return SecretValue(value)


def _add_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


_METHODS: dict[str, Callable[[Any, VaultSettings, Caller], None]] = {
    "token": _token,
    "approle": _approle,
    "jwt": _jwt,
    "userpass": _userpass,
}
