"""What every provider adapter shares: the adapter protocol, error parsing; outcomes, endpoints
and replies (``checks/outcome.py``, re-exported here).

An adapter knows one API protocol: how to build the cheapest authenticated request that spends
no tokens, and how to read the answer. It does no I/O itself; ``llmform.checks.run`` sends the
requests, retries, rotates keys and caches, so that all of that is written (and tested) once.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

import httpx

from ...secrets.base import SecretValue
from ...secrets.redaction import READ_LIMIT, shown
from ..outcome import KEY_LEVEL as KEY_LEVEL  # re-exported: the adapters import them from here
from ..outcome import TRANSIENT as TRANSIENT
from ..outcome import Endpoint as Endpoint
from ..outcome import Outcome as Outcome
from ..outcome import Reply as Reply


class Unsupported(Exception):
    """The adapter cannot check this kind of credential; the check is skipped, and says why."""


class ProviderAdapter(Protocol):
    """One API protocol. Stateless; registered by provider type in ``llmform.checks.providers``."""

    @property
    def provider_type(self) -> str: ...

    def endpoint(self, api_base: str | None, options: Mapping[str, str]) -> Endpoint:
        """The endpoint a config's keys are checked against (``api_base`` may be None when
        neither config nor factory sets one; the adapter knows the default or raises
        ``ValueError`` with a message for the user)."""
        ...

    def request(
        self, endpoint: Endpoint, key: SecretValue | None, secrets: Mapping[str, SecretValue]
    ) -> httpx.Request:
        """The zero-token check request; the key is revealed only into its headers. Raises
        ``Unsupported`` for credentials the adapter cannot check."""
        ...

    def model_request(
        self,
        endpoint: Endpoint,
        key: SecretValue | None,
        secrets: Mapping[str, SecretValue],
        model: str,
    ) -> httpx.Request | None:
        """A request that confirms one model the list did not name (aliases), or None when the
        list is the last word."""
        ...

    def interpret(self, response: httpx.Response) -> Reply:
        """Classify a response from its body first, its status second."""
        ...


@dataclass(frozen=True)
class ErrorInfo:
    """The fields providers put into an error body, flattened; any may be empty."""

    message: str = ""
    type: str = ""
    code: str = ""
    extra: tuple[str, ...] = field(default=())  # e.g. Google ErrorInfo reasons

    @property
    def text(self) -> str:
        """Everything, lower-cased, for keyword rules."""
        return " ".join((self.message, self.type, self.code, *self.extra)).lower()


def body_json(response: httpx.Response) -> object:
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return None


def error_info(body: object, raw: str = "") -> ErrorInfo:
    """Read the common shapes: ``{"error": {...}}`` (OpenAI, Anthropic, Google),
    ``{"error": "text"}`` (vLLM), ``{"code", "message"}`` (DashScope native, SiliconFlow),
    ``{"message"}`` / ``{"detail"}`` (Mistral, AWS), else the raw text."""
    if not isinstance(body, dict):
        # Bounded for speed only, and beyond what ``describe`` reads: its cut, which drops
        # what a cut may leave of a secret, is the one that counts.
        return ErrorInfo(message=raw.strip()[: 2 * READ_LIMIT])
    inner = body.get("error")
    if isinstance(inner, str):
        return ErrorInfo(message=inner)
    source = inner if isinstance(inner, dict) else body
    reasons = tuple(
        str(d.get("reason", ""))
        for d in source.get("details") or ()
        if isinstance(d, dict) and d.get("reason")
    )
    return ErrorInfo(
        message=_text(source.get("message") or source.get("detail")),
        type=_text(source.get("type") or source.get("status") or body.get("__type")),
        code=_text(source.get("code")),
        extra=reasons,
    )


def _text(value: object) -> str:
    return "" if value is None else str(value)


def names(items: object, key: str) -> frozenset[str] | None:
    """``[{key: name}, ...]`` as a set of names, None if the body is not that shape."""
    if not isinstance(items, list):
        return None
    found = {str(item[key]) for item in items if isinstance(item, dict) and key in item}
    return frozenset(found)


def key_header(key: SecretValue | None, name: str, prefix: str = "") -> dict[str, str]:
    """The one header that carries the key (none without a key); revealed only into it."""
    return {} if key is None else {name: prefix + key.reveal()}


def bearer(key: SecretValue | None) -> dict[str, str]:
    return key_header(key, "Authorization", "Bearer ")


class ListIsFinal:
    """For adapters whose model list is the last word: no model is confirmed one by one."""

    def model_request(
        self,
        endpoint: Endpoint,
        key: SecretValue | None,
        secrets: Mapping[str, SecretValue],
        model: str,
    ) -> httpx.Request | None:
        return None


def get(
    url: str, headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None
) -> httpx.Request:
    """A body-less GET, the way every check is sent (``params``, as in httpx, replace any
    query the URL has)."""
    query = None if params is None else tuple(params.items())
    return httpx.Request("GET", _parsed(url, query), headers=headers)


@functools.lru_cache(maxsize=1024)
def _parsed(url: str, params: tuple[tuple[str, str], ...] | None) -> httpx.URL:
    # httpx parses a URL in pure Python (~30 µs, most of building a request); a run checks
    # many keys against the same few URLs, so each is parsed once. URLs are immutable.
    return httpx.URL(url) if params is None else httpx.URL(url, params=dict(params))


def model_get(url: str, model: str, headers: Mapping[str, str]) -> httpx.Request:
    """``GET {url}/{model}``: one model confirmed by name, the name escaped as one segment."""
    return get(f"{url}/{quote(model, safe='')}", headers)


def listed(
    status: int,
    body: object,
    field: str,
    key: str,
    widen: Callable[[frozenset[str]], frozenset[str] | None] = lambda found: found,
    what: str = "a model list",
) -> Reply:
    """A success answer that is the whole model list, ``{field: [{key: name}, ...]}``: VALID
    with the names (``widen`` adds the other names a model is configured by, or drops a list
    that cannot prove a model absent), or ERROR when the body is not that shape."""
    found = names(body.get(field), key) if isinstance(body, dict) else None
    if found is None:
        return Reply(Outcome.ERROR, f"HTTP {status}: not {what}", status)
    return Reply(Outcome.VALID, "", status, widen(found))


def listed_page(
    status: int,
    body: object,
    field: str,
    key: str,
    next_page: str,
    absent: list[object] | None = None,
    rename: Callable[[str], str] = str,
) -> Reply:
    """A success answer that may be one page of the model list, ``{field: [{key: name}, ...],
    next_page: ...}``: VALID, with the names only when the page is the whole list. A further
    page cannot prove a model absent, so then no list is given and the adapter's
    ``model_request`` confirms configured models one by one. ``absent`` stands for a missing
    ``field``."""
    if not isinstance(body, dict):
        return Reply(Outcome.ERROR, f"HTTP {status}: not JSON", status)
    found = names(body.get(field, absent), key)
    if found is None or body.get(next_page):
        return Reply(Outcome.VALID, "", status)
    return Reply(Outcome.VALID, "", status, frozenset(rename(n) for n in found))


def any_in(text: str, words: Iterable[str]) -> bool:
    return any(word in text for word in words)


QUOTA_WORDS = (
    "insufficient_quota",
    "exceeded your current quota",
    "quota exceeded",
    "free allocated quota",
    "insufficient balance",
    "insufficient_balance",
    "balance",
    "billing",
    "credit",
    "arrearage",
    "overdue",
)


def http_error(status: int, info: ErrorInfo) -> Reply:
    """The fallback classification by status, once a provider's own rules did not decide."""
    detail = describe(status, info)
    if status in (401,):
        return Reply(Outcome.INVALID_KEY, detail, status)
    if status == 402:
        return Reply(Outcome.OUT_OF_QUOTA, detail, status)
    if status == 403:
        return Reply(Outcome.NO_PERMISSION, detail, status)
    if status == 429:
        return Reply(Outcome.RATE_LIMITED, detail, status)
    if status == 404:
        return Reply(Outcome.ERROR, detail + " (is api_base right?)", status)
    if 300 <= status < 400:  # never followed: the key would go wherever it points
        return Reply(
            Outcome.ERROR, detail + " (a redirect, not followed; is api_base right?)", status
        )
    return Reply(Outcome.ERROR, detail, status, transient=status in (408, 409) or status >= 500)


def describe(status: int, info: ErrorInfo) -> str:
    """A short, key-free account of an error: status, type/code, and the redacted message."""
    parts = [f"HTTP {status}"]
    for label in (info.type, info.code):
        if label and label not in parts and label != str(status):
            parts.append(label)
    text = " ".join(parts)
    if info.message:
        text += ": " + info.message
    return clean_detail(text)


# Providers echo part of a rejected key ("Incorrect API key provided: sk-abc***wxyz",
# "Your api key: ****wxyz is invalid"); any word carrying a mask or a long key-like run goes.
_KEYISH = re.compile(r"\S*(?:\*{2,}|…|\.{3})\S*|\b(?:sk|ak|key)-[\w-]{6,}|\b[\w-]{32,}")


def clean_detail(text: str) -> str:
    """What of a provider's text may be shown: every secret the run holds redacted in every
    form it may be quoted in, any word that looks like a masked or a whole key masked too, on
    one printable line, and only then cut short (``llmform.secrets.redaction.shown``)."""
    return shown(text, mask=_KEYISH)
