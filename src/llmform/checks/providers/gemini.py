"""Google Gemini (AI Studio): ``GET /v1beta/models`` with ``x-goog-api-key``.

Google answers a bad key with **400** ``INVALID_ARGUMENT`` whose ``details`` carry the reason
``API_KEY_INVALID``; status alone would call that a bad request. The key goes in the header, not
in ``?key=``, so that it never appears in a URL that a log or an exception could show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from ...secrets.base import SecretValue
from .base import (
    Endpoint,
    Outcome,
    Reply,
    body_json,
    describe,
    error_info,
    get,
    http_error,
    key_header,
    listed_page,
    model_get,
)


@dataclass(frozen=True)
class Gemini:
    provider_type: str = "gemini"

    def endpoint(self, api_base: str | None, options: Mapping[str, str]) -> Endpoint:
        base = (api_base or "https://generativelanguage.googleapis.com/v1beta").rstrip("/")
        # The OpenAI-compatible base (".../v1beta/openai") shares keys with the native API.
        return Endpoint(self.provider_type, base.removesuffix("/openai"))

    def request(
        self, endpoint: Endpoint, key: SecretValue | None, secrets: Mapping[str, SecretValue]
    ) -> httpx.Request:
        return get(endpoint.api_base + "/models", _auth(key), {"pageSize": "1000"})

    def model_request(
        self,
        endpoint: Endpoint,
        key: SecretValue | None,
        secrets: Mapping[str, SecretValue],
        model: str,
    ) -> httpx.Request | None:
        # asked only when the list came in pages and this model was not on the first
        name = model.removeprefix("models/")
        return model_get(endpoint.api_base + "/models", name, _auth(key))

    def interpret(self, response: httpx.Response) -> Reply:
        body = body_json(response)
        status = response.status_code
        if response.is_success:
            # Google's JSON leaves out an empty repeated field: no "models" is an empty list.
            return listed_page(
                status, body, "models", "name", next_page="nextPageToken", absent=[], rename=_short
            )
        info = error_info(body, response.text)
        detail = describe(status, info)
        reasons = set(info.extra)
        if reasons & {"API_KEY_INVALID", "API_KEY_EXPIRED"} or "api key not valid" in info.text:
            return Reply(Outcome.INVALID_KEY, detail, status)
        if info.type == "UNAUTHENTICATED":
            return Reply(Outcome.INVALID_KEY, detail, status)
        # FAILED_PRECONDITION: the free tier is not offered where the caller is.
        if info.type in ("PERMISSION_DENIED", "FAILED_PRECONDITION") or reasons & {
            "API_KEY_SERVICE_BLOCKED",
            "API_KEY_HTTP_REFERRER_BLOCKED",
            "API_KEY_IP_ADDRESS_BLOCKED",
            "SERVICE_DISABLED",
        }:
            return Reply(Outcome.NO_PERMISSION, detail, status)
        if info.type == "RESOURCE_EXHAUSTED" or status == 429:
            return _exhausted(body, detail, status)
        return http_error(status, info)


def _auth(key: SecretValue | None) -> dict[str, str]:
    return key_header(key, "x-goog-api-key")


def _short(name: str) -> str:
    return name.removeprefix("models/")


def _exhausted(body: object, detail: str, status: int) -> Reply:
    """Per-minute limits pass with time; a per-day quota or a zero limit (no free tier for this
    project) will not within a check's retries."""
    details = _details(body)
    quota_ids = [
        str(v.get("quotaId", ""))
        for d in details
        for v in _list(d.get("violations"))
        if isinstance(v, dict)
    ]
    retry_after = None
    for d in details:
        match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(d.get("retryDelay", "")))
        if match:
            retry_after = float(match.group(1))
    if any("PerDay" in q for q in quota_ids) or "limit: 0" in detail:
        return Reply(Outcome.OUT_OF_QUOTA, detail, status)
    return Reply(Outcome.RATE_LIMITED, detail, status, retry_after=retry_after)


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _details(body: object) -> list[dict[str, object]]:
    error = body.get("error") if isinstance(body, dict) else None
    raw = error.get("details") if isinstance(error, dict) else None
    return [d for d in _list(raw) if isinstance(d, dict)]


ADAPTER = Gemini()
