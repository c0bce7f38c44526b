"""What a key check shows when a server quotes the key back, or when a request cannot be sent:
never the key, in any form, and never an exception's own text.

Against the local provider servers: each protocol's server in its "echo" mode refuses the key
quoting it whole, escaped every way, in base64, in pieces and past the 300th character.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from support.checking import SENDERS, run, target
from support.provider_servers import ECHO_AT, PROTOCOLS, ProviderServer, openai_error

from llmform.checks.providers import Outcome
from llmform.checks.run import CheckReport, ResultCache, RetryPolicy

OPTIONS = {"azure-openai": {"api_version": "2024-10-21"}, "bedrock": {"region": "us-east-1"}}


def fresh_key(prefix: str = "gsk_") -> str:
    """A key no heuristic for key-looking words would catch (not sk-, shorter than 32 when cut
    at 20): only redaction of the key itself can hide it."""
    return f"{prefix}{secrets.token_hex(10)}/x+y"


def pieces(key: str, length: int = 8) -> list[str]:
    return [key[i : i + length] for i in range(len(key) - length + 1)]


def assert_nothing_of(report: CheckReport, *keys: str) -> None:
    text = json.dumps(report.to_dict()) + repr(report)
    for key in keys:
        # the key, and a dump of its bytes
        leaked = [p for p in (*pieces(key), *pieces(key.encode().hex(), 12)) if p in text]
        assert not leaked, (leaked, text)


@pytest.mark.parametrize("provider", sorted(PROTOCOLS))
def test_a_provider_quoting_the_key_in_every_form_shows_none(provider: str) -> None:
    key = fresh_key()
    with ProviderServer(provider, {key: "echo"}, models=["m-1"]) as server:
        report = run(
            [target(provider, server.api_base, [key], ["m-1"], OPTIONS.get(provider))],
            retry=RetryPolicy(max_retries=0),
        )
    (result,) = report.configs
    detail = result.keys[0].detail
    assert result.keys[0].outcome is not Outcome.VALID
    assert "Invalid key" in detail and "[key]" in detail, detail
    assert len(detail) <= 300 and detail.isprintable()
    assert_nothing_of(report, key)


def test_the_key_quoted_from_the_280th_character_is_masked_before_the_cut() -> None:
    key = fresh_key()
    with ProviderServer("openai", {key: "echo"}) as server:
        report = run([target("openai", server.api_base, [key])])
    detail = report.configs[0].keys[0].detail
    # the plan's detail is cut at 300: the first quote of the key started at ECHO_AT
    assert detail.index("[key]") <= ECHO_AT < 300
    assert_nothing_of(report, key)


@pytest.mark.parametrize("shift", [0, 1, 5, 7, 18, 21])
@pytest.mark.parametrize("as_json", [False, True])
def test_a_key_quoted_over_and_over_past_the_read_limit_shows_nothing(
    shift: int, as_json: bool
) -> None:
    """Thousands of characters of quotes shrink to one mask: the head of a quote cut by the
    read limit would then sit in view."""
    key = fresh_key()
    text = "x" * shift + key * 400
    body = openai_error(401, text, None, None)[2] if as_json else text
    with ProviderServer("openai", {key: (401, {}, body)}) as server:
        report = run([target("openai", server.api_base, [key])])
    assert report.configs[0].keys[0].outcome is Outcome.INVALID_KEY
    assert_nothing_of(report, key)
    detail = report.configs[0].keys[0].detail
    assert not any(key[i : i + 4] in detail for i in range(len(key) - 3)), detail


def test_a_model_list_quoting_the_key_leaves_it_out_of_the_cache_file(tmp_path: Path) -> None:
    """The cache keeps a valid key's model list, names the provider chose: a server that lists
    the key (or a form of it) as a model id must not get it written to disk."""
    key = fresh_key()
    listed = ["gpt-4o", key, f"echo-{key}", json.dumps(key), "m-1"]
    cache = ResultCache(tmp_path / "key-checks.json", ttl=900)
    with ProviderServer("openai", {key: "valid"}, models=listed) as server:
        report = run([target("openai", server.api_base, [key], ["m-1"])], cache=cache)
    assert report.configs[0].keys[0].outcome is Outcome.VALID
    text = (tmp_path / "key-checks.json").read_text()
    assert not [piece for piece in pieces(key) if piece in text], text
    (entry,) = json.loads(text)["entries"].values()
    assert entry["models"] == ["gpt-4o", "m-1"]


def test_sigv4_credentials_quoted_back_show_neither_part() -> None:
    access, secret = "AKIA" + secrets.token_hex(8).upper(), secrets.token_hex(20)
    with ProviderServer("bedrock", {access: "echo"}) as server:
        report = run(
            [
                target(
                    "bedrock",
                    server.api_base,
                    [access],
                    options=OPTIONS["bedrock"],
                    secrets={"api_secret": secret},
                )
            ]
        )
    assert server.requests[0].headers["authorization"].startswith("AWS4-HMAC-SHA256")
    assert_nothing_of(report, access, secret)


@pytest.mark.parametrize(
    "bad",
    ["\n", "\r", "\r\n", "\nX-Injected: 1", "\x00", "é", "\u00a0", "\u2028", "\u202e"],
    ids=repr,
)
@pytest.mark.parametrize("sender", SENDERS)
def test_a_key_no_header_can_carry_is_refused_in_fixed_words(bad: str, sender: str) -> None:
    """Resolution refuses such values; a caller that builds targets itself still gets no
    exception text (httpx's "Illegal header value b'Bearer sk-…'" quotes the key) and no crash."""
    key = fresh_key() + bad
    with ProviderServer("openai", {}) as server:
        keys = [key, key.strip() + "b" + bad]
        report = run([target("openai", server.api_base, keys)], sender=sender)
    for result in report.configs[0].keys:
        assert result.outcome is Outcome.ERROR
        assert result.detail == (
            f"the request to {server.url.removeprefix('http://')} could not be sent: a key or "
            "header value holds a character HTTP does not allow"
        )
        assert result.attempts == 1  # the same key would fail the same way
    assert server.requests == []
    assert_nothing_of(report, key.strip())


@pytest.mark.parametrize(
    ("api_base", "outcome", "detail"),
    [
        ("http://127.0.0.1:99999/v1", Outcome.ERROR, "api_base is not a valid URL"),
        ("ftp://127.0.0.1/v1", Outcome.ERROR, "api_base must start with http:// or https://"),
        ("http://[::1/v1", Outcome.ERROR, "api_base is not a valid URL"),
    ],
)
@pytest.mark.parametrize("sender", SENDERS)
def test_an_api_base_that_is_no_url_is_an_error_in_fixed_words(
    api_base: str, outcome: Outcome, detail: str, sender: str
) -> None:
    key = fresh_key()
    report = run(
        [target("openai", api_base, [key])], sender=sender, retry=RetryPolicy(max_retries=0)
    )
    result = report.configs[0].keys[0]
    assert (result.outcome, result.detail) == (outcome, detail)
    assert_nothing_of(report, key)
