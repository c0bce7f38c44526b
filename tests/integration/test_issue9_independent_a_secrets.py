"""Issue 9, items 8 and 9 (secrets), tested from the issue's words.

8. A key with whitespace around it is refused (the README says which: refused, not stripped),
   never echoed; a provider message quoting the key past the 300th character leaks nothing;
   Vault's own error text cannot expose a credential.
9. A key in an api_base's query string (or anywhere else plain text is kept) and a key-shaped
   variable name are refused without being echoed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from baoserver import BaoServer, unique
from independent_kit import (
    BASE_STATE,
    Cli,
    make_cli,
    no_key_fragment,
    snapshot,
    write,
)
from support.provider_servers import ProviderServer


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return make_cli(tmp_path, monkeypatch, capsys)


SECRET = "sk-live-" + "Qm7ZpX2vLr9TkW4nJd8HbY3cFs6GtA1e"  # what the tests must never see
STORE = "sqlite:///stores/registry.db"
FORMATS = ["text", "markdown", "json"]


def all_output_and_files(cli: Cli, *texts: str) -> str:
    """Every output given plus every file under the working directory and the cache."""
    parts = list(texts)
    for rel, (_, content) in snapshot(cli.cwd).items():
        if isinstance(content, bytes) and not rel.endswith((".yaml", ".yml")):
            parts.append(content.decode("latin-1"))
    return "\n".join(parts)


# -- 8. whitespace around a key ------------------------------------------------------------------

AROUND = {
    "trailing-lf": SECRET + "\n",
    "trailing-crlf": SECRET + "\r\n",
    "trailing-cr": SECRET + "\r",
    "leading-space": " " + SECRET,
    "trailing-space": SECRET + " ",
    "trailing-tab": SECRET + "\t",
    "inner-lf": SECRET[:12] + "\n" + SECRET[12:],
    "non-ascii": SECRET + "é",
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shape", sorted(AROUND))
def test_a_key_with_whitespace_is_refused_and_never_shown(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, shape: str, fmt: str
) -> None:
    monkeypatch.setenv("CORP_KEY", AROUND[shape])
    with ProviderServer("openai", keys={SECRET: "valid"}, models=["m1", "m2"]) as server:
        write(
            cli.cwd / "state" / "llmform.yaml",
            BASE_STATE.replace("http://127.0.0.1:9/v1", server.api_base),
        )
        result = cli(
            "plan", "--format", fmt, "--trust-endpoint", server.api_base, "--store", STORE, "state"
        )
        assert server.requests == []
    assert result.code == 1, result.both
    assert "CORP_KEY" in result.both  # names the reference
    if fmt == "json":
        assert json.loads(result.out)["errors"]
    no_key_fragment(all_output_and_files(cli, result.out, result.err), SECRET)


@pytest.mark.parametrize("slot", ["backup_keys", "api_secret"])
def test_every_slot_is_checked(cli: Cli, monkeypatch: pytest.MonkeyPatch, slot: str) -> None:
    monkeypatch.setenv("BAD_KEY", SECRET + "\n")
    extra = (
        "    backup_keys:\n      - {env: BAD_KEY}\n"
        if slot == "backup_keys"
        else "    api_secret: {env: BAD_KEY}\n"
    )
    state = BASE_STATE.replace("    models: [m1]\n", extra + "    models: [m1]\n", 1)
    if slot == "api_secret":
        state = (
            "apiVersion: llmform/v1\nworkspaces:\n  - name: prod\nconfigs:\n"
            "  - name: main\n    workspace: prod\n    factory: Bedrock\n"
            "    region: eu-west-1\n    api_key: {env: CORP_KEY}\n"
            + extra
            + "    models: [cohere.rerank-v3-5:0]\n"
        )
    write(cli.cwd / "state" / "llmform.yaml", state)
    for command in (("plan",), ("apply", "--auto-approve")):
        result = cli(*command, "--no-validate-keys", "--store", STORE, "state")
        assert result.code == 1, result.both
        assert "BAD_KEY" in result.err
        assert slot in result.err
        no_key_fragment(result.both, SECRET)
    assert not (cli.cwd / "stores").exists()


def test_a_vault_value_with_a_trailing_newline_is_refused(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, bao: BaoServer
) -> None:
    """`echo $KEY | vault kv put ...` stores the newline."""
    mount = bao.kv_mount(2)
    bao.put(mount, "llm/corp", {"api_key": SECRET + "\n"})
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    monkeypatch.setenv("VAULT_TOKEN", "root")
    write(
        cli.cwd / "state" / "llmform.yaml",
        BASE_STATE.replace("{env: CORP_KEY}", f'{{vault: "{mount}/llm/corp#api_key"}}'),
    )
    for fmt in FORMATS:
        result = cli("plan", "--no-validate-keys", "--format", fmt, "--store", STORE, "state")
        assert result.code == 1, result.both
        assert "llm/corp" in result.both
        no_key_fragment(result.both, SECRET)


def test_a_vault_token_with_a_trailing_newline_is_stripped(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, bao: BaoServer
) -> None:
    """A login credential is llmform's own: its file's newline is stripped, not refused."""
    mount = bao.kv_mount(2)
    bao.put(mount, "llm/corp", {"api_key": SECRET})
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    monkeypatch.setenv("VAULT_TOKEN", "root\n")
    write(
        cli.cwd / "state" / "llmform.yaml",
        BASE_STATE.replace("{env: CORP_KEY}", f'{{vault: "{mount}/llm/corp#api_key"}}'),
    )
    result = cli("plan", "--no-validate-keys", "--store", STORE, "state")
    assert result.code == 0, result.both


# -- 8. a provider that quotes the key ---------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_provider_quoting_the_key_past_the_cut_leaks_nothing(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setenv("CORP_KEY", SECRET)
    with ProviderServer("openai", keys={SECRET: "echo"}, models=["m1", "m2"]) as server:
        write(
            cli.cwd / "state" / "llmform.yaml",
            BASE_STATE.replace("http://127.0.0.1:9/v1", server.api_base),
        )
        result = cli(
            "plan", "--format", fmt, "--trust-endpoint", server.api_base, "--store", STORE, "state"
        )
        assert SECRET in server.keys_seen()
    assert result.code == 1, result.both
    assert "invalid key" in result.out
    cache = Path(__import__("os").environ["XDG_CACHE_HOME"])
    cached = "\n".join(p.read_text(errors="replace") for p in cache.rglob("*") if p.is_file())
    no_key_fragment(result.out + result.err + cached, SECRET)


def test_the_echoed_key_is_masked_also_in_apply(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORP_KEY", SECRET)
    with ProviderServer("openai", keys={SECRET: "echo"}, models=["m1", "m2"]) as server:
        write(
            cli.cwd / "state" / "llmform.yaml",
            BASE_STATE.replace("http://127.0.0.1:9/v1", server.api_base),
        )
        result = cli(
            "apply",
            "--auto-approve",
            "--trust-endpoint",
            server.api_base,
            "--store",
            STORE,
            "state",
        )
    assert result.code == 1
    no_key_fragment(result.both, SECRET)
    assert not (cli.cwd / "stores").exists()


# -- 8. Vault's own error text -------------------------------------------------------------------


class EchoingVault:
    """A server (or a proxy in front of Vault) that answers every request with an error quoting
    the request: its path, its headers and its body."""

    def __init__(self, status: int) -> None:
        status_ = status

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode("latin-1")
                quoted = f"{self.command} {self.path} {dict(self.headers)!r} {body}"
                data = json.dumps({"errors": [f"cannot handle: {quoted}"]}).encode()
                self.send_response(status_)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def addr(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> EchoingVault:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


PASSWORD = "Pw-" + "Hq4Xz8Lm2Rt7Vb1Nc5Kd9"
LOGINS = {
    "token": {"VAULT_TOKEN": PASSWORD},
    "userpass": {
        "LLMFORM_VAULT_AUTH": "userpass",
        "LLMFORM_VAULT_USERNAME": "ci",
        "LLMFORM_VAULT_PASSWORD": PASSWORD,
    },
    "approle": {
        "LLMFORM_VAULT_AUTH": "approle",
        "LLMFORM_VAULT_ROLE_ID": "role-1",
        "LLMFORM_VAULT_SECRET_ID": PASSWORD,
    },
    "jwt": {"LLMFORM_VAULT_AUTH": "jwt", "LLMFORM_VAULT_ROLE": "ci", "LLMFORM_VAULT_JWT": PASSWORD},
}


@pytest.fixture(params=[400, 403, 500, 502])
def echoing_vault(request: pytest.FixtureRequest) -> Iterator[EchoingVault]:
    with EchoingVault(request.param) as server:
        yield server


@pytest.mark.parametrize("login", sorted(LOGINS))
def test_vault_quoting_the_login_request_exposes_no_credential(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, echoing_vault: EchoingVault, login: str
) -> None:
    monkeypatch.setenv("VAULT_ADDR", echoing_vault.addr)
    monkeypatch.setenv("VAULT_MAX_RETRIES", "0")
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0")
    for name, value in LOGINS[login].items():
        monkeypatch.setenv(name, value)
    write(
        cli.cwd / "state" / "llmform.yaml",
        BASE_STATE.replace("{env: CORP_KEY}", '{vault: "secret/llm/corp#api_key"}'),
    )
    for fmt in FORMATS:
        result = cli("plan", "--no-validate-keys", "--format", fmt, "--store", STORE, "state")
        assert result.code == 1, result.both
        no_key_fragment(result.both, PASSWORD)


def test_transit_quoting_the_request_exposes_no_token(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EchoingVault(500) as server:
        monkeypatch.setenv("VAULT_ADDR", server.addr)
        monkeypatch.setenv("VAULT_TOKEN", PASSWORD)
        monkeypatch.setenv("VAULT_MAX_RETRIES", "0")
        monkeypatch.setenv("LLMFORM_AUDIT_TRANSIT_KEY", "audit")
        write(cli.cwd / "state" / "llmform.yaml", BASE_STATE)
        result = cli("apply", "--auto-approve", "--no-validate-keys", "--store", STORE, "state")
    assert result.code == 1, result.both
    no_key_fragment(result.both, PASSWORD)


# -- 9. keys where plain text is kept ------------------------------------------------------------

KEY_LIKE = "sk-proj-" + "Tz5Wq2Yx8Kb3Nm6Lp9Rc4Vd7"

IN_API_BASE = {
    "api_key": f"https://llm.example.com/v1?api_key={KEY_LIKE}",
    "key": f"https://llm.example.com/v1?key={KEY_LIKE}",
    "token": f"https://llm.example.com/v1?token={KEY_LIKE}",
    "access_token": f"https://llm.example.com/v1?access_token={KEY_LIKE}",
    "x-api-key": f"https://llm.example.com/v1?x-api-key={KEY_LIKE}",
    "second-param": f"https://llm.example.com/v1?api-version=1&api_key={KEY_LIKE}",
    "any-param": f"https://llm.example.com/v1?q={KEY_LIKE}",
    "fragment": f"https://llm.example.com/v1#{KEY_LIKE}",
    "path": f"https://llm.example.com/{KEY_LIKE}/v1",
    "userinfo": f"https://user:{KEY_LIKE}@llm.example.com/v1",
    "encoded": "https://llm.example.com/v1?api%5Fkey=" + KEY_LIKE,
}


@pytest.mark.parametrize("where", ["config", "factory"])
@pytest.mark.parametrize("shape", sorted(IN_API_BASE))
def test_a_key_in_an_api_base_is_refused_without_echo(cli: Cli, shape: str, where: str) -> None:
    api_base = IN_API_BASE[shape]
    if where == "factory":
        state = BASE_STATE.replace("http://127.0.0.1:9/v1", api_base)
    else:
        state = BASE_STATE.replace(
            "    api_key: {env: CORP_KEY}\n    models: [m1]\n",
            f"    api_base: '{api_base}'\n    api_key: {{env: CORP_KEY}}\n    models: [m1]\n",
        )
    write(cli.cwd / "state" / "llmform.yaml", state)
    for args in (
        ("validate",),
        ("validate", "--format", "json"),
        ("plan", "--no-validate-keys", "--store", STORE),
        ("plan", "--no-validate-keys", "--format", "json", "--store", STORE),
        ("plan", "--no-validate-keys", "--format", "markdown", "--store", STORE),
        ("apply", "--auto-approve", "--no-validate-keys", "--store", STORE),
    ):
        result = cli(*args, "state")
        assert result.code == 1, (args, result.both)
        assert "llmform.yaml" in result.both  # names where
        no_key_fragment(result.both, KEY_LIKE)
    assert not (cli.cwd / "stores").exists()


@pytest.mark.parametrize(
    "reference",
    [
        f"{{env: {KEY_LIKE}}}",
        f'{{vault: "secret/llm/{KEY_LIKE}#api_key"}}',
        f'{{vault: "secret/llm/corp#{KEY_LIKE}"}}',
    ],
    ids=["env-name", "vault-path", "vault-key"],
)
def test_a_key_in_place_of_a_reference_is_refused_without_echo(cli: Cli, reference: str) -> None:
    write(
        cli.cwd / "state" / "llmform.yaml",
        BASE_STATE.replace("{env: CORP_KEY}", reference, 1),
    )
    for args in (
        ("validate",),
        ("validate", "--format", "json"),
        ("plan", "--no-validate-keys", "--format", "json", "--store", STORE),
    ):
        result = cli(*args, "state")
        assert result.code == 1, (args, result.both)
        no_key_fragment(result.both, KEY_LIKE)


@pytest.mark.parametrize(
    "field",
    ["description", "label-value", "label-key", "tag"],
)
def test_a_key_in_another_plain_text_field_is_refused(cli: Cli, field: str) -> None:
    state = {
        "description": BASE_STATE.replace("description: production", f"description: {KEY_LIKE}"),
        "label-value": BASE_STATE.replace(
            "description: production", f"description: production\n    labels: {{k: {KEY_LIKE}}}"
        ),
        "label-key": BASE_STATE.replace(
            "description: production", f"description: production\n    labels: {{{KEY_LIKE}: v}}"
        ),
        "tag": BASE_STATE.replace(
            "    api_base: http://127.0.0.1:9/v1\n",
            f"    api_base: http://127.0.0.1:9/v1\n    tags: [LLM, {KEY_LIKE}]\n",
        ),
    }[field]
    write(cli.cwd / "state" / "llmform.yaml", state)
    result = cli("validate", "state")
    assert result.code == 1, result.both
    no_key_fragment(result.both, KEY_LIKE)


@pytest.mark.parametrize(
    "state",
    [
        BASE_STATE.replace("{env: CORP_KEY}", "{env: OPENAI_API_KEY_2024_PROD}"),
        BASE_STATE.replace(
            "http://127.0.0.1:9/v1", "https://llm.example.com/v1?api-version=2024-10-21"
        ),
        BASE_STATE.replace("description: production", "description: ASIA-PACIFIC-1"),
        BASE_STATE.replace("description: production", "description: sk-llama-2-13b"),
        BASE_STATE.replace(
            "description: production",
            "description: built from 3f9c2b7e1d4a6c8b0e2f4a6c8b0d2e4f6a8c0b2d",
        ),
    ],
    ids=["chosen-env-name", "api-version", "region-name", "model-like", "commit-hash"],
)
def test_names_people_choose_are_not_mistaken_for_keys(cli: Cli, state: str) -> None:
    write(cli.cwd / "state" / "llmform.yaml", state)
    result = cli("validate", "state")
    assert result.code == 0, result.both


def test_a_vault_addr_holding_a_key_is_refused_without_echo(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ADDR", f"https://vault.example.com/?token={KEY_LIKE}")
    monkeypatch.setenv("VAULT_TOKEN", "root")
    write(
        cli.cwd / "state" / "llmform.yaml",
        BASE_STATE.replace("{env: CORP_KEY}", '{vault: "secret/llm/corp#api_key"}'),
    )
    result = cli("plan", "--no-validate-keys", "--store", STORE, "state")
    assert result.code == 1, result.both
    assert "VAULT_ADDR" in result.err
    no_key_fragment(result.both, KEY_LIKE)


def test_vault_unknown_mount_or_path_named_without_the_value(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, bao: BaoServer
) -> None:
    """A resolution error names the reference, never the value of a sibling that resolved."""
    mount = bao.kv_mount(2)
    bao.put(mount, unique("llm"), {"api_key": SECRET})
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    monkeypatch.setenv("VAULT_TOKEN", "root")
    write(
        cli.cwd / "state" / "llmform.yaml",
        BASE_STATE.replace("{env: CORP_KEY}", f'{{vault: "{mount}/missing#api_key"}}'),
    )
    result = cli("plan", "--no-validate-keys", "--store", STORE, "state")
    assert result.code == 1, result.both
    assert "missing" in result.err
    no_key_fragment(result.both, SECRET)
