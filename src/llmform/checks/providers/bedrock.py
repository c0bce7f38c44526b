"""AWS Bedrock: ``GET /foundation-models`` on the control plane of the config's region.

A Bedrock API key goes in ``Authorization: Bearer``. An access key id with ``api_secret`` needs
SigV4 signing (``sigv4.py``). The list proves the credential and names the foundation models;
it does not prove InvokeModel rights or model access, which AWS reports only on invoke.
AWS names the error in ``x-amzn-ErrorType`` (or ``__type`` in the body) and that decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from ...secrets.base import SecretValue
from .base import (
    Endpoint,
    ListIsFinal,
    Outcome,
    Reply,
    bearer,
    body_json,
    describe,
    error_info,
    get,
    http_error,
    listed,
)
from .sigv4 import sign

_BY_TYPE: dict[str, Outcome] = {
    "UnrecognizedClientException": Outcome.INVALID_KEY,
    "InvalidSignatureException": Outcome.INVALID_KEY,
    "IncompleteSignature": Outcome.INVALID_KEY,
    "ExpiredTokenException": Outcome.INVALID_KEY,
    "AccessDeniedException": Outcome.NO_PERMISSION,
    "ThrottlingException": Outcome.RATE_LIMITED,
    "TooManyRequestsException": Outcome.RATE_LIMITED,
    "ServiceQuotaExceededException": Outcome.OUT_OF_QUOTA,
}
# Cross-region inference profiles prefix a foundation model id; the list has the bare id.
_PROFILE_PREFIXES = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")


@dataclass(frozen=True)
class Bedrock(ListIsFinal):
    provider_type: str = "bedrock"

    def endpoint(self, api_base: str | None, options: Mapping[str, str]) -> Endpoint:
        region = options.get("region", "")
        if not region:
            raise ValueError("a bedrock config needs options.region")
        base = api_base or f"https://bedrock.{region}.amazonaws.com"
        # The runtime host serves invokes only; the model list is on the control plane.
        base = base.rstrip("/").replace("://bedrock-runtime.", "://bedrock.")
        return Endpoint(self.provider_type, base, (("region", region),))

    def request(
        self, endpoint: Endpoint, key: SecretValue | None, secrets: Mapping[str, SecretValue]
    ) -> httpx.Request:
        request = get(endpoint.api_base + "/foundation-models")
        secret = secrets.get("api_secret")
        if key is not None and secret is not None:
            sign(request, key, secret, endpoint.option("region") or "", "bedrock")
        else:
            request.headers.update(bearer(key))
        return request

    def interpret(self, response: httpx.Response) -> Reply:
        status = response.status_code
        body = body_json(response)
        if response.is_success:
            return listed(status, body, "modelSummaries", "modelId", _with_profiles)
        info = error_info(body, response.text)
        error_type = response.headers.get("x-amzn-errortype", "") or info.type
        error_type = error_type.split(":", 1)[0].rsplit("#", 1)[-1]
        detail = describe(status, info)
        if error_type and error_type not in detail:
            detail = detail.replace(f"HTTP {status}", f"HTTP {status} {error_type}", 1)
        if error_type in _BY_TYPE:
            return Reply(_BY_TYPE[error_type], detail, status)
        # A malformed or unknown Bedrock API key is refused with a message, not a type.
        if status in (401, 403) and "api key" in info.text:
            return Reply(Outcome.INVALID_KEY, detail, status)
        return http_error(status, info)


def _with_profiles(found: frozenset[str]) -> frozenset[str]:
    return found | {f"{p}.{m}" for p in _PROFILE_PREFIXES for m in found}


ADAPTER = Bedrock()
