"""The OpenAI protocol, shared by every provider that speaks it (OpenAI, DeepSeek, SiliconFlow,
DashScope's compatible mode, vLLM/LocalAI/LiteLLM, Azure with its own auth and paths).

The check is ``GET {base}/models``: authenticated, free, and it lists the models the key can
use. Each provider differs only in a few words of its error bodies and in how it authenticates,
so a provider is an ``OpenAIStyle`` instance with its differences as fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from ...secrets.base import SecretValue
from .base import (
    QUOTA_WORDS,
    Endpoint,
    ErrorInfo,
    ListIsFinal,
    Outcome,
    Reply,
    any_in,
    bearer,
    body_json,
    describe,
    error_info,
    get,
    http_error,
    listed,
)

# A provider-specific rule: may decide an error reply before the shared rules.
Rule = Callable[[int, ErrorInfo], Reply | None]

PERMISSION_WORDS = ("insufficient permissions", "missing scopes", "permission", "accessdenied")
INVALID_KEY_WORDS = (
    "invalid_api_key",
    "invalid api key",
    "incorrect api key",
    "invalidapikey",
    "invalid api-key",
    "api key is invalid",
    "authentication fails",
    "invalid_authentication",
)


def openai_rules(status: int, info: ErrorInfo) -> Reply | None:
    """OpenAI's own words, which its imitators mostly copy."""
    text = info.text
    detail = describe(status, info)
    # A restricted key is a *valid* key: OpenAI says so only in the message, on a 401.
    if status in (401, 403) and any_in(text, PERMISSION_WORDS):
        return Reply(Outcome.NO_PERMISSION, detail, status)
    # insufficient_quota comes as a 429 but no wait cures it; a plain 429 is a rate limit.
    if status in (400, 402, 403, 429) and any_in(text, QUOTA_WORDS):
        return Reply(Outcome.OUT_OF_QUOTA, detail, status)
    if status in (400, 401, 403) and any_in(text, INVALID_KEY_WORDS):
        return Reply(Outcome.INVALID_KEY, detail, status)
    return None


@dataclass(frozen=True)
class OpenAIStyle(ListIsFinal):
    provider_type: str
    default_base: str | None = None
    models_path: str = "/models"
    auth: Callable[[SecretValue | None], dict[str, str]] = bearer
    rules: tuple[Rule, ...] = (openai_rules,)
    # Whether the list is the models the key can call (False for Azure: it lists base models,
    # not deployments, so a configured deployment cannot be found in it).
    lists_models: bool = True
    version_option: str | None = None  # Azure: the ``api-version`` query parameter

    def endpoint(self, api_base: str | None, options: Mapping[str, str]) -> Endpoint:
        base = (api_base or self.default_base or "").rstrip("/")
        if not base:
            raise ValueError(f"a {self.provider_type} config needs api_base")
        extra: tuple[tuple[str, str], ...] = ()
        if self.version_option and options.get(self.version_option):
            extra = ((self.version_option, options[self.version_option]),)
        return Endpoint(self.provider_type, base, extra)

    def request(
        self, endpoint: Endpoint, key: SecretValue | None, secrets: Mapping[str, SecretValue]
    ) -> httpx.Request:
        params = {}
        if self.version_option:
            params["api-version"] = endpoint.option(self.version_option) or ""
        return get(endpoint.api_base + self.models_path, self.auth(key), params)

    def interpret(self, response: httpx.Response) -> Reply:
        status = response.status_code
        body = body_json(response)
        if response.is_success:
            return listed(status, body, "data", "id", self._served)
        info = error_info(body, response.text)
        for rule in self.rules:
            reply = rule(status, info)
            if reply is not None:
                return reply
        return http_error(status, info)

    def _served(self, found: frozenset[str]) -> frozenset[str] | None:
        return found if self.lists_models else None
