"""Anthropic: ``GET /v1/models`` with ``x-api-key`` and ``anthropic-version``.

Errors are ``{"type": "error", "error": {"type": ..., "message": ...}}`` and the type decides.
The list names dated ids only; an alias ("claude-sonnet-4-0") is confirmed one by one with
``GET /v1/models/{id}``, which resolves aliases.
"""

from __future__ import annotations

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

VERSION = "2023-06-01"

_BY_TYPE: dict[str, tuple[Outcome, bool]] = {
    "authentication_error": (Outcome.INVALID_KEY, False),
    "permission_error": (Outcome.NO_PERMISSION, False),
    "billing_error": (Outcome.OUT_OF_QUOTA, False),
    "rate_limit_error": (Outcome.RATE_LIMITED, False),
    "overloaded_error": (Outcome.ERROR, True),
    "api_error": (Outcome.ERROR, True),
}


@dataclass(frozen=True)
class Anthropic:
    provider_type: str = "anthropic"

    def endpoint(self, api_base: str | None, options: Mapping[str, str]) -> Endpoint:
        base = (api_base or "https://api.anthropic.com").rstrip("/")
        # The SDK's base has no /v1; some configs copy the full path.
        base = base.removesuffix("/v1")
        return Endpoint(self.provider_type, base)

    def _headers(self, key: SecretValue | None) -> dict[str, str]:
        return {"anthropic-version": VERSION, **key_header(key, "x-api-key")}

    def request(
        self, endpoint: Endpoint, key: SecretValue | None, secrets: Mapping[str, SecretValue]
    ) -> httpx.Request:
        return get(endpoint.api_base + "/v1/models", self._headers(key), {"limit": "1000"})

    def model_request(
        self,
        endpoint: Endpoint,
        key: SecretValue | None,
        secrets: Mapping[str, SecretValue],
        model: str,
    ) -> httpx.Request | None:
        return model_get(endpoint.api_base + "/v1/models", model, self._headers(key))

    def interpret(self, response: httpx.Response) -> Reply:
        body = body_json(response)
        status = response.status_code
        if response.is_success:
            # A body without "data" is a single model (the alias check): valid, no list.
            return listed_page(status, body, "data", "id", next_page="has_more")
        info = error_info(body, response.text)
        if info.type in _BY_TYPE:
            outcome, transient = _BY_TYPE[info.type]
            return Reply(outcome, describe(status, info), status, transient=transient)
        # "Your credit balance is too low" arrives as a 400 invalid_request_error.
        if "credit balance" in info.text:
            return Reply(Outcome.OUT_OF_QUOTA, describe(status, info), status)
        if status == 529:
            return Reply(Outcome.ERROR, describe(status, info), status, transient=True)
        return http_error(status, info)


ADAPTER = Anthropic()
