"""Which URLs a trusted endpoint covers, decided on the URL the HTTP client will send to:
look-alikes an attacker would try must not match, equivalent spellings must; the built-in
sources (catalog, provider patterns, the store); and the settings (env, file, flag)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from support.checking import target

from llmform.checks.providers import ADAPTERS, Outcome
from llmform.checks.subjects import split_by_trust
from llmform.checks.trust import EndpointTrust, normal_url, trusted_url
from llmform.checks.trust_sources import (
    ENV_FILE,
    ENV_URLS,
    TrustSettingsError,
    applied_urls,
    builtin_trust,
    configured_urls,
)
from llmform.core.plan import NOT_TRUSTED_TEXT, UNTRUSTED, KeyCheckRow
from llmform.core.resources import Resource
from llmform.secrets.base import SecretValue

CORP = "https://llm.corp/v1"
LOCAL = "http://127.0.0.1:8000"

# (trusted, requested): look-alikes that must not be trusted
LOOK_ALIKES = [
    (CORP, "https://llm.corp/v10"),
    (CORP, "https://llm.corp/v10/models"),
    (CORP, "https://llm.corp/v1x/models"),
    (CORP, "https://llm.corp/"),
    (CORP, "https://llm.corp/v2/models"),
    (CORP, "https://llm.corp.evil.com/v1"),
    (CORP, "https://llm.corp.evil.com/v1/models"),
    (CORP, "https://evil.com/llm.corp/v1"),
    (CORP, "https://evilllm.corp/v1"),
    (CORP, "https://llm.corp@evil.com/v1"),
    (CORP, "https://llm.corp:443@evil.com/v1"),
    (CORP, "https://user:llm.corp@evil.com/v1"),
    (CORP, "https://evil.com#@llm.corp/v1"),
    (CORP, "https://evil.com?@llm.corp/v1"),
    (CORP, "http://llm.corp/v1/models"),  # no TLS: the key would travel in clear
    (CORP, "https://llm.corp:8443/v1/models"),
    (CORP, "https://llm.corp./v1/models"),  # a trailing dot skips the search domains
    (CORP, "https://llm.corp%2eevil.com/v1"),
    (CORP, "https://llm.corp%2Fv1@evil.com/v1"),
    (CORP, "https://llm.c%6Frp/v1"),
    (CORP, "https://llm.c\u043erp/v1"),  # a Cyrillic o
    (CORP, "https://llm.corp/v1/../admin"),
    (CORP, "https://llm.corp/v1/%2e%2e/admin"),
    (CORP, "https://llm.corp/v1/%2E%2E/%2e%2e/v2"),
    (CORP, "https://llm.corp/v1/.%2e/admin"),
    (CORP, "https://llm.corp/v1/%252e%252e/admin"),  # decoded twice by some servers
    (CORP, "https://llm.corp/v1/..%2fadmin"),
    (CORP, "https://llm.corp/v1/..%5Cadmin"),
    (CORP, "https://llm.corp/v1/..\\admin"),
    (CORP, "https://llm.corp/v1%2f..%2f..%2fadmin"),
    (CORP, "llm.corp/v1/models"),
    (CORP, "//llm.corp/v1/models"),
    (CORP, "ftp://llm.corp/v1"),
    (CORP, "not a url"),
    (LOCAL, "http://127.1:8000/v1"),
    (LOCAL, "http://2130706433:8000/v1"),
    (LOCAL, "http://0x7f.0.0.1:8000/v1"),
    (LOCAL, "http://0x7f000001:8000/v1"),
    (LOCAL, "http://0177.0.0.1:8000/v1"),
    (LOCAL, "http://127.0.0.01:8000/v1"),
    (LOCAL, "http://127.0.0.1.:8000/v1"),
    (LOCAL, "http://[::ffff:127.0.0.1]:8000/v1"),
    (LOCAL, "http://localhost:8000/v1"),
    (LOCAL, "http://127.0.0.1:8001/v1"),
    (LOCAL, "http://127.0.0.1/v1"),
    (LOCAL, "https://127.0.0.1:8000/v1"),
    (LOCAL, "http://127.0.0.1.nip.io:8000/v1"),
    ("http://[::1]:8000", "http://[::2]:8000/v1"),
]

# (trusted, requested): the same destination, however it is spelt
EQUIVALENT = [
    (CORP, CORP),
    (CORP, "https://llm.corp/v1/"),
    (CORP, "https://llm.corp/v1/models"),
    (CORP + "/", "https://llm.corp/v1/models"),
    (CORP, "HTTPS://LLM.Corp/v1/models"),
    (CORP, "https://llm.corp:443/v1/models"),
    ("https://llm.corp:443/v1", "https://llm.corp/v1/models"),
    ("http://llm.corp", "http://llm.corp:80/anything"),
    (CORP, "https://llm.corp/v1/./models"),
    (CORP, "https://llm.corp/v1/beta/../models"),
    (CORP, "https://llm.corp/%76%31/models"),
    (CORP, "https://user:secret@llm.corp/v1/models"),  # userinfo does not move the request
    (CORP, "https://llm.corp/v1/models?api-version=1#x"),
    (CORP, "https://llm。corp/v1/models"),  # IDNA maps the ideographic full stop to '.'
    # httpx reads the backslash as part of the userinfo: the request goes to llm.corp
    (CORP, "https://evil.com\\@llm.corp/v1/models"),
    ("https://bücher.example/v1", "https://xn--bcher-kva.example/v1/models"),
    ("https://xn--bcher-kva.example", "https://BÜCHER.example/x"),
    (LOCAL, "http://127.0.0.1:8000/v1/models"),
    ("http://[::1]:8000", "http://[0:0::1]:8000/v1"),
]


@pytest.mark.parametrize(("trusted", "requested"), LOOK_ALIKES)
def test_a_look_alike_is_not_trusted(trusted: str, requested: str) -> None:
    assert not EndpointTrust(frozenset({trusted_url(trusted)})).allows(requested)


@pytest.mark.parametrize(("trusted", "requested"), EQUIVALENT)
def test_the_same_destination_is_trusted_however_spelt(trusted: str, requested: str) -> None:
    assert EndpointTrust(frozenset({trusted_url(trusted)})).allows(requested)


def test_the_decision_is_on_the_url_httpx_sends() -> None:
    url = httpx.Request("GET", "https://llm.corp/v1/models").url
    assert EndpointTrust(frozenset({trusted_url(CORP)})).allows(url)
    assert str(normal_url("HTTPS://LLM.corp:443/v1/./models/")) == "https://llm.corp/v1/models"
    assert str(normal_url("http://[0:0::1]:8000")) == "http://[::1]:8000"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("llm.corp/v1", "not an absolute http:// or https:// URL"),
        ("ftp://llm.corp", "not an absolute http:// or https:// URL"),
        ("https://user:pw@llm.corp", "no user, query or fragment"),
        ("https://llm.corp/v1?x=1", "no user, query or fragment"),
        ("https://llm.corp/v1#x", "no user, query or fragment"),
        ("https://*.corp", "wildcards are not supported"),
        ("http://127.1:8000", "write the address '127.1' as 127.0.0.1"),
        ("http://2130706433", "as 127.0.0.1"),
        ("https://llm.corp.", "drop the trailing dot"),
        ("https://llm%2ecorp", "characters no host name has"),
    ],
)
def test_a_setting_names_an_endpoint_unambiguously(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("*", r"\*")):
        trusted_url(text)


CATALOG_TRUSTED = [
    "https://api.openai.com/v1/models",
    "https://api.anthropic.com/v1/models?limit=1000",
    "https://generativelanguage.googleapis.com/v1beta/models",
    "https://api.deepseek.com/models",
    "https://dashscope.aliyuncs.com/compatible-mode/v1/models",
    "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/models",
    "https://api.siliconflow.cn/v1/models",
    "https://api.siliconflow.com/v1/models",
    "http://localhost:11434/api/tags",
    "https://my-resource.openai.azure.com/openai/models?api-version=2024-10-21",
    "https://my-resource.cognitiveservices.azure.com/openai/models",
    "https://bedrock.us-east-1.amazonaws.com/foundation-models",
    "https://bedrock.eu-central-1.amazonaws.com/foundation-models",
    "https://bedrock-runtime.ap-southeast-2.amazonaws.com/",
    "https://bedrock-fips.us-gov-west-1.amazonaws.com/foundation-models",
]
CATALOG_UNTRUSTED = [
    "https://api.openai.com.evil.com/v1/models",
    "https://api.openai.com/v10/models",
    "http://api.openai.com/v1/models",
    "https://api.openai.com:8443/v1/models",
    "https://evil.com/.openai.azure.com/openai/models",
    "https://openai.azure.com.evil.com/openai/models",
    "https://my-resource.openai.azure.com.evil.com/",
    "https://a.b.openai.azure.com/",
    "http://my-resource.openai.azure.com/",
    "https://my-resource.openai.azure.com:8443/",
    "https://bedrock.evil.com/foundation-models",
    "https://bedrock.us-east-1.amazonaws.com.evil.com/foundation-models",
    "https://bedrock.s3.amazonaws.com/",  # an S3 bucket named bedrock, not a region
    "https://evil-bedrock.us-east-1.amazonaws.com/",
    "http://localhost:11435/api/tags",
    "http://127.0.0.1:11434/api/tags",
]


@pytest.mark.parametrize("url", CATALOG_TRUSTED)
def test_the_catalog_and_provider_hosts_are_trusted(url: str) -> None:
    assert builtin_trust().allows(url)


@pytest.mark.parametrize("url", CATALOG_UNTRUSTED)
def test_only_the_catalog_and_provider_hosts_are_trusted(url: str) -> None:
    assert not builtin_trust().allows(url)


KEY = "sk-test-abcdefgh"


@pytest.mark.parametrize(
    ("name", "provider_type", "api_base", "options", "models", "trusted"),
    [
        ("OpenAI's default", "openai", None, {}, [], True),
        # a factory may be named anything: only the URL counts
        ("openai type, own api_base", "openai", "http://127.0.0.1:9/v1", {}, [], False),
        (
            "catalog host under a look-alike",
            "openai",
            "https://api.openai.com.evil.com/v1",
            {},
            [],
            False,
        ),
        ("bedrock region", "bedrock", None, {"region": "us-east-1"}, [], True),
        ("bedrock region injection", "bedrock", None, {"region": "evil.com/x?"}, [], False),
        ("bedrock region with a host", "bedrock", None, {"region": "evil.com#"}, [], False),
        (
            "azure resource",
            "azure-openai",
            "https://res.openai.azure.com",
            {"api_version": "1"},
            [],
            True,
        ),
        (
            "azure look-alike",
            "azure-openai",
            "https://evil.com/.openai.azure.com",
            {"api_version": "1"},
            [],
            False,
        ),
        ("anthropic alias", "anthropic", None, {}, ["claude-sonnet-4-0"], True),
        # every URL the check would request counts, per-model ones included
        (
            "a model name that climbs",
            "anthropic",
            "http://127.0.0.1:9/team",
            {},
            ["../../../../x"],
            False,
        ),
    ],
)
def test_a_target_is_checked_only_when_every_request_is_trusted(
    name: str,
    provider_type: str,
    api_base: str | None,
    options: dict[str, str],
    models: list[str],
    trusted: bool,
) -> None:
    extra = trusted_url("http://127.0.0.1:9/team")
    trust = builtin_trust().plus([extra])
    one = target(provider_type, api_base, [KEY], models=models, options=options)
    checkable, refused = split_by_trust([one], trust.allows)
    assert (checkable == [one]) is trusted, name
    if not trusted:
        result = refused[one.address]
        assert [k.outcome for k in result.keys] == [Outcome.UNTRUSTED]
        assert KEY not in repr(result)


@pytest.mark.parametrize(
    "api_base",
    [
        "https://xn--a-.example/v1",  # an A-label the client cannot decode for its Host header
        "https://ex\u00adample.com/v1",
        "https://256.1.1.1/v1",
        "https://api.openai.com/v1/\x7f",
        "https://api.openai.com/\ud800",
    ],
)
def test_a_target_the_http_client_cannot_address_is_an_error_not_a_crash(api_base: str) -> None:
    """However the URL got past validation (a store, a library caller), a request the HTTP
    client cannot build goes nowhere and is reported in fixed words, not the client's text."""
    one = target("openai-compatible", api_base, [KEY])
    checkable, refused = split_by_trust([one], builtin_trust().allows)
    assert checkable == []
    (key,) = refused[one.address].keys
    assert (key.outcome, key.detail) == (
        Outcome.ERROR,
        "api_base is not a valid URL (the HTTP client cannot parse it); run llmform validate",
    )


def test_an_untrusted_key_is_shown_as_not_checked() -> None:
    assert Outcome.UNTRUSTED.value == UNTRUSTED
    row = KeyCheckRow("config.prod/x", "api_key", UNTRUSTED, "http://127.0.0.1:9/v1", False)
    assert row.outcome_text == f"{NOT_TRUSTED_TEXT} (http://127.0.0.1:9/v1)"
    assert NOT_TRUSTED_TEXT == "not checked: endpoint not yet trusted"


def test_the_store_trusts_what_was_applied_and_where_its_checks_go() -> None:
    resources = {
        "factory.Gateway": Resource(
            "factory.Gateway",
            "factory",
            None,
            {"type": "gemini", "api_base": "https://gw/v1beta/openai"},
        ),
        "config.prod/c": Resource(
            "config.prod/c",
            "config",
            "prod",
            {"factory": "Gateway", "api_base": "https://gw2:8443/v1beta/openai", "options": {}},
        ),
        "workspace.prod": Resource(
            "workspace.prod", "workspace", "prod", {"api_base": "https://no"}
        ),
    }
    shown = sorted(str(u) for u in applied_urls(resources))
    assert shown == [
        "https://gw/v1beta",
        "https://gw/v1beta/openai",
        "https://gw2:8443/v1beta",
        "https://gw2:8443/v1beta/openai",
    ]


def test_settings_come_from_the_flag_the_environment_and_a_file(tmp_path: Path) -> None:
    listed = tmp_path / "trusted.txt"
    listed.write_text(
        "# reviewed endpoints\n\nhttps://a.corp/v1   # team a\n  http://10.0.0.5:8000\n"
    )
    environ = {ENV_URLS: "https://b.corp, https://c.corp\nhttps://d.corp", ENV_FILE: str(listed)}
    urls = configured_urls(["https://e.corp/v2"], [str(tmp_path / "configs")], environ)
    assert [str(u) for u in urls] == [
        "https://e.corp/v2",
        "https://b.corp",
        "https://c.corp",
        "https://d.corp",
        "https://a.corp/v1",
        "http://10.0.0.5:8000",
    ]


@pytest.mark.parametrize(
    ("flags", "environ", "file_text", "message"),
    [
        (["llm.corp"], {}, None, "--trust-endpoint 'llm.corp': not an absolute"),
        ([], {ENV_URLS: "https://ok.corp,http://127.1"}, None, f"{ENV_URLS}: 'http://127.1'"),
        ([], {}, "https://ok.corp\nhttps://u:p@x.corp\n", r"trusted.txt:2: \(not shown: it may"),
        ([], {}, "https://a.corp https://b.corp\n", "trusted.txt:1: .*one URL per line"),
        ([], {}, b"\xff\xfe", "is not UTF-8 text"),
    ],
)
def test_a_bad_setting_is_named_with_its_fix(
    tmp_path: Path, flags: list[str], environ: dict[str, str], file_text: object, message: str
) -> None:
    environ = dict(environ)
    if file_text is not None:
        listed = tmp_path / "trusted.txt"
        if isinstance(file_text, bytes):
            listed.write_bytes(file_text)
        else:
            listed.write_text(str(file_text))
        environ[ENV_FILE] = str(listed)
    with pytest.raises(TrustSettingsError, match=message):
        configured_urls(flags, [str(tmp_path / "configs")], environ)


CANARY = "sk-proj-CANARYt1x7Qm2Zr8Lp4Vt6Nw3Kd"


@pytest.mark.parametrize(
    "url",
    [
        f"https://ci:{CANARY}@llm.corp/v1",
        f"https://{CANARY}@llm.corp/v1",
        f"https://llm.corp/v1?api_key={CANARY}",
        f"https://llm.corp/v1?{CANARY}",
        f"https://llm.corp/v1#{CANARY}",
        f"https://llm.corp/{CANARY}/v1?x=1",
        CANARY,  # a key set in the wrong variable
        f"llm.corp/{CANARY}",
        f"https://llm.corp:{CANARY}/v1",
        # refused for their host, whose reason would quote it (lower-cased)
        f"https://{CANARY}.corp./v1",
        f"https://{CANARY}%2e.corp",
        f"http://{CANARY[8:]}1234.5/v1",
    ],
)
@pytest.mark.parametrize("where", ["flag", "env", "file"])
def test_a_setting_holding_a_secret_is_refused_without_quoting_it(
    tmp_path: Path, url: str, where: str
) -> None:
    listed = tmp_path / "trusted.txt"
    listed.write_text(f"https://ok.corp\n{url}\n")
    flags, environ = [], {}
    if where == "flag":
        flags = ["https://ok.corp", url]
    elif where == "env":
        environ = {ENV_URLS: f"https://ok.corp {url}"}
    else:
        environ = {ENV_FILE: str(listed)}
    with pytest.raises(TrustSettingsError) as caught:
        configured_urls(flags, [str(tmp_path / "configs")], environ)
    message = str(caught.value)
    assert "canary" not in message.lower() and "zr8lp4" not in message.lower(), message
    shown = {"flag": "--trust-endpoint URL 2", "env": f"{ENV_URLS}: URL 2", "file": ":2: "}
    assert shown[where] in message and "(not shown: it may hold a secret)" in message, message


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TrustSettingsError, match=f"{ENV_FILE}: cannot read .*nope.txt"):
        configured_urls([], ["configs"], {ENV_FILE: str(tmp_path / "nope.txt")})


@pytest.mark.parametrize(
    ("layout", "planned", "trust_file", "refused"),
    [
        ("plain", "configs", "configs/trusted.txt", "the planned path"),
        ("plain", "configs", "configs/deep/er/trusted.txt", "the planned path"),
        ("plain", "configs/prod.yaml", "configs/prod.yaml", "the planned path"),
        ("plain", ".", "trusted.txt", "the planned path"),
        # a link outside that points in, and a link inside that points out
        ("plain", "configs", "link-in.txt", "the planned path"),
        ("plain", "configs", "configs/link-out.txt", "the planned path"),
        ("git", "repo/configs", "repo/trusted.txt", "the git work tree of"),
        ("plain", "configs", "outside/trusted.txt", None),
        ("git", "repo/configs", "outside/trusted.txt", None),
    ],
)
def test_a_file_the_planned_change_could_edit_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    layout: str,
    planned: str,
    trust_file: str,
    refused: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    for folder in ("configs/deep/er", "outside", "repo/configs"):
        (tmp_path / folder).mkdir(parents=True)
    if layout == "git":
        (tmp_path / "repo" / ".git").mkdir()
    for name in ("configs/trusted.txt", "configs/deep/er/trusted.txt", "configs/prod.yaml"):
        (tmp_path / name).write_text("https://ok.corp\n")
    (tmp_path / "trusted.txt").write_text("https://ok.corp\n")
    (tmp_path / "repo/trusted.txt").write_text("https://ok.corp\n")
    (tmp_path / "outside/trusted.txt").write_text("https://ok.corp\n")
    os.symlink(tmp_path / "configs/trusted.txt", tmp_path / "link-in.txt")
    os.symlink(tmp_path / "outside/trusted.txt", tmp_path / "configs/link-out.txt")
    environ = {ENV_FILE: trust_file}
    if refused is None:
        assert [str(u) for u in configured_urls([], [planned], environ)] == ["https://ok.corp"]
        return
    with pytest.raises(TrustSettingsError, match=f"lies inside {refused} {planned}"):
        configured_urls([], [planned], environ)


@pytest.mark.parametrize("provider_type", sorted(ADAPTERS))
def test_the_urls_judged_are_the_urls_sent(provider_type: str) -> None:
    """Trust is judged on requests built without a key; the checker sends them with one. The
    key and secret options go into headers only, so the URLs are the same."""
    adapter = ADAPTERS[provider_type]
    options = {"region": "us-east-1", "api_version": "2024-10-21"}
    endpoint = adapter.endpoint("https://llm.corp/v1", options)
    key, secrets = SecretValue(KEY), {"api_secret": SecretValue("secret-value")}
    assert adapter.request(endpoint, key, secrets).url == adapter.request(endpoint, None, {}).url
    with_key = adapter.model_request(endpoint, key, secrets, "some-model")
    without = adapter.model_request(endpoint, None, {}, "some-model")
    assert (with_key and with_key.url) == (without and without.url)
