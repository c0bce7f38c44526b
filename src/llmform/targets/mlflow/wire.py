"""The HTTP edge of the MLflow client: one request, its JSON object or an ``MlflowError``.

Credentials are the MLflow tracking client's own (``Credentials.from_environment``): Basic auth
from ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` when both are set, else a Bearer
``MLFLOW_TRACKING_TOKEN``, the precedence of MLflow's client. They and the secret values sent
are held as ``SecretValue`` (masked in any repr) and revealed only as the request is built;
every text of an error passes redaction, and no exception's own text is shown (httpx's may quote
the request), so neither shows in an exception, a repr or a log. Redirects are not followed: a
3xx would hand the credentials to another host.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx

from ...console import printable
from ...secrets.base import SecretValue
from ...secrets.redaction import redact, shown
from ...version import __version__
from . import records
from .errors import (
    MlflowAlreadyExistsError,
    MlflowAnswerError,
    MlflowApiError,
    MlflowAuthError,
    MlflowError,
    MlflowNotFoundError,
    MlflowUnreachableError,
)
from .records import Json, MalformedAnswer

WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
DEFAULT_TIMEOUT = 30.0
Record = TypeVar("Record")


@dataclass(frozen=True, repr=False)
class Credentials:
    """MLflow tracking credentials: a token, or a user name and password, or none."""

    token: SecretValue | None = None
    username: str = ""
    password: SecretValue | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if env is None else env
        token = env.get("MLFLOW_TRACKING_TOKEN", "")
        password = env.get("MLFLOW_TRACKING_PASSWORD", "")
        return cls(
            token=SecretValue(token) if token else None,
            username=env.get("MLFLOW_TRACKING_USERNAME", ""),
            password=SecretValue(password) if password else None,
        )

    def auth(self) -> httpx.Auth | None:
        if self.username and self.password is not None:
            return _RevealedAuth(lambda: _basic(self.username, self.password))
        if self.token is not None:
            token = self.token
            return _RevealedAuth(lambda: f"Bearer {token.reveal()}")
        return None

    def values(self) -> tuple[str, ...]:
        """What redaction must hide besides the values held as ``SecretValue`` elsewhere."""
        held = (self.token, self.password)
        return tuple(v.reveal() for v in held if v is not None)

    def __repr__(self) -> str:
        kind = "basic" if self.username and self.password else "token" if self.token else "none"
        return f"Credentials({kind})"


class _RevealedAuth(httpx.Auth):
    """An ``Authorization`` header made as each request is sent (httpx's ``BasicAuth`` would
    keep the encoded password in a plain attribute for the client's lifetime)."""

    def __init__(self, header: Callable[[], str]) -> None:
        self._header = header

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header()
        yield request


def _basic(username: str, password: SecretValue | None) -> str:
    pair = f"{username}:{password.reveal() if password else ''}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def display_url(url: str) -> str:
    """``url`` as it may be shown: without user name, password, query or fragment."""
    try:
        parsed = httpx.URL(url)
        shown_url = str(parsed.copy_with(username=None, password=None, query=None, fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "the MLflow server"
    return printable(redact(shown_url.rstrip("/")))


class Wire:
    """Requests to one MLflow server. ``url``: the server as it may be shown; ``requests``: how
    many HTTP requests were sent."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = display_url(url)
        self.timeout = timeout
        self.requests = 0
        try:  # a query or fragment would end up after each call's path
            parsed = httpx.URL(url)
            base = parsed.copy_with(username=None, password=None, query=None, fragment=None)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise MlflowError(self.url, "connect", "not a valid URL") from None
        if parsed.username and parsed.password:
            # a user:password@ in the URL is sent as our own auth, never left in the URL that
            # httpx logs each request with
            credentials = Credentials(
                username=parsed.username, password=SecretValue(parsed.password)
            )
        self.credentials = credentials
        self._http = httpx.Client(
            base_url=str(base).rstrip("/"),
            auth=credentials.auth(),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            headers={"User-Agent": f"llmform/{__version__}"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"Wire({self.url!r}, {self.credentials!r})"

    def close(self) -> None:
        self._http.close()

    def list(
        self,
        path: str,
        workspace: str | None,
        key: str,
        read: Callable[[Json], Record],
    ) -> tuple[Record, ...]:
        """Every page of a listing. MLflow omits an empty list (``{}``); a ``next_page_token``,
        should a later MLflow page these lists, is followed rather than silently dropped."""
        found: list[Record] = []
        params: dict[str, str] = {}
        while True:
            answer = self.call("GET", path, workspace, params=params)
            try:
                found += [read(item) for item in records.objects_of(answer, key)]
                token = records.text_of(answer, "next_page_token", "")
            except MalformedAnswer as exc:
                raise self._malformed(f"GET {path}", workspace, exc) from None
            if not token:
                return tuple(found)
            params = {"page_token": token}

    def one(
        self,
        key: str,
        read: Callable[[Json], Record],
        method: str,
        path: str,
        workspace: str | None,
        body: Mapping[str, object] | None = None,
        params: Mapping[str, str] | None = None,
        secret_values: Mapping[str, SecretValue] | None = None,
    ) -> Record:
        """One call whose answer holds one object under ``key``, read by ``read``."""
        answer = self.call(method, path, workspace, body, params, secret_values)
        try:
            return read(records.object_of(answer, key))
        except MalformedAnswer as exc:
            raise self._malformed(f"{method} {path}", workspace, exc) from None

    def _malformed(self, call: str, workspace: str | None, exc: MalformedAnswer) -> MlflowError:
        where = _describe(call, workspace)
        return MlflowAnswerError(self.url, where, f"unexpected answer: {shown(str(exc))}")

    def call(
        self,
        method: str,
        path: str,
        workspace: str | None,
        body: Mapping[str, object] | None = None,
        params: Mapping[str, str] | None = None,
        secret_values: Mapping[str, SecretValue] | None = None,
    ) -> Json:
        """One request; its JSON object, or the MlflowError that says why not. The secret
        values are put into the body here, and only here."""
        call = _describe(f"{method} {path}", workspace)
        headers = {WORKSPACE_HEADER: workspace} if workspace is not None else {}
        payload: dict[str, object] | None = None if body is None else dict(body)
        sent: tuple[str, ...] = ()
        if secret_values:
            sent = tuple(v.reveal() for v in secret_values.values())
            payload = {**(payload or {}), "secret_value": _revealed(secret_values)}
        self.requests += 1
        try:
            response = self._http.request(
                method, path, json=payload, params=params or None, headers=headers
            )
        except httpx.TimeoutException:
            raise MlflowUnreachableError(
                self.url, call, f"no answer within {self.timeout:g} s"
            ) from None
        except httpx.ConnectError:
            raise MlflowUnreachableError(
                self.url, call, "cannot connect (is the server running, the port right?)"
            ) from None
        except httpx.HTTPError as exc:  # never the exception's text: it may quote the request
            raise MlflowUnreachableError(
                self.url, call, f"the request failed ({type(exc).__name__})"
            ) from None
        return self._answer(response, call, (*sent, *self.credentials.values()))

    def _answer(self, response: httpx.Response, call: str, hidden: tuple[str, ...]) -> Json:
        def clean(text: str) -> str:
            return shown(redact(text, extra=hidden))

        try:
            data: object = response.json() if response.content else {}
        except ValueError:
            data = None
        if response.is_success:
            if isinstance(data, Mapping):
                return data
            text = clean(response.text) or "an empty answer"
            status = response.status_code
            raise MlflowAnswerError(self.url, call, f"HTTP {status}, not JSON: {text}")
        code, message = "", ""
        if isinstance(data, Mapping):
            code = str(data.get("error_code", ""))
            message = str(data.get("message", ""))
        if not code and not message:
            message = response.text or response.reason_phrase
        code, message = clean(code), clean(message)
        status = response.status_code
        detail = f"HTTP {status}{f' {code}' if code else ''}: {message}"
        kind: type[MlflowApiError] = MlflowApiError
        if status in (401, 403):
            kind = MlflowAuthError
            detail += " (check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD)"
        elif code == "RESOURCE_DOES_NOT_EXIST" or status == 404:
            kind = MlflowNotFoundError
        elif code == "RESOURCE_ALREADY_EXISTS":
            kind = MlflowAlreadyExistsError
        raise kind(self.url, call, detail, status, code)


def _describe(call: str, workspace: str | None) -> str:
    where = f" (workspace {workspace})" if workspace is not None else ""
    return printable(f"{call}{where}")


def _revealed(values: Mapping[str, SecretValue]) -> dict[str, str]:
    return {key: value.reveal() for key, value in values.items()}
