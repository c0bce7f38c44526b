"""Ollama: ``GET /api/tags`` lists the models pulled on the server; no key locally, a Bearer key
on ollama.com. A model pulled as ``llama3:latest`` is configured as ``llama3`` too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from ...secrets.base import SecretValue
from .base import (
    Endpoint,
    ListIsFinal,
    Reply,
    bearer,
    body_json,
    error_info,
    get,
    http_error,
    listed,
)


@dataclass(frozen=True)
class Ollama(ListIsFinal):
    provider_type: str = "ollama"

    def endpoint(self, api_base: str | None, options: Mapping[str, str]) -> Endpoint:
        base = (api_base or "http://localhost:11434").rstrip("/")
        # The OpenAI-compatible base (/v1) and the native one (/api) are the same server.
        return Endpoint(self.provider_type, base.removesuffix("/v1").removesuffix("/api"))

    def request(
        self, endpoint: Endpoint, key: SecretValue | None, secrets: Mapping[str, SecretValue]
    ) -> httpx.Request:
        return get(endpoint.api_base + "/api/tags", bearer(key))

    def interpret(self, response: httpx.Response) -> Reply:
        status = response.status_code
        body = body_json(response)
        if response.is_success:
            return listed(status, body, "models", "name", _short_names, "an Ollama tag list")
        return http_error(status, error_info(body, response.text))


def _short_names(found: frozenset[str]) -> frozenset[str]:
    return found | {n.removesuffix(":latest") for n in found}


ADAPTER = Ollama()
