"""What each provider type (API protocol) needs from a config. Pure data, used offline.

The live checks for each type live in ``llmform.checks.providers``; this table is what ``validate``
knows without a network: which fields a config of the type must or may set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderType:
    """One API protocol: what a config of it must set (a key, options) and where its endpoint
    comes from when it has no default."""

    name: str
    summary: str
    needs_key: bool = True
    required_options: tuple[str, ...] = ()
    secret_options: tuple[str, ...] = ()
    # the endpoint follows from a required option (bedrock: region), so api_base is optional
    endpoint_from: str | None = None


PROVIDER_TYPES: dict[str, ProviderType] = {
    t.name: t
    for t in (
        ProviderType("openai", "OpenAI API"),
        ProviderType("anthropic", "Anthropic Messages API"),
        ProviderType("gemini", "Google Gemini API (AI Studio)"),
        ProviderType("bailian", "Alibaba Cloud Model Studio (DashScope, OpenAI-compatible mode)"),
        ProviderType("deepseek", "DeepSeek API"),
        ProviderType("siliconflow", "SiliconFlow API"),
        ProviderType(
            "openai-compatible",
            "any OpenAI-compatible endpoint (vLLM, LocalAI, LiteLLM, Volcano Ark, ...)",
            needs_key=False,
        ),
        ProviderType("azure-openai", "Azure OpenAI Service", required_options=("api_version",)),
        ProviderType(
            "bedrock",
            "AWS Bedrock (a Bedrock API key, or an access key id with api_secret)",
            required_options=("region",),
            secret_options=("api_secret",),
            endpoint_from="region",
        ),
        ProviderType("ollama", "Ollama", needs_key=False),
    )
}

# Every option a config may carry, and which are secret references.
ALL_OPTIONS: tuple[str, ...] = ("api_version", "region")
ALL_SECRET_OPTIONS: tuple[str, ...] = ("api_secret",)
