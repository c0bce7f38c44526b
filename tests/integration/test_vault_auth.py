"""Logging in to a real OpenBao: token (checked, renewed, expired), AppRole, JWT (a token given
directly, from a file, or fetched from a GitHub-Actions-like OIDC endpoint), userpass."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from baoserver import BaoServer, unique
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from llmform.desired.model import VaultRef
from llmform.secrets.base import SecretValue
from llmform.secrets.errors import VaultAuthError, VaultConfigError
from llmform.secrets.settings import VaultSettings, settings_from_env
from llmform.secrets.vault import VaultResolver

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "llmform-vault"
REPOSITORY = "octo-org/llm-config"


@dataclass
class Secret:
    """A KV v2 secret and a token-less policy that may read it."""

    ref: VaultRef
    value: str
    policy: str


@pytest.fixture
def secret(bao: BaoServer) -> Secret:
    mount = bao.kv_mount(2)
    value = unique("value")
    bao.put(mount, "llm/openai", {"api_key": value})
    policy = unique("reader")
    bao.root().sys.create_or_update_policy(
        name=policy, policy=f'path "{mount}/data/llm/openai" {{ capabilities = ["read"] }}'
    )
    return Secret(VaultRef(path=f"{mount}/llm/openai", key="api_key"), value, policy)


def resolve_with(settings: VaultSettings, secret: Secret) -> str:
    result = VaultResolver(settings).resolve([secret.ref])
    assert result.problems == ()
    return result.values[secret.ref].reveal()


# -- token --------------------------------------------------------------------------------------


def test_token_from_env_or_from_the_token_file(
    bao: BaoServer, secret: Secret, tmp_path: Path
) -> None:
    token = bao.token(policies=[secret.policy])
    from_env = settings_from_env({"VAULT_ADDR": bao.addr, "VAULT_TOKEN": token}, home=tmp_path)
    assert resolve_with(from_env, secret) == secret.value
    (tmp_path / ".vault-token").write_text(token + "\n")
    from_file = settings_from_env({"VAULT_ADDR": bao.addr}, home=tmp_path)
    assert resolve_with(from_file, secret) == secret.value


def test_a_renewable_token_that_runs_low_is_renewed(bao: BaoServer, secret: Secret) -> None:
    low = bao.token(policies=[secret.policy], ttl="120s", renewable=True)
    plenty = bao.token(policies=[secret.policy], ttl="3h", renewable=True)
    for token in (low, plenty):
        settings = VaultSettings(addr=bao.addr, token=SecretValue(token), renew_below=600)
        assert resolve_with(settings, secret) == secret.value

    def ttl(token: str) -> int:
        return int(bao.root().auth.token.lookup(token)["data"]["ttl"])

    assert ttl(low) > 3000  # renewed by renew_increment (an hour)
    assert 3600 < ttl(plenty) <= 3 * 3600  # left alone: a renewal would have shortened it


@pytest.mark.parametrize("how", ["revoked", "expired", "made up"])
def test_a_dead_token_says_to_log_in_again(bao: BaoServer, secret: Secret, how: str) -> None:
    if how == "made up":
        token = "s.nOtAtOkEnThAtExIsTs1234"
    else:
        token = bao.token(policies=[secret.policy], ttl="1s" if how == "expired" else "1h")
        if how == "revoked":
            bao.root().auth.token.revoke(token)
        else:
            time.sleep(1.5)
    settings = VaultSettings(addr=bao.addr, token=SecretValue(token))
    with pytest.raises(VaultAuthError) as caught:
        VaultResolver(settings).resolve([secret.ref])
    message = str(caught.value)
    assert "rejected the token: it is invalid, expired or revoked" in message
    assert "log in again" in message
    assert token not in message


def test_no_token_at_all(bao: BaoServer, secret: Secret, tmp_path: Path) -> None:
    settings = settings_from_env({"VAULT_ADDR": bao.addr}, home=tmp_path)
    with pytest.raises(VaultConfigError, match="no Vault token: set VAULT_TOKEN"):
        VaultResolver(settings).resolve([secret.ref])


# -- AppRole and userpass -----------------------------------------------------------------------


def test_approle(bao: BaoServer, secret: Secret) -> None:
    path, role = unique("approle"), "ci"
    root = bao.root()
    root.sys.enable_auth_method("approle", path=path)
    root.auth.approle.create_or_update_approle(
        role, token_policies=[secret.policy], token_ttl="5m", mount_point=path
    )
    role_id = root.auth.approle.read_role_id(role, mount_point=path)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(role, mount_point=path)["data"]["secret_id"]
    env = {
        "VAULT_ADDR": bao.addr,
        "LLMFORM_VAULT_AUTH": "approle",
        "LLMFORM_VAULT_AUTH_PATH": path,
        "LLMFORM_VAULT_ROLE_ID": role_id,
        "LLMFORM_VAULT_SECRET_ID": secret_id,
    }
    assert resolve_with(settings_from_env(env, home=Path("/nonexistent")), secret) == secret.value

    wrong = settings_from_env({**env, "LLMFORM_VAULT_SECRET_ID": "wrong"}, home=Path("/x"))
    with pytest.raises(VaultAuthError, match=f"refused the approle login at auth/{path}"):
        VaultResolver(wrong).resolve([secret.ref])
    elsewhere = replace(wrong, auth_path=unique("nowhere"))
    with pytest.raises(VaultAuthError, match="no approle auth method answers at auth/"):
        VaultResolver(elsewhere).resolve([secret.ref])


def test_userpass(bao: BaoServer, secret: Secret) -> None:
    path = unique("userpass")
    bao.root().sys.enable_auth_method("userpass", path=path)
    bao.root().auth.userpass.create_or_update_user(
        "ana", password="correct horse", policies=[secret.policy], mount_point=path
    )
    settings = VaultSettings(
        addr=bao.addr,
        auth="userpass",
        auth_path=path,
        username="ana",
        password=SecretValue("correct horse"),
    )
    assert resolve_with(settings, secret) == secret.value
    with pytest.raises(VaultAuthError, match="refused the userpass login") as caught:
        VaultResolver(replace(settings, password=SecretValue("battery staple"))).resolve(
            [secret.ref]
        )
    assert "battery staple" not in str(caught.value)


# -- JWT, GitHub Actions style ------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Issuer:
    """Signs JWTs shaped like GitHub Actions OIDC tokens with a key made for the test."""

    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def token(self, audience: str = AUDIENCE, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": GITHUB_ISSUER,
            "aud": audience,
            "sub": f"repo:{REPOSITORY}:ref:refs/heads/main",
            "repository": REPOSITORY,
            "repository_owner": "octo-org",
            "ref": "refs/heads/main",
            "ref_type": "branch",
            "event_name": "push",
            "workflow": "plan",
            "actor": "octocat",
            "run_id": "1234567890",
            "jti": unique("jti"),
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
            **claims,
        }
        head = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test"}).encode())
        payload = _b64(json.dumps(body).encode())
        signature = self.key.sign(f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{payload}.{_b64(signature)}"


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def jwt_role(bao: BaoServer, secret: Secret, issuer: Issuer) -> str:
    """A JWT auth mount trusting ``issuer``, with a role bound like a GitHub deployment's."""
    path = unique("jwt")
    root = bao.root()
    root.sys.enable_auth_method("jwt", path=path)
    root.auth.jwt.configure(
        jwt_validation_pubkeys=[issuer.public_pem()], bound_issuer=GITHUB_ISSUER, path=path
    )
    root.auth.jwt.create_role(
        "llmform-plan",
        user_claim="sub",
        allowed_redirect_uris=None,
        role_type="jwt",
        bound_audiences=[AUDIENCE],
        bound_claims={"repository": REPOSITORY, "ref": "refs/heads/main"},
        token_policies=[secret.policy],
        token_ttl="5m",
        path=path,
    )
    return path


def jwt_env(bao: BaoServer, path: str, **extra: str) -> dict[str, str]:
    return {
        "VAULT_ADDR": bao.addr,
        "LLMFORM_VAULT_AUTH": "jwt",
        "LLMFORM_VAULT_AUTH_PATH": path,
        "LLMFORM_VAULT_ROLE": "llmform-plan",
        **extra,
    }


def test_jwt_from_a_variable_or_a_file(
    bao: BaoServer, secret: Secret, issuer: Issuer, jwt_role: str, tmp_path: Path
) -> None:
    by_var = jwt_env(bao, jwt_role, LLMFORM_VAULT_JWT=issuer.token())
    assert resolve_with(settings_from_env(by_var, home=tmp_path), secret) == secret.value
    (tmp_path / "jwt").write_text(issuer.token() + "\n")
    by_file = jwt_env(bao, jwt_role, LLMFORM_VAULT_JWT_FILE=str(tmp_path / "jwt"))
    assert resolve_with(settings_from_env(by_file, home=tmp_path), secret) == secret.value


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        # The server's own reason is passed on, then the bindings to check.
        ({"ref": "refs/heads/feature"}, 'claim "ref" does not match'),
        ({"repository": "someone/else"}, 'claim "repository" does not match'),
        ({"audience": "https://github.com/octo-org"}, "invalid audience (aud) claim"),
        ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}, "token is expired"),
    ],
)
def test_jwt_refused_names_the_binding_to_check(
    bao: BaoServer,
    secret: Secret,
    issuer: Issuer,
    jwt_role: str,
    tmp_path: Path,
    claims: dict[str, Any],
    why: str,
) -> None:
    token = issuer.token(**claims)
    env = jwt_env(bao, jwt_role, LLMFORM_VAULT_JWT=token)
    with pytest.raises(VaultAuthError) as caught:
        VaultResolver(settings_from_env(env, home=tmp_path)).resolve([secret.ref])
    message = str(caught.value)
    assert f"Vault refused the jwt login at auth/{jwt_role}" in message
    assert why in message
    assert "bound_claims" in message
    assert token not in message


@dataclass
class RunnerEndpoint:
    """The GitHub Actions runner's OIDC token endpoint, served on loopback."""

    url: str
    requests: list[dict[str, Any]]


@pytest.fixture
def runner(issuer: Issuer) -> Iterator[RunnerEndpoint]:
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            seen.append({"headers": dict(self.headers), "query": query})
            if self.headers.get("Authorization") != "bearer runtime-request-token":
                self.send_response(403)
                self.end_headers()
                return
            audience = query.get("audience", ["https://github.com/octo-org"])[0]
            body = json.dumps({"count": 1, "value": issuer.token(audience=audience)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield RunnerEndpoint(f"http://127.0.0.1:{port}/_apis/token?api-version=2.0", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_github_actions_oidc_token_fetched_from_the_runner(
    bao: BaoServer, secret: Secret, jwt_role: str, runner: RunnerEndpoint, tmp_path: Path
) -> None:
    env = jwt_env(
        bao,
        jwt_role,
        ACTIONS_ID_TOKEN_REQUEST_URL=runner.url,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN="runtime-request-token",
        LLMFORM_VAULT_JWT_AUDIENCE=AUDIENCE,
        VAULT_TOKEN="must-not-travel",
    )
    assert resolve_with(settings_from_env(env, home=tmp_path), secret) == secret.value
    [request] = runner.requests
    assert request["query"] == {"api-version": ["2.0"], "audience": [AUDIENCE]}
    assert not any(h.lower().startswith("x-vault") for h in request["headers"])

    # Without the audience the role is bound to, GitHub's default one is refused by Vault.
    del env["LLMFORM_VAULT_JWT_AUDIENCE"]
    with pytest.raises(VaultAuthError, match="refused the jwt login"):
        VaultResolver(settings_from_env(env, home=tmp_path)).resolve([secret.ref])


def test_github_actions_endpoint_problems(
    bao: BaoServer, secret: Secret, jwt_role: str, runner: RunnerEndpoint, tmp_path: Path
) -> None:
    env = jwt_env(
        bao,
        jwt_role,
        ACTIONS_ID_TOKEN_REQUEST_URL=runner.url,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN="stale",
    )
    with pytest.raises(VaultAuthError, match=r"HTTP 403 .*id-token: write"):
        VaultResolver(settings_from_env(env, home=tmp_path)).resolve([secret.ref])
    del env["ACTIONS_ID_TOKEN_REQUEST_URL"]
    with pytest.raises(VaultConfigError, match="LLMFORM_VAULT_JWT or LLMFORM_VAULT_JWT_FILE"):
        VaultResolver(settings_from_env(env, home=tmp_path)).resolve([secret.ref])
