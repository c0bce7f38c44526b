"""Issue 9, item 6: a key is sent only to a trusted endpoint, tested from the issue's words.

Trusted: the built-in catalog's endpoints, one already applied to the store by a trusted run,
or one allowed by settings a pull request cannot change (LLMFORM_TRUSTED_ENDPOINTS, the file
LLMFORM_TRUSTED_ENDPOINTS_FILE names, --trust-endpoint). Any other endpoint gets no request,
is reported as `not checked: endpoint not yet trusted`, and blocks apply.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from independent_kit import (
    BASE_STATE,
    CORP_KEY,
    Cli,
    make_cli,
    snapshot,
    write,
)
from support.provider_servers import ProviderServer

NOT_TRUSTED = "not checked: endpoint not yet trusted"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return make_cli(tmp_path, monkeypatch, capsys)


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer("openai", keys={CORP_KEY: "valid"}, models=["m1", "m2"]) as running:
        yield running


def state_for(cli: Cli, api_base: str, folder: str = "state") -> Path:
    return write(
        cli.cwd / folder / "llmform.yaml", BASE_STATE.replace("http://127.0.0.1:9/v1", api_base)
    )


STORE = "sqlite:///stores/registry.db"


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_an_untrusted_endpoint_gets_no_request_and_the_plan_says_so(
    cli: Cli, server: ProviderServer, fmt: str
) -> None:
    state_for(cli, server.api_base)
    result = cli("plan", "--format", fmt, "--store", STORE, "state")
    assert result.code == 0, result.both
    assert server.requests == []
    assert NOT_TRUSTED in result.out, result.out
    if fmt == "json":
        json.loads(result.out)
    assert CORP_KEY not in result.both


def test_an_untrusted_endpoint_is_a_change_with_detailed_exitcode(
    cli: Cli, server: ProviderServer
) -> None:
    state_for(cli, server.api_base)
    result = cli("plan", "--detailed-exitcode", "--store", STORE, "state")
    assert result.code == 2, result.both
    assert server.requests == []


def test_apply_refuses_an_untrusted_endpoint_and_writes_nothing(
    cli: Cli, server: ProviderServer
) -> None:
    state_for(cli, server.api_base)
    before = snapshot(cli.cwd)
    result = cli("apply", "--auto-approve", "--store", STORE, "state")
    assert result.code == 1, result.both
    assert server.api_base in result.err
    assert "--trust-endpoint" in result.err or "LLMFORM_TRUSTED_ENDPOINTS" in result.err
    assert server.requests == []
    assert snapshot(cli.cwd) == before


def test_trust_endpoint_flag_lets_the_key_be_checked_and_applied(
    cli: Cli, server: ProviderServer
) -> None:
    state_for(cli, server.api_base)
    trust = ("--trust-endpoint", server.api_base)
    plan = cli("plan", *trust, "--store", STORE, "state")
    assert plan.code == 0, plan.both
    assert NOT_TRUSTED not in plan.out
    assert CORP_KEY in server.keys_seen()
    apply = cli("apply", "--auto-approve", *trust, "--store", STORE, "state")
    assert apply.code == 0, apply.both


@pytest.mark.parametrize("separator", [",", " ", "\n", ", "])
def test_the_environment_variable_trusts_a_list(
    cli: Cli, server: ProviderServer, monkeypatch: pytest.MonkeyPatch, separator: str
) -> None:
    state_for(cli, server.api_base)
    monkeypatch.setenv(
        "LLMFORM_TRUSTED_ENDPOINTS",
        separator.join(["https://llm.example.com/v1", server.api_base, "http://10.0.0.1:8000"]),
    )
    result = cli("plan", "--store", STORE, "state")
    assert result.code == 0, result.both
    assert NOT_TRUSTED not in result.out
    assert CORP_KEY in server.keys_seen()


def test_a_trust_file_outside_the_planned_paths_trusts_its_lines(
    cli: Cli,
    server: ProviderServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    state_for(cli, server.api_base)
    outside = tmp_path_factory.mktemp("ci-settings") / "trusted.txt"
    outside.write_text(
        f"# reviewed endpoints\n\nhttps://llm.example.com/v1\n{server.api_base}   # vLLM\n"
    )
    monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS_FILE", str(outside))
    result = cli("plan", "--store", STORE, "state")
    assert result.code == 0, result.both
    assert NOT_TRUSTED not in result.out
    assert CORP_KEY in server.keys_seen()


def test_a_trust_file_inside_the_planned_paths_is_refused(
    cli: Cli, server: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pull request could edit it."""
    state_for(cli, server.api_base)
    inside = write(cli.cwd / "state" / "trusted.txt", server.api_base + "\n")
    monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS_FILE", str(inside))
    result = cli("plan", "--store", STORE, "state")
    assert server.requests == []
    assert result.code == 1, result.both
    assert "trusted.txt" in result.err


def test_an_endpoint_applied_by_a_trusted_run_is_trusted_afterwards(
    cli: Cli, server: ProviderServer
) -> None:
    state_for(cli, server.api_base)
    first = cli(
        "apply", "--auto-approve", "--trust-endpoint", server.api_base, "--store", STORE, "state"
    )
    assert first.code == 0, first.both
    server.requests.clear()
    write(
        cli.cwd / "state" / "llmform.yaml",
        (cli.cwd / "state" / "llmform.yaml").read_text().replace("production", "prod v2"),
    )
    result = cli("plan", "--check-cache-ttl", "0", "--store", STORE, "state")
    assert result.code == 0, result.both
    assert NOT_TRUSTED not in result.out
    assert CORP_KEY in server.keys_seen()


def test_an_applied_endpoint_does_not_trust_a_new_one_beside_it(
    cli: Cli, server: ProviderServer
) -> None:
    """The store trusts what it holds, not its host: another path on the same server is new."""
    state_for(cli, server.api_base)
    assert (
        cli(
            "apply",
            "--auto-approve",
            "--trust-endpoint",
            server.api_base,
            "--store",
            STORE,
            "state",
        ).code
        == 0
    )
    server.requests.clear()
    state_for(cli, server.url + "/v2")
    result = cli("plan", "--store", STORE, "state")
    assert server.requests == []
    assert NOT_TRUSTED in result.out


@pytest.mark.parametrize(
    ("trusted", "checked"),
    [
        ("{url}/v1", True),
        ("{url}", True),
        ("{url}/", True),
        ("{url}/v", False),
        ("{url}/v1/models/x", False),
        ("http://127.0.0.2:{port}/v1", False),
        ("https://127.0.0.1:{port}/v1", False),
    ],
)
def test_a_trusted_url_covers_its_path_and_below_only(
    cli: Cli, server: ProviderServer, trusted: str, checked: bool
) -> None:
    state_for(cli, server.api_base)
    port = server.url.rsplit(":", 1)[1]
    flag = trusted.format(url=server.url, port=port)
    result = cli("plan", "--trust-endpoint", flag, "--store", STORE, "state")
    assert result.code == 0, result.both
    assert (CORP_KEY in server.keys_seen()) is checked
    assert (NOT_TRUSTED in result.out) is not checked


def test_a_factory_named_like_the_catalogs_is_trusted_by_url_not_by_name(
    cli: Cli, server: ProviderServer
) -> None:
    write(
        cli.cwd / "state" / "llmform.yaml",
        f"""\
apiVersion: llmform/v1
factories:
  - name: OpenAI
    type: openai
    api_base: {server.api_base}
    models:
      - {{name: m1, type: chat, max_tokens: 1000}}
workspaces:
  - name: prod
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {{env: CORP_KEY}}
    models: [m1]
""",
    )
    result = cli("plan", "--store", STORE, "state")
    assert server.requests == []
    assert NOT_TRUSTED in result.out, result.both


def test_a_catalog_factory_pointed_elsewhere_by_a_config_is_not_trusted(
    cli: Cli, server: ProviderServer
) -> None:
    write(
        cli.cwd / "state" / "llmform.yaml",
        f"""\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_base: {server.api_base}
    api_key: {{env: CORP_KEY}}
    models: [gpt-4o-mini]
""",
    )
    result = cli("plan", "--store", STORE, "state")
    assert server.requests == []
    assert NOT_TRUSTED in result.out, result.both


def test_userinfo_cannot_borrow_a_trusted_host(cli: Cli, server: ProviderServer) -> None:
    """`https://llm.corp@evil.com` goes to evil.com: trusting llm.corp does not cover it."""
    port = server.url.rsplit(":", 1)[1]
    state_for(cli, f"http://llm.corp@127.0.0.1:{port}/v1")
    result = cli("plan", "--trust-endpoint", "http://llm.corp/v1", "--store", STORE, "state")
    assert server.requests == []
    assert result.code == 1 or NOT_TRUSTED in result.out, result.both


def test_a_trusted_endpoint_cannot_redirect_the_key_elsewhere(cli: Cli) -> None:
    with ProviderServer("openai", keys={CORP_KEY: "valid"}, models=["m1", "m2"]) as elsewhere:
        moved = (302, {"location": elsewhere.api_base + "/models"}, "")
        with ProviderServer("openai", keys={CORP_KEY: moved}) as trusted:
            state_for(cli, trusted.api_base)
            result = cli("plan", "--trust-endpoint", trusted.api_base, "--store", STORE, "state")
            assert CORP_KEY in trusted.keys_seen()
        assert elsewhere.requests == []
    assert result.code == 1, result.both  # the check did not succeed
    assert CORP_KEY not in result.both


def test_a_saved_plan_with_an_untrusted_endpoint_is_not_applied(
    cli: Cli, server: ProviderServer
) -> None:
    assert cli("init", "--store", STORE).code == 0
    state_for(cli, server.api_base)
    saved = cli("plan", "-o", "p.plan", "--store", STORE, "state")
    assert saved.code == 0, saved.both
    before = snapshot(cli.cwd / "stores")
    result = cli("apply", "--store", STORE, "p.plan")
    assert result.code == 1, result.both
    assert server.api_base in result.err
    assert snapshot(cli.cwd / "stores") == before
    assert server.requests == []


def test_no_validate_keys_sends_nothing_and_applies(cli: Cli, server: ProviderServer) -> None:
    state_for(cli, server.api_base)
    result = cli("apply", "--auto-approve", "--no-validate-keys", "--store", STORE, "state")
    assert result.code == 0, result.both
    assert server.requests == []


def test_a_store_git_tracks_trusts_none_of_its_endpoints(cli: Cli, server: ProviderServer) -> None:
    """A pull request could commit a store of its own making."""

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
            cwd=cli.cwd,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    state_for(cli, server.api_base)
    store = "sqlite:///registry.db"
    first = cli(
        "apply", "--auto-approve", "--trust-endpoint", server.api_base, "--store", store, "state"
    )
    assert first.code == 0, first.both
    git("add", "registry.db")
    server.requests.clear()
    result = cli("plan", "--store", store, "state")
    assert server.requests == []
    assert NOT_TRUSTED in result.out, result.both
    assert "registry.db" in result.err  # the warning names the file


def test_catalog_endpoints_are_trusted(cli: Cli) -> None:
    """The built-in catalog's endpoint gets its check (here: Ollama's local default, which is
    not running, so the key check reports it unreachable rather than not trusted)."""
    write(
        cli.cwd / "state" / "llmform.yaml",
        """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: local
    workspace: prod
    factory: Ollama
    models: [llama3.2]
""",
    )
    result = cli("plan", "--store", STORE, "state")
    assert NOT_TRUSTED not in result.out, result.out
