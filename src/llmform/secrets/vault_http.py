"""The hvac client, and the one place where requests to Vault are retried and their failures named.

hvac does not retry, and its exceptions say what HTTP said, not what a user should do. Every call
to Vault goes through ``Caller``: a 429 (quota) or a 503 that is not "sealed" is retried after
the wait the server asks for in ``Retry-After`` (Vault and OpenBao send it on a quota's 429 when
the operator enables rate-limit response headers), else with exponential backoff; sealed,
unreachable and TLS failures become ``VaultUnavailable`` at once, because they fail every
reference of the run alike.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import hvac  # type: ignore[import-untyped]
import requests
from hvac import exceptions as hvac_exc
from requests.adapters import HTTPAdapter

from .errors import VaultConfigError, VaultUnavailable
from .redaction import shown
from .settings import VaultSettings

log = logging.getLogger("llmform.secrets.vault")

_T = TypeVar("_T")

BACKOFF_FIRST = 0.25  # seconds before the first retry; doubles each time
BACKOFF_CAP = 8.0
# The longest Retry-After waited out. A server asking for more (a quota's block_interval) is
# not retried into: the run stops at once and says how long the server wants.
RETRY_AFTER_CAP = 30.0

# hvac raises on a 429 or 503 from the status alone and drops the response, headers and all.
# A response hook on the session keeps that answer's status and Retry-After here; a thread
# sends one request at a time (the resolver's pool included), so per thread it belongs to the
# request the Caller on that thread just made.
_last = threading.local()

# Answers no client can do anything about but wait: a gateway in front of Vault (502, 504) is
# retried like a 503.
_GATEWAY = {502: "502 Bad Gateway", 504: "504 Gateway Timeout"}


def make_client(settings: VaultSettings) -> Any:
    """An ``hvac.Client`` for ``settings`` with its own session (pooled for the thread pool)."""
    if not settings.addr:
        raise VaultConfigError(
            "VAULT_ADDR is not set; export VAULT_ADDR=https://vault.example.com:8200 "
            "(the address your `vault` or `bao` CLI uses)"
        )
    if not settings.addr.startswith(("http://", "https://")):
        raise VaultConfigError(
            f"VAULT_ADDR={settings.addr!r} has no scheme; write https://{settings.addr}"
        )
    _check_tls_files(settings)
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, settings.concurrency))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.hooks["response"].append(_keep_retry_after)
    session.verify = settings.verify
    if settings.client_cert:
        session.cert = settings.client_cert
    if settings.verify is False:
        # The user asked for it (VAULT_SKIP_VERIFY), as with the Vault CLI, which does not warn.
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return hvac.Client(
        url=settings.addr,
        # Not None: hvac would read VAULT_TOKEN or ~/.vault-token behind the settings' back and
        # send that token along with a login meant to replace it. auth.py sets the real one.
        token="",
        verify=settings.verify,
        cert=settings.client_cert,
        timeout=settings.timeout,
        namespace=settings.namespace,
        session=session,
    )


def _check_tls_files(settings: VaultSettings) -> None:
    """The files the TLS settings name, checked before the first request: requests fails on a
    missing one with an OSError of its own, and OpenSSL would read /dev/zero until memory runs
    out."""
    if isinstance(settings.verify, str) and not (
        os.path.isfile(settings.verify) or os.path.isdir(settings.verify)
    ):
        raise VaultConfigError(
            f"VAULT_CACERT or VAULT_CAPATH names {settings.verify}, {_not_a_file(settings.verify)}"
            "; give a PEM file (VAULT_CACERT) or a directory of them (VAULT_CAPATH)"
        )
    for variable, path in zip(
        ("VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY"), settings.client_cert or (), strict=False
    ):
        if not os.path.isfile(path):
            raise VaultConfigError(
                f"{variable}={path}: {_not_a_file(path)}; give the path of a PEM file"
            )


def _not_a_file(path: str) -> str:
    return "not a regular file" if os.path.exists(path) else "no such file"


class Caller:
    """Runs one Vault call with retries on 429/503; ``sleep`` is injectable for tests."""

    def __init__(
        self, settings: VaultSettings, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._settings = settings
        self._sleep = sleep

    def __call__(self, what: str, fn: Callable[[], _T]) -> _T:
        addr = self._settings.addr
        attempt = 0
        while True:
            _last.retry_after = None
            _last.status = None
            try:
                answer = fn()
            except hvac_exc.RateLimitExceeded:
                reason = "429 Too Many Requests (a rate-limit quota)"
                advice = (
                    "lower LLMFORM_VAULT_CONCURRENCY, or ask the operator to raise the quota "
                    "(sys/quotas/rate-limit)"
                )
                if attempt >= self._settings.max_retries:
                    raise VaultUnavailable(
                        f"Vault at {addr} kept answering {reason} to {what} after "
                        f"{attempt} retries; {advice}"
                    ) from None
            except (hvac_exc.VaultDown, hvac_exc.BadGateway, hvac_exc.UnexpectedError) as exc:
                status = getattr(_last, "status", None)
                if isinstance(exc, hvac_exc.VaultDown) and _is_sealed(exc):
                    raise VaultUnavailable(
                        f"Vault at {addr} is sealed; unseal it (`vault operator unseal` or "
                        "`bao operator unseal`, or ask its operator) and run again"
                    ) from None
                if isinstance(exc, hvac_exc.VaultDown):
                    reason = "503 Service Unavailable"
                elif status in _GATEWAY:
                    reason = _GATEWAY[status]
                else:
                    raise VaultUnavailable(_unexpected(addr, what, status, exc)) from None
                advice = "check the server's health (`vault status`) and run again"
                if attempt >= self._settings.max_retries:
                    raise VaultUnavailable(
                        f"Vault at {addr} kept answering {reason} to {what} after {attempt} "
                        f"retries; {advice}"
                    ) from None
            except hvac_exc.VaultNotInitialized:
                raise VaultUnavailable(
                    f"Vault at {addr} is not initialised; initialise and unseal it first"
                ) from None
            except hvac_exc.InternalServerError as exc:
                raise VaultUnavailable(_unexpected(addr, what, 500, exc)) from None
            except requests.exceptions.SSLError as exc:
                raise VaultUnavailable(_tls_message(addr, exc)) from None
            except requests.exceptions.Timeout:
                raise VaultUnavailable(
                    f"Vault at {addr} did not answer {what} within {self._settings.timeout:g}s; "
                    "check the network, or raise VAULT_CLIENT_TIMEOUT"
                ) from None
            except requests.exceptions.ConnectionError as exc:
                raise VaultUnavailable(
                    f"cannot reach Vault at {addr} ({_connection_reason(exc)}); check VAULT_ADDR "
                    "and that the server runs and is reachable from here"
                ) from None
            except (requests.exceptions.RequestException, UnicodeError) as exc:
                # An invalid header or URL: the text would quote it (a token, say); the kind
                # is enough to act on.
                raise VaultConfigError(
                    f"cannot send {what} to Vault at {addr} ({type(exc).__name__}): a Vault "
                    "setting (VAULT_ADDR, VAULT_NAMESPACE, the token or a login credential) "
                    "holds a character HTTP does not allow"
                ) from None
            else:
                if answer is not None and not isinstance(answer, Mapping):
                    raise VaultUnavailable(_not_json(addr, what, answer))
                return answer
            delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2**attempt)
            asked = _last.retry_after
            if asked is not None and asked > RETRY_AFTER_CAP:
                raise VaultUnavailable(
                    f"Vault at {addr} answered {reason} to {what} and asks to wait "
                    f"{asked:g}s before retrying, longer than llmform waits "
                    f"({RETRY_AFTER_CAP:g}s); run again later, or {advice}"
                ) from None
            if asked is not None:
                # Retry-After counts whole seconds and Vault truncates (a window 6.9 s from
                # reopening says 6, one within the second says 0): a second more costs less
                # than a retry refused again.
                delay = asked + 1
            attempt += 1
            log.warning(
                "Vault answered %s to %s; retry %d of %d in %.2fs",
                reason,
                what,
                attempt,
                self._settings.max_retries,
                delay,
            )
            self._sleep(delay)


def _unexpected(addr: str | None, what: str, status: int | None, exc: Exception) -> str:
    code = f"HTTP {status}" if status else "an unexpected status"
    said = server_errors(exc)
    if said.strip().lower().rstrip(".") in _NO_DETAIL:
        # Vault's whole answer to a failure of its own: it repeats the status, and quoted
        # ("...: internal error") it reads as llmform's crash message
        said = "a failure on the server's side, without detail (its log has it)"
    return (
        f"Vault at {addr} answered {what} with {code}: {said}; check the "
        "server's health (`vault status`) and logs, then run again"
    )


_NO_DETAIL = {"internal error", "internal server error"}


def _not_json(addr: str | None, what: str, answer: object) -> str:
    status = getattr(answer, "status_code", None)
    kind = f"HTTP {status} with " if status else ""
    return (
        f"Vault at {addr} answered {what} with {kind}a body that is not Vault's JSON; is "
        "VAULT_ADDR the Vault server itself (not a proxy, a load balancer's page or a web UI)?"
    )


def field(answer: object, *path: str) -> Any:
    """``answer[path[0]][path[1]]...``, or None where a level is missing or not an object: a
    server (or something posing as one) may answer any JSON at all."""
    for name in path:
        if not isinstance(answer, Mapping):
            return None
        answer = answer.get(name)
    return answer


def number(value: object) -> int:
    """An integer field of an answer (a TTL, a version), 0 when it is not one."""
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError, OverflowError):
        return 0


def retry_after_seconds(value: str | None, date: str | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds, or None when there is none or it
    cannot be read. Both forms of RFC 9110: delta-seconds, or an HTTP date, which is measured
    against the answer's own ``Date`` header when it has one (this machine's clock may be off)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(date) if date else None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _keep_retry_after(response: requests.Response, *args: object, **kwargs: object) -> None:
    _last.status = response.status_code
    if response.status_code in (429, 503):
        headers = response.headers
        _last.retry_after = retry_after_seconds(headers.get("Retry-After"), headers.get("Date"))


def server_errors(exc: Exception) -> str:
    """The server's own error text, without hvac's URL, redacted: a server (or a proxy) may
    quote the request, and a login request holds the password, secret_id or JWT; every secret
    the process holds is masked in every form it may be quoted in (``redaction.shown``)."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list):
        text = "; ".join(str(e).strip() for e in errors if str(e).strip())
        # Vault wraps some messages as "1 error occurred:\n\t* permission denied\n\n".
        text = text.replace("1 error occurred:", "").replace("\n\t*", "").strip()
        if text:
            return shown(text)
    if errors is None and getattr(exc, "text", None):
        return "an answer that is not Vault's JSON (is VAULT_ADDR the Vault server itself?)"
    return type(exc).__name__


def _is_sealed(exc: Exception) -> bool:
    return "sealed" in server_errors(exc).lower()


def _tls_message(addr: str | None, exc: Exception) -> str:
    text = str(exc)
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        hint = "the server does not speak TLS there; is the address http:// rather than https://?"
    elif "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        detail = "certificate not trusted"
        if "hostname" in text and "match" in text:
            detail = "the certificate does not name this host"
        elif "unable to get local issuer" in text or "self-signed" in text:
            detail = "the certificate is signed by a CA this machine does not trust"
        hint = (
            f"{detail}; if the server uses a private CA, set VAULT_CACERT=/path/to/ca.pem "
            "(VAULT_SKIP_VERIFY=true only for local testing)"
        )
    else:
        hint = "check VAULT_CACERT, VAULT_CLIENT_CERT and VAULT_CLIENT_KEY"
    return f"TLS failure talking to Vault at {addr}: {hint}"


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text or "ConnectionRefused" in text:
        return "connection refused: nothing listens at that address"
    if "NameResolution" in text or "Name or service not known" in text or "nodename" in text:
        return "the host name does not resolve"
    if "timed out" in text:
        return "connection timed out"
    return "connection failed"
