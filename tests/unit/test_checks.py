"""The runner: retry schedule and key rotation, Retry-After, timeouts and refused connections,
one check per distinct key, the parallelism bound, progress, the cache, and what results show.

Delays are asserted on a fake clock (nothing really waits); servers are real, on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
from support.checking import EPOCH, SENDERS, FakeClock, run, self_signed_tls, slots, target
from support.provider_servers import ProviderServer

from llmform.checks import pools
from llmform.checks.providers import Outcome
from llmform.checks.providers.sigv4 import sign
from llmform.checks.results import ResultCache
from llmform.checks.run import RetryPolicy, run_checks, targets_for
from llmform.desired.model import Config, DesiredState, EnvRef, Factory, Model
from llmform.errors import Location
from llmform.secrets.base import SecretValue

# distinctive tails: providers quote the last four characters back
K0, K1, K2 = (
    "sk-primary-aaaaaaaaaaaaQz7p",
    "sk-backup1-bbbbbbbbbbbbWv3k",
    "sk-backup2-ccccccccccccJx9m",
)
RATE = "rate_limited"  # OpenAI's plain 429: no Retry-After, so the backoff decides
DOWN = "error"  # OpenAI's 500


def openai_429(headers: dict[str, str]) -> tuple[int, dict[str, str], object]:
    return (
        429,
        headers,
        {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
    )


# (name, behaviour per key, keys in config order, keys the server must see in order,
#  waits in seconds, outcome per key)
SCHEDULES = [
    (
        "one key, always rate limited: 4 attempts, 1 2 4",
        {K0: RATE},
        [K0],
        [K0, K0, K0, K0],
        [1, 2, 4],
        [Outcome.RATE_LIMITED],
    ),
    (
        "three keys, server down: rotate and wrap round",
        {K0: DOWN, K1: DOWN, K2: DOWN},
        [K0, K1, K2],
        [K0, K1, K2, K0],
        [1, 2, 4],
        [Outcome.ERROR] * 3,
    ),
    (
        "bad primary rotates at once to a good backup",
        {K1: "valid"},
        [K0, K1],
        [K0, K1],
        [],
        [Outcome.INVALID_KEY, Outcome.VALID],
    ),
    (
        "a dead key is not tried again; the backoff counts retries",
        {K0: "invalid_key", K1: RATE},
        [K0, K1],
        [K0, K1, K1, K1],
        [2, 4],
        [Outcome.INVALID_KEY, Outcome.RATE_LIMITED],
    ),
    (
        "every key dead: stop early",
        {K0: "no_permission", K1: "out_of_quota"},
        [K0, K1],
        [K0, K1],
        [],
        [Outcome.NO_PERMISSION, Outcome.OUT_OF_QUOTA],
    ),
    (
        "recovers on the second attempt",
        {K0: [RATE, "valid"]},
        [K0],
        [K0, K0],
        [1],
        [Outcome.VALID],
    ),
    (
        "valid primary: each backup is still checked, on its own",
        {K0: "valid", K1: "valid", K2: [DOWN, "valid"]},
        [K0, K1, K2],
        [K0, K1, K2, K2],
        [1],
        [Outcome.VALID, Outcome.VALID, Outcome.VALID],
    ),
]


@pytest.mark.parametrize(
    ("behaviour", "keys", "seen", "waits", "outcomes"),
    [case[1:] for case in SCHEDULES],
    ids=[case[0] for case in SCHEDULES],
)
def test_retry_schedule(
    behaviour: dict[str, object],
    keys: list[str],
    seen: list[str],
    waits: list[float],
    outcomes: list[Outcome],
) -> None:
    clock = FakeClock()
    with ProviderServer("openai", behaviour) as server:  # type: ignore[arg-type]
        report = run([target("openai", server.api_base, keys)], clock)
    assert server.keys_seen() == seen
    assert clock.sleeps == waits
    assert [k.outcome for k in report.configs[0].keys] == outcomes
    assert [k.attempts for k in report.configs[0].keys] == [seen.count(k) for k in keys]


def test_backoff_base_is_configurable() -> None:
    clock = FakeClock()
    with ProviderServer("openai", {K0: RATE}) as server:
        run([target("openai", server.api_base, [K0])], clock, retry=RetryPolicy(base_delay=0.25))
    assert clock.sleeps == [0.25, 0.5, 1.0]


def test_attempts_record_the_rotation() -> None:
    with ProviderServer("openai", {K0: RATE, K1: "valid"}) as server:
        report = run([target("openai", server.api_base, [K0, K1])])
    attempts = [(a.number, a.position, a.outcome, a.waited) for a in report.configs[0].attempts]
    assert attempts == [(1, 0, Outcome.RATE_LIMITED, 0.0), (2, 1, Outcome.VALID, 1.0)]


@pytest.mark.parametrize(
    ("headers", "waits"),
    [
        ({"retry-after": "5"}, [5, 5, 5]),
        ({"retry-after": "0.5"}, [0.5, 0.5, 0.5]),
        ({"retry-after-ms": "1500", "retry-after": "9"}, [1.5, 1.5, 1.5]),
        ({"retry-after": formatdate(EPOCH + 30, usegmt=True)}, [30, 30, 30]),
        ({"retry-after": "3600"}, [60, 60, 60]),  # capped by max_retry_after
        ({"retry-after": "soon"}, [1, 2, 4]),  # unreadable: the backoff decides
    ],
    ids=["seconds", "fraction", "ms-wins", "http-date", "capped", "garbage"],
)
def test_retry_after(headers: dict[str, str], waits: list[float]) -> None:
    clock = FakeClock()
    # the HTTP date is read against the clock; freeze it so each wait reads the same date
    frozen = FakeClock()
    clock.clock = frozen.clock  # type: ignore[method-assign]
    with ProviderServer("openai", {K0: openai_429(headers)}) as server:
        run([target("openai", server.api_base, [K0])], clock)
    assert clock.sleeps == waits


def test_retry_after_in_a_body() -> None:
    """Gemini says when to come back in RetryInfo.retryDelay, not in a header."""
    clock = FakeClock()
    with ProviderServer("gemini", {K0: "rate_limited"}) as server:
        run([target("gemini", server.api_base, [K0])], clock)
    assert clock.sleeps == [7, 7, 7]


@pytest.mark.parametrize("sender", SENDERS)
def test_timeout_is_unreachable_and_retried(sender: str) -> None:
    clock = FakeClock()
    with ProviderServer("openai", {K0: "slow:0.6"}) as server:
        report = run([target("openai", server.api_base, [K0])], clock, sender, timeout=0.1)
    key = report.configs[0].keys[0]
    assert (key.outcome, key.attempts) == (Outcome.UNREACHABLE, 4)
    assert "0.1 s" in key.detail
    assert clock.sleeps == [1, 2, 4]
    assert not report.passed


@pytest.mark.parametrize("sender", SENDERS)
def test_refused_connection_is_unreachable(sender: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # the socket is closed: nothing listens, so connecting is refused
    clock = FakeClock()
    report = run([target("openai", f"http://127.0.0.1:{port}/v1", [K0, K1])], clock, sender)
    keys = report.configs[0].keys
    assert [k.outcome for k in keys] == [Outcome.UNREACHABLE] * 2
    assert [k.attempts for k in keys] == [2, 2]  # K0 K1 K0 K1
    assert clock.sleeps == [1, 2, 4]
    assert keys[0].detail == f"cannot connect to 127.0.0.1:{port}: connection refused"


def test_each_distinct_key_is_checked_once_per_run() -> None:
    with (
        ProviderServer("openai", {K0: "valid", K1: "invalid_key", K2: "valid"}) as a,
        ProviderServer("openai", {K0: "valid"}) as b,
    ):
        targets = [
            target("openai", a.api_base, [K0, K1], address=f"config.ws/a{i}") for i in range(5)
        ] + [
            target("openai", a.api_base, [K1, K2], address="config.ws/x"),
            target("openai", b.api_base, [K0], address="config.ws/other-endpoint"),
        ]
        report = run(targets, parallelism=3)
    assert sorted(a.keys_seen()) == sorted([K0, K1, K2])
    assert b.keys_seen() == [K0]
    assert report.requests == 4
    assert [k.outcome for k in report.result("config.ws/x").keys] == [  # type: ignore[union-attr]
        Outcome.INVALID_KEY,
        Outcome.VALID,
    ]


def test_parallelism_bounds_requests_in_flight() -> None:
    keys = [f"sk-key-{i:04d}-xxxxxxxxxxxx" for i in range(8)]
    with ProviderServer("openai", dict.fromkeys(keys, "slow:0.15")) as server:
        targets = [target("openai", server.api_base, [k], address=f"config.ws/{k}") for k in keys]
        report = run(targets, parallelism=3)
    assert report.passed
    assert server.max_in_flight == 3


def test_progress_is_reported_per_config() -> None:
    calls: list[tuple[int, int]] = []
    with ProviderServer("openai", {K0: "valid"}) as server:
        targets = [target("openai", server.api_base, [K0], address=f"config.ws/{i}") for i in "abc"]
        run(targets, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_cache_spares_the_provider_until_the_ttl(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "key-checks.json"
    clock = FakeClock()
    behaviour = {K0: "valid", K1: "invalid_key", K2: RATE}
    with ProviderServer("openai", behaviour, models=["gpt-4o"]) as server:
        t = target("openai", server.api_base, [K0, K1, K2], ["gpt-4o", "gpt-x"])

        def once() -> list[tuple[Outcome, bool]]:
            cache = ResultCache(path, ttl=600, clock=clock.clock)
            report = run([t], clock, cache=cache)
            return [(k.outcome, k.cached) for k in report.configs[0].keys]

        first = once()
        seen_first = len(server.requests)
        second = once()
        seen_second = len(server.requests) - seen_first
        clock.now += 601
        third = once()
    assert first == [
        (Outcome.MODEL_MISSING, False),
        (Outcome.INVALID_KEY, False),
        (Outcome.RATE_LIMITED, False),
    ]
    # valid (with its model list) and invalid are kept; a rate limit says nothing about later;
    # a model missing from a cached list is asked about again, never answered from the cache
    assert second == [
        (Outcome.MODEL_MISSING, False),
        (Outcome.INVALID_KEY, True),
        (Outcome.RATE_LIMITED, False),
    ]
    assert seen_second == 5 and seen_first == 6
    assert [c for _, c in third] == [False, False, False]
    text = path.read_text()
    for key in (K0, K1, K2):
        assert key not in text and key[-4:] not in text
    assert set(json.loads(text)) == {"version", "entries"}


def test_a_model_deployed_after_a_cached_check_is_found(tmp_path: Path) -> None:
    """The cache keeps a valid key's model list; a model missing from it may have been deployed
    since, so the provider is asked again at once, and what it says now decides."""
    path = tmp_path / "key-checks.json"
    clock = FakeClock()
    with ProviderServer("openai", {K0: "valid"}, models=["gpt-4o"]) as server:
        t = target("openai", server.api_base, [K0], ["gpt-4o", "gpt-new"])

        def once() -> tuple[Outcome, bool, str]:
            report = run([t], clock, cache=ResultCache(path, ttl=900, clock=clock.clock))
            key = report.configs[0].keys[0]
            return key.outcome, key.cached, key.detail

        assert once() == (Outcome.MODEL_MISSING, False, "the provider does not serve gpt-new")
        server.models.append("gpt-new")  # deployed by the user
        clock.now += 5
        assert once() == (Outcome.VALID, False, "")
        asked = len(server.requests)
        clock.now += 5
        # now every configured model is on the cached list: the cache answers, and says so
        assert once() == (Outcome.VALID, True, "")
        assert len(server.requests) == asked


def test_damaged_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "key-checks.json"
    path.write_text("{not json")
    with ProviderServer("openai", {K0: "valid"}) as server:
        report = run([target("openai", server.api_base, [K0])], cache=ResultCache(path, 60))
    assert report.passed and json.loads(path.read_text())["version"] == 1


def _cached_valid_then_revoked(path: Path, tamper: Callable[[Path], None]) -> Outcome:
    """Cache a valid verdict for K0, ``tamper`` with the cache file, revoke K0 at the
    provider, and check again: what the second check says."""
    with ProviderServer("openai", {K0: "valid"}) as server:
        assert run([target("openai", server.api_base, [K0])], cache=ResultCache(path, 60)).passed
        tamper(path)
        server.keys[K0] = "invalid_key"
        report = run([target("openai", server.api_base, [K0])], cache=ResultCache(path, 60))
    return report.configs[0].keys[0].outcome


def test_the_cache_is_written_owner_only_under_any_umask(tmp_path: Path) -> None:
    path = tmp_path / "xdg" / "llmform" / "key-checks.json"
    old = os.umask(0)
    try:
        assert _cached_valid_then_revoked(path, lambda _: None) is Outcome.VALID  # cached
    finally:
        os.umask(old)
    assert [stat.S_IMODE(p.stat().st_mode) for p in (path.parent.parent, path.parent, path)] == [
        0o700,
        0o700,
        0o600,
    ]


def _planted_by_another_user(path: Path) -> None:
    os.chown(path, 65534, 65534)


def _writable_by_others(path: Path) -> None:
    path.chmod(0o666)


def _replaced_by_a_link(path: Path) -> None:
    copy = path.with_name("elsewhere.json")
    path.rename(copy)
    path.symlink_to(copy)


@pytest.mark.parametrize(
    "tamper", [_planted_by_another_user, _writable_by_others, _replaced_by_a_link]
)
def test_a_cache_file_someone_else_could_have_written_is_not_trusted(
    tmp_path: Path, tamper: Callable[[Path], None]
) -> None:
    if tamper is _planted_by_another_user and os.geteuid() != 0:
        pytest.fail("chown to another user needs root (the test containers run as root)")
    # the same verdicts, but in a file that another user could have planted or edited: the
    # provider is asked again, and the revoked key is found
    path = tmp_path / "key-checks.json"
    assert _cached_valid_then_revoked(path, tamper) is Outcome.INVALID_KEY


def test_an_endless_cache_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "key-checks.json"
    path.symlink_to("/dev/zero")
    with ProviderServer("openai", {K0: "valid"}) as server:
        report = run([target("openai", server.api_base, [K0])], cache=ResultCache(path, 60))
    assert report.passed and not path.is_symlink()  # replaced by a file of its own


def test_results_name_keys_by_position_and_serialise_without_secrets() -> None:
    with ProviderServer("openai", {K0: "valid", K2: "valid"}, models=["gpt-4o"]) as server:
        report = run([target("openai", server.api_base, [K0, K1, K2], ["gpt-4o"])])
    data = report.to_dict()
    text = json.dumps(data)
    for key in (K0, K1, K2):
        assert key not in text and key not in repr(report)
    config = data["configs"][0]
    assert [(k["slot"], k["label"], k["outcome"]) for k in config["keys"]] == [
        ("api_key", "primary", "valid"),
        ("backup_keys[0]", "backup 1", "invalid_key"),
        ("backup_keys[1]", "backup 2", "valid"),
    ]
    assert (config["passed"], config["outcome"], data["passed"]) == (False, "invalid_key", False)
    assert data["summary"] == {"configs": 1, "failed": 1, "keys": 3, "keys_failed": 1}


def test_run_checks_is_the_synchronous_entry_point() -> None:
    with ProviderServer("openai", {K0: "valid"}) as server:
        report = run_checks([target("openai", server.api_base, [K0])], parallelism=2)
    assert report.passed and report.requests == 1


def test_https_endpoints_are_verified(tmp_path: Path) -> None:
    """A run with an https endpoint verifies certificates (a run against plain-HTTP servers
    only skips loading the CA bundle): a certificate no CA signed is refused before any key
    is sent, and the plain-HTTP endpoint of the same run is checked as usual."""
    with (
        ProviderServer("openai", {K0: "valid"}, tls=self_signed_tls(tmp_path)) as https,
        ProviderServer("openai", {K1: "valid"}) as plain,
    ):
        assert https.api_base.startswith("https://")
        report = run_checks(
            [
                target("openai", https.api_base, [K0], address="config.ws/tls"),
                target("openai", plain.api_base, [K1], address="config.ws/plain"),
            ],
            retry=RetryPolicy(max_retries=0),
        )
    tls, clear = (c.keys[0] for c in report.configs)
    assert tls.outcome is Outcome.UNREACHABLE
    assert "CERTIFICATE_VERIFY_FAILED" in tls.detail
    assert https.requests == []  # the key never went out
    assert clear.outcome is Outcome.VALID


@pytest.mark.parametrize(
    ("bases", "env", "tls"),
    [
        (["http://127.0.0.1:1/v1", "HTTP://localhost:2"], {}, False),
        (["http://127.0.0.1:1/v1"], {"NO_PROXY": "localhost"}, False),  # no proxy named
        (["http://127.0.0.1:1/v1", "https://api.openai.com/v1"], {}, True),
        (["http://127.0.0.1:1/v1", None], {}, True),  # no api_base: the provider's https URL
        (["http://127.0.0.1:1/v1"], {"HTTPS_PROXY": "https://proxy.example:3128"}, True),
        (["http://127.0.0.1:1/v1"], {"all_proxy": "http://proxy.example:3128"}, True),
    ],
)
def test_the_ca_bundle_is_loaded_whenever_tls_may_be_used(
    bases: list[str | None], env: dict[str, str], tls: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        for spelling in (name, name.upper()):
            monkeypatch.delenv(spelling, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    targets = [target("openai", b, [K0], address=f"config.ws/c{i}") for i, b in enumerate(bases)]
    assert pools.may_use_tls(targets) is tls


def test_parallelism_must_be_positive() -> None:
    with pytest.raises(ValueError, match="parallelism"):
        run([], parallelism=0)


def test_targets_for_a_desired_state() -> None:
    primary, backup, secret, missing = (
        EnvRef("PRIMARY"),
        EnvRef("BACKUP"),
        EnvRef("SECRET"),
        EnvRef("MISSING"),
    )
    factory = Factory("AWS", "bedrock", None)
    here = Location("x.yaml")
    configs = {
        ("ws", "a"): Config(
            "ws",
            "a",
            "AWS",
            None,
            primary,
            (backup,),
            (Model("m", ("chat",)),),
            options={"region": "eu-west-1"},
            secret_options={"api_secret": secret},
            location=here,
        ),
        ("ws", "off"): Config("ws", "off", "AWS", None, primary, enabled=False),
        ("ws", "b"): Config("ws", "b", "AWS", None, missing),
    }
    state = DesiredState({"AWS": factory}, {}, configs)
    values = {r: SecretValue(r.name.lower()) for r in (primary, backup, secret)}
    fingerprints = {r: f"fp-{r.name}" for r in (primary, backup, secret)}
    a, b = targets_for(state, values, fingerprints)
    assert (a.address, a.provider_type, a.models) == ("config.ws/a", "bedrock", ("m",))
    assert [(s.slot, s.position, s.fingerprint) for s in a.keys] == [
        ("api_key", 0, "fp-PRIMARY"),
        ("backup_keys[0]", 1, "fp-BACKUP"),
    ]
    assert a.secrets == {"api_secret": values[secret]} and a.unresolved == ()
    assert a.secret_fingerprints == ("api_secret=fp-SECRET",)
    assert b.unresolved == ("api_key",)
    report = run([b])
    assert report.configs[0].keys[0].outcome is Outcome.ERROR
    assert report.requests == 0


def test_an_unresolved_key_is_reported_and_the_others_checked() -> None:
    with ProviderServer("openai", {K1: "valid"}) as server:
        t = target("openai", server.api_base, [K0, K1])
        t = replace(t, keys=(replace(t.keys[0], value=None), t.keys[1]), unresolved=("api_key",))
        report = run([t])
    assert [(k.outcome, k.detail) for k in report.configs[0].keys] == [
        (Outcome.ERROR, "not resolved"),
        (Outcome.VALID, ""),
    ]
    assert server.keys_seen() == [K1]


def test_an_unresolved_secret_option_fails_the_config() -> None:
    t = replace(
        target("bedrock", None, [K0], options={"region": "eu-west-1"}), unresolved=("api_secret",)
    )
    report = run([t])
    assert [k.detail for k in report.configs[0].keys] == ["api_secret not resolved"]
    assert report.requests == 0


def test_sigv4_matches_the_published_aws_vector() -> None:
    """AWS's Signature V4 test suite, case get-vanilla (example credentials from the docs)."""
    request = httpx.Request("GET", "https://example.amazonaws.com/")
    sign(
        request,
        SecretValue("AKIDEXAMPLE"),
        SecretValue("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        "us-east-1",
        "service",
        datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )
    assert request.headers["x-amz-date"] == "20150830T123600Z"
    assert request.headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_slots_helper_orders_primary_first() -> None:
    assert [s.slot for s in slots([K0, K1])] == ["api_key", "backup_keys[0]"]


def test_default_pools_together_keep_the_parallelism_bound() -> None:
    """Without an injected client (the run's own transport) the bound holds at the server."""
    keys = [f"sk-pool-{i:04d}-xxxxxxxxxxxx" for i in range(30)]
    with ProviderServer("openai", dict.fromkeys(keys, "slow:0.1")) as server:
        targets = [target("openai", server.api_base, [k], address=f"config.ws/{k}") for k in keys]
        report = run_checks(targets, parallelism=25)
    assert report.passed and report.requests == 30
    assert server.max_in_flight == 25


def test_keys_without_fingerprints_are_still_told_apart() -> None:
    with ProviderServer("openai", {K0: "valid"}) as server:
        targets = [
            target("openai", server.api_base, [k], address=f"config.ws/{i}")
            for i, k in enumerate((K0, K1))
        ]
        targets = [replace(t, keys=(replace(t.keys[0], fingerprint=""),)) for t in targets]
        report = run(targets)
    assert [c.keys[0].outcome for c in report.configs] == [Outcome.VALID, Outcome.INVALID_KEY]


def test_benchmark_smoke() -> None:
    """benchmarks/checks.py runs end to end (its figures are for people; only that it works
    and checks every key is asserted)."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "checks.py"
    done = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "100 requests, all valid" in done.stdout
    assert "floor " in done.stdout
