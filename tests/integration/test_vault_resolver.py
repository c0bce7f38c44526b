"""VaultResolver against a real OpenBao dev server: KV v1/v2, mounts, versions, namespaces,
the problems it reports, and how many reads the server itself saw."""

from __future__ import annotations

from typing import Any

import pytest
from baoserver import BaoServer, unique

from llmform.desired.model import VaultRef
from llmform.secrets.base import SecretValue
from llmform.secrets.refs import parse_ref
from llmform.secrets.settings import VaultSettings
from llmform.secrets.vault import VaultResolver


def ref(text: str, version: int | None = None, mount: str | None = None) -> VaultRef:
    raw: dict[str, Any] = {"vault": text}
    if version is not None:
        raw["version"] = version
    if mount is not None:
        raw["mount"] = mount
    parsed = parse_ref(raw)
    assert isinstance(parsed, VaultRef)
    return parsed


def resolver(bao: BaoServer, token: str = "root", **options: Any) -> VaultResolver:
    return VaultResolver(VaultSettings(addr=bao.addr, token=SecretValue(token), **options))


def revealed(values: Any) -> dict[VaultRef, str]:
    return {r: v.reveal() for r, v in values.items()}


def test_reads_kv_v1_and_v2_with_detected_or_given_mounts(bao: BaoServer) -> None:
    v2, v1 = bao.kv_mount(2), bao.kv_mount(1)
    nested = bao.kv_mount(2, name=f"{unique('team')}/kv")
    bao.put(v2, "llm/openai", {"api_key": "v2-openai", "org": "v2-org"})
    bao.put(v1, "llm/openai", {"api_key": "v1-openai"}, version=1)
    bao.put(nested, "anthropic", {"api_key": "nested-anthropic"})
    cases = {
        ref(f"{v2}/llm/openai#api_key"): "v2-openai",
        ref(f"{v2}/llm/openai#org"): "v2-org",
        ref("llm/openai#api_key", mount=v2): "v2-openai",
        ref(f"{v1}/llm/openai#api_key"): "v1-openai",
        ref("llm/openai#api_key", mount=v1): "v1-openai",
        ref(f"{nested}/anthropic#api_key"): "nested-anthropic",
        ref("anthropic#api_key", mount=nested): "nested-anthropic",
    }
    result = resolver(bao).resolve(cases)
    assert result.problems == ()
    assert revealed(result.values) == cases


def test_pinned_versions(bao: BaoServer) -> None:
    mount = bao.kv_mount(2)
    for n in (1, 2, 3):
        bao.put(mount, "rotating", {"api_key": f"value-{n}"})
    cases = {
        ref(f"{mount}/rotating#api_key", version=1): "value-1",
        ref(f"{mount}/rotating#api_key", version=2): "value-2",
        ref(f"{mount}/rotating#api_key", version=3): "value-3",
        ref(f"{mount}/rotating#api_key"): "value-3",
    }
    result = resolver(bao).resolve(cases)
    assert result.problems == ()
    assert revealed(result.values) == cases


def test_every_problem_of_a_batch_is_reported_with_what_to_do(bao: BaoServer) -> None:
    v2, v1 = bao.kv_mount(2), bao.kv_mount(1)
    transit = unique("transit")
    bao.root().sys.enable_secrets_engine("transit", path=transit)
    bao.put(v2, "llm/openai", {"api_key": "good", "other": "x"})
    for n in (1, 2, 3):
        bao.put(v2, "versions", {"api_key": f"v{n}"})
    kv2 = bao.root().secrets.kv.v2
    kv2.delete_secret_versions(path="versions", versions=[2], mount_point=v2)
    kv2.destroy_secret_versions(path="versions", versions=[1], mount_point=v2)
    bao.put(v2, "gone", {"api_key": "old"})
    kv2.delete_latest_version_of_secret(path="gone", mount_point=v2)
    bao.put(v2, "odd", {"empty": "", "number": 42})
    # `vault kv put .../pasted sk-proj-...=x`: the key pasted as a key name is not listed
    bao.put(v2, "pasted", {"sk-proj-CANARYv5x7Qm2Zr8Lp4Vt6Nw3Kd": "x", "apikey": "y"})
    bao.put(v1, "plain", {"api_key": "v1"}, version=1)

    good = ref(f"{v2}/llm/openai#api_key")
    expected = {
        ref(f"{v2}/llm/missing#api_key"): f"no secret at {v2}/llm/missing",
        ref(f"{v2}/llm/openai#nope"): "has no key 'nope' (its keys: api_key, other)",
        ref(f"{v2}/versions#api_key", version=2): (
            f"version 2 of {v2}/versions is deleted; undelete it "
            f"(`vault kv undelete -mount={v2} -versions=2 versions`)"
        ),
        ref(f"{v2}/versions#api_key", version=1): f"version 1 of {v2}/versions was destroyed",
        ref(f"{v2}/versions#api_key", version=9): "has no version 9 (its current version is 3)",
        ref(f"{v2}/gone#api_key"): f"the latest version (1) of {v2}/gone is deleted",
        ref(f"{v2}/data/llm/openai#api_key"): (
            f"writes the KV v2 API segment 'data/', which llmform adds itself on the KV v2 "
            f'mount {v2!r}: write "{v2}/llm/openai#api_key"'
        ),
        ref("data/llm/openai#api_key", mount=v2): 'write "llm/openai#api_key"',
        ref(f"{v1}/plain#api_key", version=2): "is a KV v1 mount, which keeps no versions",
        ref(f"{unique('nomount')}/x#api_key"): "no KV mount found",
        ref(f"{v2}/llm/openai#api_key", mount=v2): (
            f"the path is relative to mount {v2!r}: write 'llm/openai'"
        ),
        ref("x#k", mount=f"{v2}/llm"): f"the mount is {v2!r}: write mount: {v2} and path llm/x",
        ref(f"{transit}/keys/x#k"): "is a transit secrets engine, not KV",
        ref(f"{v2}/odd#empty"): "key 'empty' of",
        ref(f"{v2}/odd#number"): "holds a number, not a string",
        ref(f"{v2}/pasted#api_key"): (
            "has no key 'api_key' (its keys: (not shown: it looks like a secret), apikey)"
        ),
        ref(f"{v1}/missing#api_key"): f"no secret at {v1}/missing",
    }
    result = resolver(bao).resolve([good, *expected])
    assert revealed(result.values) == {good: "good"}
    messages = {p.ref: p.message for p in result.problems}
    assert set(messages) == set(expected)
    for r, fragment in expected.items():
        assert fragment in messages[r], (r, messages[r])
    assert "is empty" in messages[ref(f"{v2}/odd#empty")]


def test_permission_denied_names_the_path_and_the_capability(bao: BaoServer) -> None:
    v2, v1 = bao.kv_mount(2), bao.kv_mount(1)
    bao.put(v2, "llm/allowed", {"api_key": "fine"})
    bao.put(v2, "llm/denied", {"api_key": "hidden"})
    bao.put(v1, "denied", {"api_key": "hidden"}, version=1)
    token = bao.token(
        f'path "{v2}/data/llm/allowed" {{ capabilities = ["read"] }}\n'
        f'path "{v1}/other" {{ capabilities = ["read"] }}\n'
    )
    allowed, denied2, denied1 = (
        ref(f"{v2}/llm/allowed#api_key"),
        ref(f"{v2}/llm/denied#api_key"),
        ref(f"{v1}/denied#api_key"),
    )
    result = resolver(bao, token).resolve([allowed, denied2, denied1])
    assert revealed(result.values) == {allowed: "fine"}
    messages = {p.ref: p.message for p in result.problems}
    assert messages == {
        denied2: f'permission denied: the token\'s policies must grant "read" on '
        f'"{v2}/data/llm/denied"',
        denied1: f'permission denied: the token\'s policies must grant "read" on "{v1}/denied"',
    }


def test_namespaces(bao: BaoServer) -> None:
    ns = unique("ns")
    bao.root().sys.create_namespace(path=ns)
    mount = bao.kv_mount(2, namespace=ns)
    bao.root(ns).secrets.kv.v2.create_or_update_secret(
        path="llm", secret={"api_key": "in-namespace"}, mount_point=mount
    )
    inside = ref(f"{mount}/llm#api_key")
    result = resolver(bao, namespace=ns).resolve([inside])
    assert result.problems == ()
    assert revealed(result.values) == {inside: "in-namespace"}
    # The same reference outside the namespace finds nothing, and says where it looked.
    outside = resolver(bao).resolve([inside])
    assert outside.values == {}
    assert "no KV mount found" in outside.problems[0].message
    # A namespace written as a path prefix works too, as with the Vault CLI.
    prefixed = ref(f"{ns}/{mount}/llm#api_key")
    assert revealed(resolver(bao).resolve([prefixed]).values) == {prefixed: "in-namespace"}


@pytest.mark.parametrize("concurrency", [1, 4])
def test_1000_references_over_50_secrets_make_50_reads(bao: BaoServer, concurrency: int) -> None:
    """Acceptance: 1,000 configs over 50 distinct secrets make exactly 50 KV reads, as counted
    by the server's own audit device, plus one mount lookup for the one mount."""
    mount = bao.kv_mount(2)
    keys = ("api_key", "backup_1", "backup_2")
    for i in range(50):
        bao.put(mount, f"llm/s{i:02d}", {k: f"{k}-{i}" for k in keys})
    refs, expected = [], {}
    for n in range(1000):
        i, key = n % 50, keys[(n // 50) % 3]
        # Half of them name the mount explicitly: the same secret, so the same read.
        r = ref(f"llm/s{i:02d}#{key}", mount=mount) if n % 2 else ref(f"{mount}/llm/s{i:02d}#{key}")
        refs.append(r)
        expected[r] = f"{key}-{i}"
    mark = bao.audit_mark()
    result = resolver(bao, concurrency=concurrency).resolve(refs)
    seen = bao.audit_requests(mark)
    assert result.problems == ()
    assert revealed(result.values) == expected
    reads = [r["path"] for r in seen if r["path"].startswith(f"{mount}/")]
    assert sorted(reads) == sorted(f"{mount}/data/llm/s{i:02d}" for i in range(50))
    assert all(r["operation"] == "read" for r in seen)
    lookups = [r["path"] for r in seen if r["path"].startswith("sys/internal/ui/mounts/")]
    assert len(lookups) == 1
    # Everything else is the token check: no listing, no metadata, no writes.
    others = {r["path"] for r in seen} - set(reads) - set(lookups)
    assert others == {"auth/token/lookup-self"}
