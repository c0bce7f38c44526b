"""A Vault (or something at VAULT_ADDR posing as one) that misbehaves: it quotes the login
request in its error, answers 500 or a status hvac has no name for, or a body that is not
Vault's JSON. Each is a clear error that names what to check, never ``internal error``, and
no credential sent (token, secret_id, password, JWT) appears in it, in any form.

A real OpenBao quotes no request and cannot be made to answer 500 on demand, so these faults
come from a small local server; what OpenBao itself says on a refused login is checked against
the real server at the end.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from baoserver import BaoServer, unique
from support.fake_vault import OK_READ, Answer, FakeVault, echo, fake_vault

from llmform.cli import main
from llmform.desired.model import VaultRef
from llmform.secrets.base import SecretValue
from llmform.secrets.crypto import CipherError, TransitCipher
from llmform.secrets.errors import VaultAuthError, VaultConfigError, VaultUnavailable
from llmform.secrets.settings import VaultSettings, settings_from_env
from llmform.secrets.vault import VaultResolver


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    with fake_vault() as fake:
        yield fake


REF = VaultRef(path="secret/llm", key="api_key")


def canary(kind: str) -> str:
    return f"{kind}-CANARY-{secrets.token_hex(10)}"


def pieces(value: str) -> list[str]:
    return [value[i : i + 8] for i in range(len(value) - 7)]


def assert_not_in(text: str, *values: str) -> None:
    for value in values:
        leaked = [piece for piece in pieces(value) if piece in text]
        assert not leaked, (leaked, text)


def logins(url: str) -> list[tuple[str, str, VaultSettings, str]]:
    """(method, login path, settings, the credential sent) for each login method."""
    token, secret_id, password, jwt = (canary(k) for k in ("hvs", "sid", "pw", "eyJ"))
    return [
        (
            "token",
            "/v1/auth/token/lookup-self",
            VaultSettings(addr=url, token=SecretValue(token)),
            token,
        ),
        (
            "approle",
            "/v1/auth/approle/login",
            VaultSettings(
                addr=url, auth="approle", role_id="role-1", secret_id=SecretValue(secret_id)
            ),
            secret_id,
        ),
        (
            "userpass",
            "/v1/auth/userpass/login/ana",
            VaultSettings(
                addr=url, auth="userpass", username="ana", password=SecretValue(password)
            ),
            password,
        ),
        (
            "jwt",
            "/v1/auth/jwt/login",
            VaultSettings(addr=url, auth="jwt", role="ci", jwt=SecretValue(jwt)),
            jwt,
        ),
    ]


@pytest.mark.parametrize("status", [400, 401, 403, 405, 500])
@pytest.mark.parametrize("method", ["token", "approle", "userpass", "jwt"])
def test_a_vault_quoting_the_login_request_shows_no_credential(
    vault: FakeVault, method: str, status: int
) -> None:
    ((_, path, settings, credential),) = [c for c in logins(vault.url) if c[0] == method]
    vault.route(path, echo(status))
    with pytest.raises((VaultAuthError, VaultUnavailable)) as caught:
        VaultResolver(settings, sleep=lambda s: None).resolve([REF])
    message = str(caught.value)
    assert "invalid request to" in message or status in (403,), message  # Vault's words pass
    assert "[key]" in message or status == 403, message
    assert_not_in(message + repr(caught.value), credential)


def test_transit_quoting_the_plaintext_shows_no_key(vault: FakeVault) -> None:
    """Transit receives the value base64-encoded: quoted back, it is still recognised."""
    key = SecretValue(canary("sk"))
    vault.route("/v1/transit/encrypt/", echo(400))
    cipher = TransitCipher(VaultSettings(addr=vault.url, token=SecretValue("root-token")), "llm")
    with pytest.raises(CipherError) as caught:
        cipher.encrypt(key, "config.prod/a#api_key")
    message = str(caught.value)
    assert base64.b64encode(key.reveal().encode()).decode()[:12] not in message
    assert_not_in(message, key.reveal())
    assert "[key]" in message


# (what the server does, where, what the error must say)
FAULTS: list[tuple[str, str, list[object], type[Exception], str]] = [
    (
        "500 with Vault's JSON on a read",
        "/v1/secret/data/",
        [(500, "application/json", {"errors": ["internal error"]})],
        VaultUnavailable,
        "answered read secret/data/llm with HTTP 500: a failure on the server's side, without "
        "detail (its log has it); check the server's health (`vault status`) and logs, then "
        "run again",
    ),
    (
        "500 with an HTML page on the login",
        "/v1/auth/token/lookup-self",
        [(500, "text/html", "<html><body>Oops</body></html>")],
        VaultUnavailable,
        "answered token lookup-self with HTTP 500: an answer that is not Vault's JSON (is "
        "VAULT_ADDR the Vault server itself?)",
    ),
    (
        "a status hvac has no name for",
        "/v1/sys/internal/ui/mounts/",
        [(418, "application/json", {"errors": ["short and stout"]})],
        VaultUnavailable,
        "answered mount lookup for secret/llm with HTTP 418: short and stout",
    ),
    (
        "a 504 from a gateway, every time",
        "/v1/secret/data/",
        [(504, "text/html", "<html>Gateway Timeout</html>")],
        VaultUnavailable,
        "kept answering 504 Gateway Timeout to read secret/data/llm after 2 retries",
    ),
    (
        "a web page where Vault should be",
        "/v1/auth/token/lookup-self",
        [(200, "text/html", "<html><body>Sign in</body></html>")],
        VaultUnavailable,
        "answered token lookup-self with HTTP 200 with a body that is not Vault's JSON; is "
        "VAULT_ADDR the Vault server itself",
    ),
    (
        "a JSON list instead of an object",
        "/v1/sys/internal/ui/mounts/",
        [(200, "application/json", [1, 2, 3])],
        VaultUnavailable,
        "answered mount lookup for secret/llm with a body that is not Vault's JSON",
    ),
]


@pytest.mark.parametrize(
    ("where", "answers", "error", "words"),
    [case[1:] for case in FAULTS],
    ids=[case[0] for case in FAULTS],
)
def test_unexpected_answers_are_clear_errors(
    vault: FakeVault, where: str, answers: list[object], error: type[Exception], words: str
) -> None:
    vault.route(where, *answers)
    settings = VaultSettings(addr=vault.url, token=SecretValue("root-token"), max_retries=2)
    with pytest.raises(error) as caught:
        VaultResolver(settings, sleep=lambda s: None).resolve([REF])
    assert f"Vault at {vault.url} {words}" in str(caught.value)


def test_a_502_is_retried_like_a_503(vault: FakeVault) -> None:
    vault.route("/v1/secret/data/", (502, "text/html", "<html>Bad Gateway</html>"), OK_READ)
    slept: list[float] = []
    settings = VaultSettings(addr=vault.url, token=SecretValue("root-token"))
    result = VaultResolver(settings, sleep=slept.append).resolve([REF])
    assert result.values[REF].reveal() == "sk-fine-value"
    assert slept == [0.25]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ((200, "application/json", {"data": "not a map"}), "holds no key/value data"),
        ((200, "application/json", {"data": {"data": ["a", "list"]}}), "holds no key/value data"),
        ((200, "application/json", {"data": {"data": {"api_key": 42}}}), "holds a number"),
    ],
)
def test_odd_read_answers_are_problems_of_that_secret(
    vault: FakeVault, answer: Answer, words: str
) -> None:
    vault.route("/v1/secret/data/", answer)
    settings = VaultSettings(addr=vault.url, token=SecretValue("root-token"))
    (problem,) = VaultResolver(settings).resolve([REF]).problems
    assert words in problem.message


def test_a_login_answer_without_a_token(vault: FakeVault) -> None:
    vault.route("/v1/auth/approle/login", (200, "application/json", {"auth": None}))
    settings = VaultSettings(
        addr=vault.url, auth="approle", role_id="r", secret_id=SecretValue(canary("sid"))
    )
    with pytest.raises(VaultAuthError) as caught:
        VaultResolver(settings).resolve([REF])
    assert str(caught.value) == (
        f"Vault at {vault.url} answered the approle login at auth/approle without a token; is "
        "VAULT_ADDR the Vault server itself (not a proxy or a web page)?"
    )


@pytest.mark.parametrize("bad", ["\n", "\r\n", "é", "\x1b"], ids=repr)
def test_a_token_no_header_can_carry_is_refused_by_name(bad: str, tmp_path: Path) -> None:
    token = canary("hvs")
    value = token[:10] + bad + token[10:]
    with pytest.raises(VaultConfigError) as caught:
        settings_from_env({"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": value}, tmp_path)
    assert str(caught.value).startswith("the token in VAULT_TOKEN holds ")
    assert_not_in(str(caught.value), token)
    (tmp_path / ".vault-token").write_text(value + "\n", encoding="utf-8")
    with pytest.raises(VaultConfigError, match=r"the token in .*\.vault-token holds "):
        settings_from_env({"VAULT_ADDR": "http://127.0.0.1:1"}, tmp_path)


def test_the_cli_reports_a_vault_500_and_an_echo_without_internal_error(
    vault: FakeVault,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_MAX_RETRIES", "0")
    (tmp_path / "llmform.yaml").write_text(
        "apiVersion: llmform/v1\nworkspaces: [{name: prod}]\nconfigs:\n"
        "  - {name: a, workspace: prod, factory: OpenAI, models: [gpt-4o],\n"
        '     api_key: {vault: "secret/llm#api_key"}}\n'
    )
    vault.route("/v1/secret/data/", (500, "application/json", {"errors": ["storage down"]}))
    monkeypatch.setenv("VAULT_TOKEN", "root-token")
    assert main(["--no-color", "plan", "--no-validate-keys", "llmform.yaml"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: Vault at {vault.url} answered read secret/data/llm with HTTP 500: storage "
        "down; check the server's health (`vault status`) and logs, then run again\n"
    )
    secret_id = canary("sid")
    monkeypatch.setenv("LLMFORM_VAULT_AUTH", "approle")
    monkeypatch.setenv("LLMFORM_VAULT_ROLE_ID", "role-1")
    monkeypatch.setenv("LLMFORM_VAULT_SECRET_ID", secret_id)
    vault.route("/v1/auth/approle/login", echo(400))
    assert main(["--no-color", "plan", "--no-validate-keys", "llmform.yaml"]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("error: Vault refused the approle login at auth/approle: invalid request")
    assert "internal error" not in err
    assert_not_in(out + err, secret_id)


# -- what a real OpenBao says when it refuses a login -------------------------------------------


def test_a_real_openbao_refusal_names_the_reason_not_the_credential(
    bao: BaoServer, tmp_path: Path
) -> None:
    path = unique("approle")
    root = bao.root()
    root.sys.enable_auth_method("approle", path=path)
    root.auth.approle.create_or_update_approle("ci", token_ttl="5m", mount_point=path)
    role_id = root.auth.approle.read_role_id("ci", mount_point=path)["data"]["role_id"]
    wrong = canary("sid")
    settings = settings_from_env(
        {
            "VAULT_ADDR": bao.addr,
            "LLMFORM_VAULT_AUTH": "approle",
            "LLMFORM_VAULT_AUTH_PATH": path,
            "LLMFORM_VAULT_ROLE_ID": role_id,
            "LLMFORM_VAULT_SECRET_ID": wrong,
        },
        home=tmp_path,
    )
    with pytest.raises(VaultAuthError) as caught:
        VaultResolver(settings).resolve([REF])
    assert str(caught.value) == (
        f"Vault refused the approle login at auth/{path}: invalid role or secret ID; check "
        "LLMFORM_VAULT_ROLE_ID and LLMFORM_VAULT_SECRET_ID (a secret_id can expire or run out "
        "of uses)"
    )
    userpass = unique("userpass")
    root.sys.enable_auth_method("userpass", path=userpass)
    password = canary("pw")
    user = replace(
        settings,
        auth="userpass",
        auth_path=userpass,
        username="ana",
        password=SecretValue(password),
    )
    with pytest.raises(VaultAuthError) as caught:
        VaultResolver(user).resolve([REF])
    assert "invalid username or password" in str(caught.value)
    assert_not_in(str(caught.value), password)
