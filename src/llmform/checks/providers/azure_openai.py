"""Azure OpenAI: ``GET {endpoint}/openai/models?api-version=...`` with an ``api-key`` header.

That list holds the base models the resource may deploy, not the deployments a config names, so
it proves the key but cannot report a missing deployment (deployments are listed only through
the ARM management plane, with other credentials). A 401 says "invalid subscription key or
wrong API endpoint": Azure itself cannot tell the two apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...secrets.base import SecretValue
from .base import Endpoint, key_header
from .openai_style import OpenAIStyle


def api_key_header(key: SecretValue | None) -> dict[str, str]:
    return key_header(key, "api-key")


@dataclass(frozen=True)
class AzureOpenAI(OpenAIStyle):
    def endpoint(self, api_base: str | None, options: Mapping[str, str]) -> Endpoint:
        endpoint = super().endpoint(api_base, options)
        base = endpoint.api_base
        # Users paste either the resource endpoint or the SDK's ``.../openai`` base.
        if base.endswith("/openai"):
            base = base[: -len("/openai")]
        if not endpoint.option("api_version"):
            raise ValueError("an azure-openai config needs options.api_version")
        return Endpoint(endpoint.provider_type, base, endpoint.options)


ADAPTER = AzureOpenAI(
    "azure-openai",
    models_path="/openai/models",
    auth=api_key_header,
    lists_models=False,
    version_option="api_version",
)
