"""What counts as key-shaped: vendor key prefixes and long random tokens, not the names people
give variables, models, vault paths and hosts."""

from __future__ import annotations

import random
import string

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from llmform.desired.secret_shapes import (
    KEY_PREFIXES,
    holds_key,
    looks_like_key,
    shown,
    source_may_hold_key,
)

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


# A key-shaped word among random text, written by PyYAML in each style a user may use, folded
# at random widths: whenever the text YAML reads back holds a key and the source has no escape,
# ``source_may_hold_key`` must say so (else validate would not search that file's strings).
_words = st.lists(
    st.one_of(
        st.text(alphabet=string.ascii_letters + string.digits + " -_.:#'\"", max_size=12),
        st.builds(
            lambda p, r: p + r,
            st.sampled_from(["sk-", "sk-proj-", "ghp_", "AKIA"]),
            st.text(alphabet=string.ascii_letters + string.digits, min_size=10, max_size=30),
        ),
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    words=_words,
    style=st.sampled_from([None, "'", '"', "|", ">"]),
    width=st.integers(10, 80),
    as_key=st.booleans(),
)
def test_a_key_in_any_yaml_string_is_seen_in_its_source(
    words: list[str], style: str | None, width: int, as_key: bool
) -> None:
    value = " ".join(words)
    document = {value: 1} if as_key else {"description": value}
    source = yaml.safe_dump(document, default_style=style, width=width, allow_unicode=True)
    (read,) = yaml.safe_load(source).items()
    text = read[0] if as_key else read[1]
    if "\\" not in source and isinstance(text, str) and holds_key(text):
        assert source_may_hold_key(source)


@pytest.mark.parametrize("prefix", KEY_PREFIXES)
def test_the_shortest_pasted_key_of_each_prefix_is_seen_in_its_source(prefix: str) -> None:
    source = f"description: see {prefix}a1b2c3d4e5f6g7h8 here\n"
    assert holds_key(yaml.safe_load(source)["description"])
    assert source_may_hold_key(source)
