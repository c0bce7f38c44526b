"""Key checks in plan and apply, through the CLI, against local servers speaking OpenAI's and
Ollama's protocols: what the plan shows, when apply refuses, --no-validate-keys, the cache,
the scope, and what a CI log sees."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.provider_servers import Behaviour, ProviderServer

from llmform.cli import main

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
  - name: staging
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    api_base: {openai}
    api_key: {{env: PRIMARY}}
    backup_keys: [{{env: BACKUP}}]
    models: [{models}]
  - name: local
    workspace: staging
    factory: Ollama
    api_base: {ollama}
    enabled: {local_enabled}
    models: [{{name: llama3.2, type: chat}}]
"""

GOOD, OTHER, BAD, BUSY = "sk-good", "sk-other", "sk-bad", "sk-busy"
# answers a chunked model list that never ends, quoting the key in every piece
ENDLESS = f"sk-endless-{secrets.token_hex(8)}"
BEHAVIOUR: Mapping[str | None, Behaviour] = {
    GOOD: "valid",
    OTHER: "valid",
    BUSY: "rate_limited",
    BAD: "invalid_key",
    ENDLESS: "streamed:endless",
}


@dataclass
class Repo:
    path: Path
    openai: ProviderServer
    ollama: ProviderServer
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def write(self, models: str = "gpt-4o", local_enabled: bool = True) -> None:
        (self.path / "llmform.yaml").write_text(
            STATE.format(
                openai=self.openai.api_base,
                ollama=self.ollama.api_base,
                models=models,
                local_enabled=str(local_enabled).lower(),
            )
        )

    def keys(self, primary: str, backup: str) -> None:
        self.monkeypatch.setenv("PRIMARY", primary)
        self.monkeypatch.setenv("BACKUP", backup)

    def run(self, *args: str) -> tuple[int, str, str]:
        code = main(["--no-color", *args])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    def serial(self) -> int:
        with sqlite3.connect(self.path / "store.db") as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'serial'").fetchone()
        return int(row[0])


@pytest.fixture()
def repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Repo]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0.01")
    with (
        ProviderServer("openai", BEHAVIOUR, models=["gpt-4o"]) as openai,
        ProviderServer("ollama", {None: "valid"}, models=["llama3.2:latest"]) as ollama,
    ):
        monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", f"{openai.url},{ollama.url}")
        repo = Repo(tmp_path, openai, ollama, monkeypatch, capsys)
        repo.keys(GOOD, OTHER)
        repo.write()
        yield repo


def test_a_plan_shows_every_key_and_passes(repo: Repo) -> None:
    code, out, err = repo.run("plan", "--detailed-exitcode", "llmform.yaml")
    assert code == 2, err
    assert (
        "Key checks: 3 keys of 2 configs, all passed.\n"
        "  config.prod/openai-main  api_key: valid\n"
        "  config.prod/openai-main  backup_keys[0]: valid\n"
        "  config.staging/local     no key: valid\n"
    ) in out
    assert "Key checks were skipped" not in out
    # Not a terminal: one line says what is being waited for, no bar.
    assert err == "Key checks: 2 configs...\n"
    assert sorted(repo.openai.keys_seen()) == [GOOD, OTHER]


@dataclass(frozen=True)
class Failing:
    name: str
    primary: str
    backup: str
    models: str
    rows: tuple[str, ...]  # the failing rows of the plan, as printed
    advice: str  # the error's advice for that kind of failure


FAILING = [
    Failing(
        "invalid backup",
        GOOD,
        BAD,
        "gpt-4o",
        ("backup_keys[0]: invalid key (HTTP 401 invalid_request_error invalid_api_key",),
        "  invalid key (1 key): fix or replace the key where its reference points (Vault or the "
        "environment)\n",
    ),
    Failing(
        "invalid primary, the backup works",
        BAD,
        GOOD,
        "gpt-4o",
        ("api_key: invalid key (HTTP 401",),
        "  invalid key (1 key): fix or replace the key",
    ),
    Failing(
        "a model the provider does not serve",
        GOOD,
        OTHER,
        "gpt-4o, {name: gpt-99, type: chat}",
        (
            "api_key: model missing (the provider does not serve gpt-99)",
            "backup_keys[0]: model missing (the provider does not serve gpt-99)",
        ),
        "  model missing (2 keys): deploy the model at the provider, or remove it from the "
        "config\n",
    ),
]


@pytest.mark.parametrize("case", FAILING, ids=lambda c: c.name)
def test_a_failing_key_fails_the_plan_and_apply_changes_nothing(repo: Repo, case: Failing) -> None:
    repo.keys(case.primary, case.backup)
    repo.write(models=case.models)
    code, out, err = repo.run("plan", "-o", "p.plan", "--detailed-exitcode", "llmform.yaml")
    assert code == 1
    assert f"{len(case.rows)} failed." in out
    for row in case.rows:
        assert f"  config.prod/openai-main  {row}" in out
    # The error says what to do, and does not list the failed keys a second time.
    count = len(case.rows)
    assert err.startswith(
        f"Key checks: 2 configs...\nerror: {count} key{'s' if count > 1 else ''} failed "
        f"{'their' if count > 1 else 'its'} check (see the key checks in the plan), so the "
        "plan cannot be applied and was not saved:\n"
    ), err
    assert case.advice in err
    assert err.endswith("Then plan again, or pass --no-validate-keys to skip the checks.\n")
    assert "config.prod/openai-main" not in err and "HTTP 401" not in err
    assert not (repo.path / "p.plan").exists()

    code, out, err = repo.run("apply", "--auto-approve", "llmform.yaml")
    assert code == 1
    assert "so nothing was applied" in err
    assert "Plan: 6 to add" in out  # the plan is shown, with the failing keys
    assert not (repo.path / "store.db").exists()  # the apply would have created it

    # --no-validate-keys: no provider is asked, the plan says so, and apply goes ahead.
    asked = len(repo.openai.requests)
    code, out, err = repo.run("apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")
    assert code == 0, err
    assert "Key checks were skipped (--no-validate-keys)." in out
    assert len(repo.openai.requests) == asked
    assert repo.serial() == 1


def test_a_rate_limited_key_passes_with_its_outcome_shown(repo: Repo) -> None:
    repo.keys(GOOD, BUSY)
    code, out, err = repo.run("apply", "--auto-approve", "llmform.yaml")
    assert code == 0, err
    assert "backup_keys[0]: rate limited (HTTP 429" in out
    assert "Key checks: 3 keys of 2 configs, all passed." in out
    # 1 attempt, then 3 retries with backoff on the same (only) key
    assert repo.openai.keys_seen().count(BUSY) == 4


def test_a_saved_plan_carries_its_checks_to_apply(repo: Repo) -> None:
    repo.run("init")
    code, _, err = repo.run("plan", "-o", "checked.plan", "llmform.yaml")
    assert code == 0, err
    code, out, err = repo.run("apply", "--auto-approve", "checked.plan")
    assert code == 0, err
    assert "all passed" in out
    assert repo.serial() == 1


def test_a_plan_made_without_checks_is_applied_only_without_checks(repo: Repo) -> None:
    repo.run("init")
    repo.run("plan", "--no-validate-keys", "-o", "unchecked.plan", "llmform.yaml")
    code, _, err = repo.run("apply", "--auto-approve", "unchecked.plan")
    assert code == 1
    assert "made with --no-validate-keys, so its keys were never checked" in err
    assert repo.serial() == 0
    code, _, err = repo.run("apply", "--auto-approve", "--no-validate-keys", "unchecked.plan")
    assert code == 0, err
    assert repo.serial() == 1


def test_verdicts_are_cached_until_the_ttl(repo: Repo) -> None:
    repo.run("plan", "llmform.yaml")
    asked = len(repo.openai.requests)
    code, out, _ = repo.run("plan", "llmform.yaml")
    assert code == 0
    assert len(repo.openai.requests) == asked  # answered from the cache
    assert "  config.prod/openai-main  api_key: valid (cached)\n" in out
    repo.run("plan", "--check-cache-ttl", "0", "llmform.yaml")
    assert len(repo.openai.requests) == 2 * asked


def test_only_enabled_configs_in_scope_are_checked(repo: Repo) -> None:
    repo.run("plan", "-w", "staging", "llmform.yaml")
    assert repo.openai.requests == [] and len(repo.ollama.requests) == 1
    repo.write(local_enabled=False)
    code, out, _ = repo.run("plan", "llmform.yaml")
    assert code == 0
    assert "Key checks: 2 keys of 1 config, all passed." in out
    assert len(repo.ollama.requests) == 1


def test_json_plan_lists_checks_and_failures(repo: Repo) -> None:
    repo.keys(GOOD, BAD)
    code, out, _ = repo.run("plan", "--format", "json", "llmform.yaml")
    assert code == 1
    data = json.loads(out)
    by_address = {c["address"]: c for c in data["validation"]}
    assert set(by_address) == {"config.prod/openai-main", "config.staging/local"}
    keys = by_address["config.prod/openai-main"]["keys"]
    assert [(k["slot"], k["outcome"], k["passed"]) for k in keys] == [
        ("api_key", "valid", True),
        ("backup_keys[0]", "invalid_key", False),
    ]
    assert [(e["address"], e["slot"]) for e in data["errors"]] == [
        ("config.prod/openai-main", "backup_keys[0]")
    ]
    assert BAD not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parallelism", "0"], "0 is not in the range x>=1"),
        (["--check-cache-ttl", "-1"], "-1.0 is not in the range x>=0"),
        (["--check-cache-ttl", "nan"], "nan is not a number of seconds"),
    ],
)
def test_bad_check_options_are_usage_errors(repo: Repo, args: list[str], message: str) -> None:
    code, _, err = repo.run("plan", *args, "llmform.yaml")
    assert code == 2
    assert message in err


def test_a_model_deployed_since_the_last_plan_is_found_at_once(repo: Repo) -> None:
    """The cache keeps a valid key's model list for 15 minutes; a model missing from it is
    asked about again, so deploying it is seen by the next plan, and the cached verdicts of
    every format say "(cached)"."""
    repo.write(models="gpt-4o, {name: gpt-new, type: chat}")
    code, out, _ = repo.run("plan", "llmform.yaml")
    assert code == 1
    assert "api_key: model missing (the provider does not serve gpt-new)" in out
    repo.openai.models.append("gpt-new")
    code, out, err = repo.run("plan", "llmform.yaml")
    assert code == 0, err
    assert "  config.prod/openai-main  api_key: valid\n" in out
    assert "  config.prod/openai-main  backup_keys[0]: valid\n" in out
    # all found now: the next plan answers from the cache, and says so in every format
    asked = len(repo.openai.requests)
    _, out, _ = repo.run("plan", "llmform.yaml")
    assert "  config.prod/openai-main  api_key: valid (cached)\n" in out
    _, md, _ = repo.run("plan", "--format", "markdown", "llmform.yaml")
    assert "| `config.prod/openai-main` | `api_key` | ✅ valid (cached) |" in md
    _, raw, _ = repo.run("plan", "--format", "json", "llmform.yaml")
    keys = json.loads(raw)["validation"][0]["keys"]
    assert [k["cached"] for k in keys] == [True, True]
    assert len(repo.openai.requests) == asked


def test_a_cached_failure_says_cached_in_every_format(repo: Repo) -> None:
    repo.keys(GOOD, BAD)
    _, _, err = repo.run("plan", "llmform.yaml")
    assert "cache" not in err
    code, out, err = repo.run("plan", "llmform.yaml")
    assert code == 1
    assert "  config.prod/openai-main  backup_keys[0]: invalid key (cached)\n" in out
    # the error says where the verdict came from, and how to ask the provider again
    assert err.endswith(
        "  invalid key (1 key): fix or replace the key where its reference points (Vault or the "
        "environment)\n"
        "  (1 of these verdicts came from the key-check cache, made by an earlier run: if a key "
        "was fixed at the provider since, --check-cache-ttl 0 asks again)\n"
        "Then plan again, or pass --no-validate-keys to skip the checks.\n"
    )
    _, md, _ = repo.run("plan", "--format", "markdown", "llmform.yaml")
    assert "| `config.prod/openai-main` | `backup_keys[0]` | ❌ invalid key (cached) |" in md
    _, raw, _ = repo.run("plan", "--format", "json", "llmform.yaml")
    assert json.loads(raw)["errors"] == [
        {
            "address": "config.prod/openai-main",
            "slot": "backup_keys[0]",
            "message": "key check failed: invalid key (cached)",
        }
    ]
    repo.openai.keys[BAD] = "valid"  # the provider lets the key in now
    code, out, _ = repo.run("plan", "--check-cache-ttl", "0", "llmform.yaml")
    assert code == 0
    assert "  config.prod/openai-main  backup_keys[0]: valid\n" in out
    # and that answer replaced the cached one: the next plan (or apply) does not go back to it
    code, out, _ = repo.run("plan", "llmform.yaml")
    assert code == 0
    assert "  config.prod/openai-main  backup_keys[0]: valid (cached)\n" in out


@pytest.mark.parametrize(
    ("api_base", "row", "hosts"),
    [
        (
            "http://127.0.0.1:{port}/v1",
            "cannot connect to 127.0.0.1:{port}: connection refused",
            "127.0.0.1:{port}",
        ),
        (
            "http://llmform-no-such-host.invalid/v1",
            "cannot connect to llmform-no-such-host.invalid: the host name does not resolve",
            "llmform-no-such-host.invalid",
        ),
    ],
    ids=["refused", "no such host"],
)
def test_an_unreachable_endpoint_names_the_host_and_gives_network_advice(
    repo: Repo, api_base: str, row: str, hosts: str
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = (repo.path / "llmform.yaml").read_text()
    text = text.replace(repo.openai.api_base, api_base.format(port=port))
    (repo.path / "llmform.yaml").write_text(text)
    trusted = os.environ["LLMFORM_TRUSTED_ENDPOINTS"] + "," + api_base.format(port=port)
    repo.monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", trusted)
    code, out, err = repo.run("plan", "llmform.yaml")
    assert code == 1
    row = row.format(port=port)
    assert f"  config.prod/openai-main  api_key: unreachable ({row})\n" in out
    assert f"  config.prod/openai-main  backup_keys[0]: unreachable ({row})\n" in out
    assert err == (
        "Key checks: 2 configs...\n"
        "error: 2 keys failed their check (see the key checks in the plan), so the plan "
        "cannot be applied:\n"
        "  unreachable (2 keys): check that api_base is right and that this machine reaches "
        f"{hosts.format(port=port)}: the host name and DNS, a proxy (HTTPS_PROXY, NO_PROXY) and "
        "firewalls on the way\n"
        "Then plan again, or pass --no-validate-keys to skip the checks.\n"
    )
    assert "Fix or replace" not in err
    # the pull-request comment says what to do too, under the key checks
    code, md, _ = repo.run("plan", "--format", "markdown", "llmform.yaml")
    assert code == 1
    assert md.endswith(
        f"| `config.prod/openai-main` | `backup_keys[0]` | ❌ unreachable ({row}) |\n"
        "| `config.staging/local` | `no key` | ✅ valid (cached) |\n\n"
        "**2 keys failed their check, so this plan cannot be applied:**\n\n"
        "- unreachable (2 keys): check that api\\_base is right and that this machine reaches "
        f"{hosts.format(port=port)}: the host name and DNS, a proxy (HTTPS\\_PROXY, NO\\_PROXY) "
        "and firewalls on the way\n"
    )


def test_an_answer_past_the_bound_fails_its_key_in_fixed_words(repo: Repo) -> None:
    """An endless answer ends its key's check at 8 MiB with a fixed message, an error (not a
    verdict on the key), and the advice for errors; nothing of the answer (which quotes the
    key) is shown in any format."""
    repo.keys(ENDLESS, GOOD)
    port = repo.openai.url.rsplit(":", 1)[1]
    detail = f"the answer from 127.0.0.1:{port} passed 8 MiB; llmform stops reading there"
    code, out, err = repo.run("plan", "llmform.yaml")
    assert code == 1
    assert (
        "Key checks: 3 keys of 2 configs, 1 failed.\n"
        f"  config.prod/openai-main  api_key: error ({detail})\n"
        "  config.prod/openai-main  backup_keys[0]: valid\n"
    ) in out
    assert err == (
        "Key checks: 2 configs...\n"
        "error: 1 key failed its check (see the key checks in the plan), so the plan cannot be "
        "applied:\n"
        "  error (1 key): read the provider's answer in the key checks; check api_base and the "
        "config's options\n"
        "Then plan again, or pass --no-validate-keys to skip the checks.\n"
    )
    code, md, _ = repo.run("plan", "--format", "markdown", "llmform.yaml")
    assert code == 1
    assert f"| `config.prod/openai-main` | `api_key` | ❌ error ({detail}) |\n" in md
    code, data, _ = repo.run("plan", "--format", "json", "llmform.yaml")
    assert code == 1
    keys = {c["address"]: c for c in json.loads(data)["validation"]}["config.prod/openai-main"]
    assert [(k["slot"], k["outcome"], k["detail"]) for k in keys["keys"]] == [
        ("api_key", "error", detail),
        ("backup_keys[0]", "valid", ""),
    ]
    assert not any(ENDLESS[3:] in text for text in (out, err, md, data))
