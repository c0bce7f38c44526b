"""A pull request cannot make a key check send a key to its own server: an endpoint that is
not trusted gets no request at all, the plan says so per key, and apply refuses (the store is
left byte for byte). Each trusted source is tried (the catalog, the store, the environment, a
file, the flag), and the ways around it: a trust file the change can edit, a redirect, a proxy.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.provider_servers import ProviderServer

from llmform.cli import main

KEY = "sk-trust-key-1234567890abcdef"
OTHER = "sk-trust-other-0987654321zyxw"
NOT_TRUSTED = "not checked: endpoint not yet trusted"

BASELINE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
"""

# What a pull request adds: a factory named like the catalog's, pointing at its own server.
ATTACK = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
factories:
  - name: OpenAI
    type: openai
    api_base: {url}
    models: [{{name: gpt-4o, type: chat}}]
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {{env: TRUST_KEY}}
    backup_keys: [{{env: TRUST_OTHER}}]
    models: [gpt-4o]
"""


@dataclass
class Repo:
    path: Path
    server: ProviderServer
    capsys: pytest.CaptureFixture[str]

    @property
    def store(self) -> Path:
        return self.path / "store.db"

    def write(self, text: str) -> None:
        (self.path / "configs").mkdir(exist_ok=True)
        (self.path / "configs" / "llmform.yaml").write_text(text)

    def run(self, *args: str) -> tuple[int, str, str]:
        code = main(["--no-color", *args])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        assert KEY not in out + err and OTHER not in out + err
        return code, out, err


@pytest.fixture()
def repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Repo]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0.01")
    monkeypatch.setenv("TRUST_KEY", KEY)
    monkeypatch.setenv("TRUST_OTHER", OTHER)
    for name in ("LLMFORM_TRUSTED_ENDPOINTS", "LLMFORM_TRUSTED_ENDPOINTS_FILE"):
        monkeypatch.delenv(name, raising=False)
    keys = {KEY: "valid", OTHER: "valid"}
    with ProviderServer("openai", keys, models=["gpt-4o"]) as server:
        repo = Repo(tmp_path, server, capsys)
        repo.write(BASELINE)
        assert repo.run("apply", "--auto-approve", "configs")[0] == 0
        repo.write(ATTACK.format(url=server.api_base))
        yield repo


def test_a_pull_request_endpoint_gets_no_key_and_apply_refuses(repo: Repo) -> None:
    before = repo.store.read_bytes()
    code, out, _ = repo.run("plan", "--detailed-exitcode", "configs")
    assert code == 2  # a readable plan with changes: the reviewer decides, apply is the gate
    endpoint = repo.server.api_base
    assert (
        "Key checks: 2 keys of 1 config, 2 not checked.\n"
        f"  config.prod/main  api_key: {NOT_TRUSTED} ({endpoint})\n"
        f"  config.prod/main  backup_keys[0]: {NOT_TRUSTED} ({endpoint})\n"
        "\n"
        "Endpoints not yet trusted (no request was sent to them; apply refuses until each is "
        "trusted):\n"
        f"  {endpoint}  (config.prod/main)\n"
        "Once an endpoint is reviewed, trust it with --trust-endpoint URL, or add it to "
        "LLMFORM_TRUSTED_ENDPOINTS"
    ) in out

    code, markdown, _ = repo.run("plan", "--format", "markdown", "configs")
    assert code == 0
    assert "**Key checks** (2 not checked)" in markdown
    # the PR's URL is shown, not linked (escape.md_text breaks GitHub's autolinks)
    shown = endpoint.replace("http://", "http\\://")
    assert f"| `config.prod/main` | `api_key` | ⚠️ {NOT_TRUSTED} ({shown}) |" in markdown
    assert f"- `{endpoint}` (`config.prod/main`)" in markdown

    code, text, _ = repo.run("plan", "--format", "json", "configs")
    assert code == 0
    document = json.loads(text)
    (check,) = document["validation"]
    assert [(k["outcome"], k["detail"], k["passed"]) for k in check["keys"]] == [
        ("untrusted_endpoint", endpoint, False),
        ("untrusted_endpoint", endpoint, False),
    ]
    assert document["errors"] == []
    assert any(
        w.startswith(f"{NOT_TRUSTED}: {endpoint} (config.prod/main)") for w in document["warnings"]
    )

    code, _, err = repo.run("apply", "--auto-approve", "configs")
    assert code == 1
    assert (
        "2 key(s) were not checked because their endpoint is not yet trusted, so nothing was "
        f"applied:\n  {endpoint}: config.prod/main api_key, config.prod/main backup_keys[0]\n"
    ) in err
    for way in (
        "--trust-endpoint URL",
        "LLMFORM_TRUSTED_ENDPOINTS",
        "LLMFORM_TRUSTED_ENDPOINTS_FILE",
    ):
        assert way in err
    assert repo.server.requests == []
    assert repo.store.read_bytes() == before


def test_a_saved_plan_with_an_untrusted_endpoint_needs_trust_at_apply(repo: Repo) -> None:
    code, _, err = repo.run("plan", "-o", "pr.plan", "configs")
    assert code == 0
    assert "(apply refuses it until the endpoints listed above are trusted)" in err
    before = repo.store.read_bytes()
    code, _, err = repo.run("apply", "--auto-approve", "pr.plan")
    assert code == 1 and "not yet trusted, so nothing was applied" in err
    assert repo.store.read_bytes() == before
    code, out, err = repo.run(
        "apply", "--auto-approve", "--trust-endpoint", repo.server.api_base, "pr.plan"
    )
    assert code == 0, err
    assert "were not checked when it was made" in err
    assert "Apply complete! Resources: 2 added" in out
    assert repo.server.requests == []  # a saved plan is applied as made, never re-checked


def _passes(repo: Repo, *args: str) -> None:
    code, out, err = repo.run("plan", "--check-cache-ttl", "0", *args, "configs")
    assert code == 0, out + err
    assert "Key checks: 2 keys of 1 config, all passed." in out
    assert NOT_TRUSTED not in out
    assert sorted(repo.server.keys_seen()) == [KEY, OTHER]


def test_the_flag_trusts_an_endpoint(repo: Repo) -> None:
    _refused(repo)
    _passes(repo, "--trust-endpoint", repo.server.url)


def _refused(repo: Repo) -> None:
    code, out, _ = repo.run("plan", "configs")
    assert code == 0 and NOT_TRUSTED in out and repo.server.requests == []


def test_the_environment_trusts_an_endpoint(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    _refused(repo)
    monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", f"https://other.corp, {repo.server.api_base}/")
    _passes(repo)


def test_a_file_outside_the_planned_paths_trusts_an_endpoint(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _refused(repo)
    listed = tmp_path_factory.mktemp("runner") / "trusted-endpoints"
    spelt = repo.server.api_base.replace("http://", "HTTP://")
    listed.write_text(f"# reviewed endpoints\n\n{spelt}   # the team's gateway\n")
    monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS_FILE", str(listed))
    _passes(repo)


def test_a_file_inside_the_planned_paths_is_refused(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = repo.path / "configs" / "trusted-endpoints"
    listed.write_text(repo.server.api_base + "\n")
    monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS_FILE", str(listed))
    code, _, err = repo.run("plan", "configs")
    assert code == 1
    assert f"LLMFORM_TRUSTED_ENDPOINTS_FILE: {listed} lies inside the planned path configs" in err
    code, _, err = repo.run("apply", "--auto-approve", "configs")
    assert code == 1 and "lies inside the planned path configs" in err
    assert repo.server.requests == []


def test_an_endpoint_applied_by_a_trusted_run_stays_trusted(repo: Repo) -> None:
    code, _, err = repo.run(
        "apply", "--auto-approve", "--trust-endpoint", repo.server.api_base, "configs"
    )
    assert code == 0, err
    repo.server.requests.clear()
    _passes(repo)
    # A later change that moves the endpoint is not trusted by the old one.
    repo.write(ATTACK.format(url=repo.server.url + "/v2"))
    code, out, _ = repo.run("plan", "configs")
    assert code == 0 and f"{NOT_TRUSTED} ({repo.server.url}/v2)" in out


def _git(repo: Repo, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=pr@example.com", "-c", "user.name=pr", *args],
        cwd=repo.path,
        check=True,
        capture_output=True,
    )


def test_a_store_a_pull_request_can_commit_trusts_nothing(repo: Repo) -> None:
    """A store file in the repository: a pull request can commit one in which its endpoint
    counts as applied. While git tracks the file, its endpoints are not trusted (and it is
    warned about); untracked, as a developer's local store is, it trusts them again."""
    code, _, err = repo.run(
        "apply", "--auto-approve", "--trust-endpoint", repo.server.api_base, "configs"
    )
    assert code == 0, err
    repo.server.requests.clear()
    _git(repo, "init", "-q", ".")
    _git(repo, "add", "configs", "store.db")
    _git(repo, "commit", "-q", "-m", "a store of the pull request's making")
    warning = (
        f"warning: git tracks the store file {repo.store} (in {repo.path}): a change under "
        "review can rewrite it, so the endpoints in it are not trusted for key checks"
    )
    for command in (["plan"], ["plan", "--format", "json"], ["apply", "--auto-approve"]):
        code, out, err = repo.run(*command, "configs")
        assert warning in err and "git rm --cached store.db" in err, err
        assert code == (1 if command[0] == "apply" else 0)
        assert NOT_TRUSTED in out + err or "not yet trusted" in err
    assert repo.server.requests == []
    _git(repo, "rm", "-q", "--cached", "store.db")  # a local store the repository ignores
    code, out, err = repo.run("plan", "--check-cache-ttl", "0", "configs")
    assert code == 0 and "warning: git tracks" not in err
    assert "Key checks: 2 keys of 1 config, all passed." in out


def test_a_redirect_from_a_trusted_endpoint_is_not_followed(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ProviderServer("openai", {KEY: "valid", OTHER: "valid"}, models=["gpt-4o"]) as thief:
        to_thief = (302, {"location": thief.api_base + "/models"}, "")
        repo.server.keys = {KEY: to_thief, OTHER: to_thief}
        code, out, _ = repo.run("plan", "--trust-endpoint", repo.server.url, "configs")
        assert code == 1
        assert "api_key: error (HTTP 302" in out and "not followed" in out
        assert thief.requests == []


class Recorder:
    """A bare HTTP server that records every request line (a proxy's CONNECT included) and
    answers 502."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                recorder.lines.append(self.requestline)
                self.send_error(502)

            do_GET = do_CONNECT = do_POST = _record

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


CATALOG_AND_ATTACK = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: catalog
    workspace: prod
    factory: OpenAI
    api_key: {env: TRUST_KEY}
    models: [gpt-4o]
  - name: attack
    workspace: prod
    factory: OpenAI-API-Compatible
    api_base: http://attacker.invalid/v1
    api_key: {env: TRUST_OTHER}
    models: [{name: gpt-4o, type: chat}]
"""


def test_the_catalog_is_trusted_and_a_proxy_changes_nothing(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a proxy from the environment: the catalog's OpenAI endpoint is tried (the proxy
    sees the CONNECT to it, never the key, which TLS would carry), the attacker's endpoint is
    not (the proxy would see its request in full)."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    repo.write(CATALOG_AND_ATTACK)
    with Recorder() as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, proxy.url)
        code, out, _ = repo.run("plan", "configs")
    assert code == 1  # the catalog's endpoint was unreachable through this proxy
    assert "config.prod/catalog  api_key: unreachable" in out
    assert f"config.prod/attack   api_key: {NOT_TRUSTED} (http://attacker.invalid/v1)" in out
    assert proxy.lines and set(proxy.lines) == {"CONNECT api.openai.com:443 HTTP/1.1"}
