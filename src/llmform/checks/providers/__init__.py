"""Provider adapters by provider type: how to check a key and list models for each protocol.

An explicit dict, so that adding a protocol is one import and one line, and a type without an
adapter is a visible error rather than a silent skip.
"""

from __future__ import annotations

from . import (
    anthropic,
    azure_openai,
    bailian,
    bedrock,
    deepseek,
    gemini,
    ollama,
    openai,
    openai_compatible,
    siliconflow,
)
from .base import (
    KEY_LEVEL,
    TRANSIENT,
    Endpoint,
    ErrorInfo,
    Outcome,
    ProviderAdapter,
    Reply,
    Unsupported,
)

ADAPTERS: dict[str, ProviderAdapter] = {
    "openai": openai.ADAPTER,
    "anthropic": anthropic.ADAPTER,
    "gemini": gemini.ADAPTER,
    "bailian": bailian.ADAPTER,
    "deepseek": deepseek.ADAPTER,
    "siliconflow": siliconflow.ADAPTER,
    "openai-compatible": openai_compatible.ADAPTER,
    "azure-openai": azure_openai.ADAPTER,
    "bedrock": bedrock.ADAPTER,
    "ollama": ollama.ADAPTER,
}


def adapter_for(provider_type: str) -> ProviderAdapter:
    """The adapter of a provider type; KeyError names the type when there is none."""
    try:
        return ADAPTERS[provider_type]
    except KeyError:
        raise KeyError(f"no key check for provider type {provider_type!r}") from None


__all__ = [
    "ADAPTERS",
    "KEY_LEVEL",
    "TRANSIENT",
    "Endpoint",
    "ErrorInfo",
    "Outcome",
    "ProviderAdapter",
    "Reply",
    "Unsupported",
    "adapter_for",
]
