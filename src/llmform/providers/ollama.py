"""Ollama: ``GET /api/tags`` lists the models pulled on the server; no key locally, a Bearer key
on ollama.com. A model pulled as ``llama3:latest`` is configured as ``llama3`` too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from ..secrets.base import SecretValue
from .base import Endpoint, Outcome, Reply, body_json, error_info, http_error, names
from .openai_style import bearer


@dataclass(frozen=True)
class Ollama:
    provider_type: str = "ollama"

    def endpoint(self, api_base: str | None, options: Mapping[str, str]) -> Endpoint:
        base = (api_base or "http://localhost:11434").rstrip("/")
        # The OpenAI-compatible base (/v1) and the native one (/api) are the same server.
        return Endpoint(self.provider_type, base.removesuffix("/v1").removesuffix("/api"))

    def request(
        self, endpoint: Endpoint, key: SecretValue | None, secrets: Mapping[str, SecretValue]
    ) -> httpx.Request:
        return httpx.Request("GET", endpoint.api_base + "/api/tags", headers=bearer(key))

    def model_request(
        self,
        endpoint: Endpoint,
        key: SecretValue | None,
        secrets: Mapping[str, SecretValue],
        model: str,
    ) -> httpx.Request | None:
        return None

    def interpret(self, response: httpx.Response) -> Reply:
        body = body_json(response)
        status = response.status_code
        if response.is_success:
            listed = names(body.get("models"), "name") if isinstance(body, dict) else None
            if listed is None:
                return Reply(Outcome.ERROR, f"HTTP {status}: not an Ollama tag list", status)
            short = {n.removesuffix(":latest") for n in listed}
            return Reply(Outcome.VALID, "", status, frozenset(listed | short))
        return http_error(status, error_info(body, response.text))


ADAPTER = Ollama()
