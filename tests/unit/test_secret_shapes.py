"""What counts as key-shaped: vendor key prefixes and long random tokens, not the names people
give variables, models, vault paths and hosts."""

from __future__ import annotations

import random
import string

import pytest

from llmform.desired.secret_shapes import looks_like_key, shown

KEYS = [
    "sk-proj-Ab3dEf5hIj7lMn9pQr1tUv3x",
    "sk-ant-api03-Ab3dEf5hIj7lMn9pQr1tUv3xYz",
    "sk-0123456789abcdef0123456789abcdef",  # DeepSeek, Bailian, SiliconFlow
    "AIzaSyAb3dEf5hIj7lMn9pQr1tUv3xYz01234",
    "gsk_Ab3dEf5hIj7lMn9pQr1tUv3xYz5bC7dE9fG1hI",
    "xai-Ab3dEf5hIj7lMn9pQr1tUv3xYz5bC7dE9f",
    "hf_Ab3dEf5hIj7lMn9pQr1tUv3xYz5bC7dE",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAIOSFODNN7EXAMPL3",
    "9f86d081884c7d659a2feaa0c55ad015",  # 32 hex: Azure's keys
    "Zq7Rk2Mv9Xb4Tn6Wc1Hy8Ld3Pf5Gs0Jq",
]
NAMES = [
    "OPENAI_API_KEY",
    "OPENAI_API_KEY_2024_PROD_EU_WEST_1",
    "AZURE_OPENAI_API_KEY_CONTOSO_EASTUS2",
    "OpenAiBackupKeyForProduction",
    "hf_token",
    "sk-demo",
    "gpt-4o-2024-08-06",
    "Qwen/Qwen2.5-72B-Instruct",
    "amazon.titan-embed-text-v2:0",
    "550e8400-e29b-41d4-a716-446655440000",
    "secret/llm/openai",
    "contoso-eastus2.openai.azure.com",
    "2024-10-21",
]


@pytest.mark.parametrize("text", KEYS)
def test_keys_are_key_shaped(text: str) -> None:
    assert looks_like_key(text)
    assert shown(text) == "(not shown: it looks like a secret)"


@pytest.mark.parametrize("text", NAMES)
def test_names_are_not(text: str) -> None:
    assert not looks_like_key(text)
    assert shown(text) == repr(text)


def test_random_tokens_are_mostly_caught() -> None:
    """Without a vendor prefix, shape is a guess: most random keys are caught, and the names
    above are not (a key with a vendor prefix is always caught)."""
    rng = random.Random(9)
    alphabet = string.ascii_letters + string.digits
    tokens = ["".join(rng.choice(alphabet) for _ in range(32)) for _ in range(1000)]
    assert sum(map(looks_like_key, tokens)) >= 950
