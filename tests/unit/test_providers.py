"""Every outcome of every provider type, against a local server speaking that provider's protocol
with its documented error bodies; the classification must come from the body."""

from __future__ import annotations

import json

import pytest
from support.checking import run, target
from support.provider_servers import PROTOCOLS, ProviderServer

from llmform.checks.providers import ADAPTERS, Outcome
from llmform.checks.run import CheckReport
from llmform.desired.provider_types import PROVIDER_TYPES

# A canary key: it must never appear in any result, detail, repr or JSON.
KEY = "sk-canary-0123456789abcdefWXYZ"

OPTIONS = {"azure-openai": {"api_version": "2024-10-21"}, "bedrock": {"region": "us-east-1"}}

# (provider type, what the server answers, the outcome we must report)
OUTCOMES: list[tuple[str, str, Outcome]] = [(p, "valid", Outcome.VALID) for p in PROTOCOLS] + [
    ("openai", "invalid_key", Outcome.INVALID_KEY),
    ("openai", "no_permission", Outcome.NO_PERMISSION),  # a 401 that is not a bad key
    ("openai", "out_of_quota", Outcome.OUT_OF_QUOTA),  # a 429 that no wait cures
    ("openai", "rate_limited", Outcome.RATE_LIMITED),
    ("openai", "error", Outcome.ERROR),
    ("anthropic", "invalid_key", Outcome.INVALID_KEY),
    ("anthropic", "no_permission", Outcome.NO_PERMISSION),
    ("anthropic", "out_of_quota", Outcome.OUT_OF_QUOTA),  # a 400 invalid_request_error
    ("anthropic", "rate_limited", Outcome.RATE_LIMITED),
    ("anthropic", "error", Outcome.ERROR),
    ("gemini", "invalid_key", Outcome.INVALID_KEY),  # a 400 INVALID_ARGUMENT
    ("gemini", "no_permission", Outcome.NO_PERMISSION),
    ("gemini", "out_of_quota", Outcome.OUT_OF_QUOTA),  # per-day quota
    ("gemini", "rate_limited", Outcome.RATE_LIMITED),  # per-minute quota
    ("gemini", "error", Outcome.ERROR),
    ("bailian", "invalid_key", Outcome.INVALID_KEY),
    ("bailian", "no_permission", Outcome.NO_PERMISSION),
    ("bailian", "out_of_quota", Outcome.OUT_OF_QUOTA),  # a 400 Arrearage
    ("bailian", "out_of_quota_429", Outcome.OUT_OF_QUOTA),
    ("bailian", "rate_limited", Outcome.RATE_LIMITED),
    ("deepseek", "invalid_key", Outcome.INVALID_KEY),
    ("deepseek", "out_of_quota", Outcome.OUT_OF_QUOTA),  # 402
    ("deepseek", "rate_limited", Outcome.RATE_LIMITED),
    ("deepseek", "error", Outcome.ERROR),
    ("siliconflow", "invalid_key", Outcome.INVALID_KEY),  # a text body
    ("siliconflow", "no_permission", Outcome.NO_PERMISSION),
    ("siliconflow", "out_of_quota", Outcome.OUT_OF_QUOTA),  # a 403 about balance
    ("siliconflow", "rate_limited", Outcome.RATE_LIMITED),
    ("openai-compatible", "invalid_key", Outcome.INVALID_KEY),
    ("azure-openai", "invalid_key", Outcome.INVALID_KEY),
    ("azure-openai", "no_permission", Outcome.NO_PERMISSION),
    ("azure-openai", "rate_limited", Outcome.RATE_LIMITED),
    ("bedrock", "invalid_key", Outcome.INVALID_KEY),  # a 403 by x-amzn-ErrorType
    ("bedrock", "no_permission", Outcome.NO_PERMISSION),
    ("bedrock", "out_of_quota", Outcome.OUT_OF_QUOTA),
    ("bedrock", "rate_limited", Outcome.RATE_LIMITED),
    ("ollama", "invalid_key", Outcome.INVALID_KEY),
]


def assert_no_secret(report: CheckReport, *secrets: str) -> None:
    text = json.dumps(report.to_dict()) + repr(report)
    for secret in secrets:
        assert secret not in text
        assert secret[-8:] not in text


def test_every_provider_type_has_an_adapter_and_a_protocol_server() -> None:
    assert set(ADAPTERS) == set(PROVIDER_TYPES) == set(PROTOCOLS)


@pytest.mark.parametrize(("provider", "behaviour", "expected"), OUTCOMES)
def test_outcome_is_read_from_the_body(provider: str, behaviour: str, expected: Outcome) -> None:
    with ProviderServer(provider, {KEY: behaviour}, models=["m-1"]) as server:
        report = run([target(provider, server.api_base, [KEY], ["m-1"], OPTIONS.get(provider))])
    (result,) = report.configs
    (key,) = result.keys
    assert key.outcome is expected, key.detail
    # the server found the key where the provider expects it, and the check hit the free path
    assert server.keys_seen()[0] == KEY
    assert {r.path for r in server.requests} == {PROTOCOLS[provider].check_path}
    # a key-level failure is final at once; a transient one is tried 4 times
    transient = expected in (Outcome.RATE_LIMITED, Outcome.ERROR)
    assert key.attempts == (4 if transient else 1)
    assert result.passed is (expected in (Outcome.VALID, Outcome.RATE_LIMITED))
    assert_no_secret(report, KEY)


def test_provider_echoing_part_of_the_key_is_redacted() -> None:
    with ProviderServer("openai", {}) as server:  # an unknown key: the server quotes it back
        report = run([target("openai", server.api_base, [KEY])])
    detail = report.configs[0].keys[0].detail
    assert "Incorrect API key provided" in detail
    assert KEY[:8] not in detail and KEY[-4:] not in detail
    assert_no_secret(report, KEY)


def test_anthropic_sends_its_version_header() -> None:
    with ProviderServer("anthropic", {KEY: "valid"}) as server:
        run([target("anthropic", server.api_base, [KEY])])
    assert server.requests[0].headers["anthropic-version"] == "2023-06-01"


def test_azure_sends_api_version_and_strips_an_openai_suffix() -> None:
    with ProviderServer("azure-openai", {KEY: "valid"}) as server:
        report = run(
            [
                target(
                    "azure-openai", server.url + "/openai/", [KEY], options=OPTIONS["azure-openai"]
                )
            ]
        )
    assert report.passed
    assert server.requests[0].query == {"api-version": "2024-10-21"}


def test_gemini_key_never_goes_into_the_url() -> None:
    with ProviderServer("gemini", {KEY: "valid"}) as server:
        run([target("gemini", server.api_base, [KEY])])
    seen = server.requests[0]
    assert "key" not in seen.query and seen.headers["x-goog-api-key"] == KEY


def test_bedrock_access_key_pair_is_signed_with_sigv4() -> None:
    access = "AKIAIOSFODNN7EXAMPLE"
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    with ProviderServer(
        "bedrock", {access: "valid"}, models=["amazon.titan-text-lite-v1"]
    ) as server:
        report = run(
            [
                target(
                    "bedrock",
                    server.api_base,
                    [access],
                    ["amazon.titan-text-lite-v1"],
                    OPTIONS["bedrock"],
                    secrets={"api_secret": secret},
                )
            ]
        )
    assert report.passed, report.to_dict()
    auth = server.requests[0].headers["authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={access}/")
    assert "/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=" in auth
    assert_no_secret(report, secret)


def test_keyless_openai_compatible_server() -> None:
    with ProviderServer("openai-compatible", {None: "valid"}, models=["qwen2"]) as server:
        report = run([target("openai-compatible", server.api_base, [], ["qwen2"])])
    (key,) = report.configs[0].keys
    assert (key.slot, key.outcome) == ("no key", Outcome.VALID)
    assert "authorization" not in server.requests[0].headers


# (provider, models the server lists, aliases it resolves one by one, configured, missing)
MODEL_CASES = [
    ("openai", ["gpt-4o"], [], ["gpt-4o", "gpt-9"], ["gpt-9"]),
    ("gemini", ["gemini-2.0-flash"], [], ["gemini-2.0-flash", "gemini-0"], ["gemini-0"]),
    ("ollama", ["llama3:latest", "qwen2:7b"], [], ["llama3", "qwen2:7b", "phi3"], ["phi3"]),
    (
        "anthropic",
        ["claude-sonnet-4-20250514"],
        ["claude-sonnet-4-0"],
        ["claude-sonnet-4-0", "claude-sonnet-4-20250514", "claude-nope"],
        ["claude-nope"],
    ),
    (
        "bedrock",
        ["anthropic.claude-3-5-sonnet-20240620-v1:0"],
        [],
        ["us.anthropic.claude-3-5-sonnet-20240620-v1:0", "meta.llama9"],
        ["meta.llama9"],
    ),
    ("deepseek", ["deepseek-chat"], [], ["deepseek-chat", "deepseek-coder"], ["deepseek-coder"]),
    # Azure lists base models, not deployments: a deployment name is never reported missing
    ("azure-openai", ["gpt-4o-2024-08-06"], [], ["my-deployment"], []),
]


@pytest.mark.parametrize(("provider", "listed", "aliases", "configured", "missing"), MODEL_CASES)
def test_configured_model_missing(
    provider: str, listed: list[str], aliases: list[str], configured: list[str], missing: list[str]
) -> None:
    keys = {None: "valid"} if provider == "ollama" else {KEY: "valid"}
    with ProviderServer(provider, keys, models=listed, aliases=aliases) as server:
        t = target(
            provider,
            server.api_base,
            [] if provider == "ollama" else [KEY],
            configured,
            OPTIONS.get(provider),
        )
        report = run([t])
    result = report.configs[0]
    assert list(result.missing_models) == missing
    assert result.outcome is (Outcome.MODEL_MISSING if missing else Outcome.VALID)
    assert result.passed is not missing


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
def test_paged_model_list_is_completed_one_model_at_a_time(provider: str) -> None:
    """Only the first page is read; a configured model not on it is asked for by name."""
    with ProviderServer(provider, {KEY: "valid"}, ["m-1"], aliases=["m-2"], paged=True) as server:
        report = run([target(provider, server.api_base, [KEY], ["m-1", "m-2", "m-3"])])
    assert report.configs[0].missing_models == ("m-3",)
    asked = sorted(r.path.rsplit("/", 1)[-1] for r in server.requests[1:])
    assert asked == ["m-1", "m-2", "m-3"]  # a partial list proves nothing absent
    assert all(r.key == KEY for r in server.requests)


def test_unreachable_endpoint_and_bad_config() -> None:
    report = run(
        [
            target("azure-openai", "http://127.0.0.1:9", [KEY]),  # no api_version
            target("no-such-type", "http://127.0.0.1:9", [KEY]),
        ]
    )
    azure, unknown = report.configs
    assert azure.keys[0].outcome is Outcome.ERROR and "api_version" in azure.keys[0].detail
    assert unknown.keys[0].outcome is Outcome.SKIPPED


@pytest.mark.parametrize("provider", sorted(PROTOCOLS))
def test_a_success_that_is_not_a_model_list_is_an_error(provider: str) -> None:
    """A 200 from something that is not the provider (a captive portal, an api_base pointing at
    a web page) proves nothing about the key."""
    page = (200, {"content-type": "text/html"}, "<html><body>Sign in to continue</body></html>")
    with ProviderServer(provider, {KEY: page}, models=["m-1"]) as server:
        report = run([target(provider, server.api_base, [KEY], ["m-1"], OPTIONS.get(provider))])
    (key,) = report.configs[0].keys
    assert key.outcome is Outcome.ERROR
    assert key.detail.startswith("HTTP 200: not ")
    assert len(server.requests) == 1  # not retried: the same page would come back
