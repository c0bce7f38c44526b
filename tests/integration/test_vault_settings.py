"""settings_from_env: the Vault CLI's variables and llmform's own, mapped onto VaultSettings.

Pure (no server), but kept beside the Vault integration tests that use the same settings.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmform.secrets.base import SecretValue
from llmform.secrets.errors import VaultConfigError
from llmform.secrets.settings import VaultSettings, settings_from_env

ADDR = {"VAULT_ADDR": "https://vault.example.com:8200/"}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, {"addr": None, "verify": True, "auth": "token", "namespace": None}),
        (ADDR, {"addr": "https://vault.example.com:8200"}),
        ({"VAULT_NAMESPACE": "/team/llm/"}, {"namespace": "team/llm"}),
        ({"VAULT_SKIP_VERIFY": "true", "VAULT_CACERT": "/ca.pem"}, {"verify": False}),
        ({"VAULT_SKIP_VERIFY": "0", "VAULT_CACERT": "/ca.pem"}, {"verify": "/ca.pem"}),
        ({"VAULT_CAPATH": "/etc/ca.d"}, {"verify": "/etc/ca.d"}),
        (
            {"VAULT_CLIENT_CERT": "/c.pem", "VAULT_CLIENT_KEY": "/k.pem"},
            {"client_cert": ("/c.pem", "/k.pem")},
        ),
        (
            {"VAULT_CLIENT_TIMEOUT": "5s", "VAULT_MAX_RETRIES": "2"},
            {"timeout": 5.0, "max_retries": 2},
        ),
        ({"LLMFORM_VAULT_CONCURRENCY": "64"}, {"concurrency": 16}),
        ({"LLMFORM_VAULT_CONCURRENCY": "0"}, {"concurrency": 1}),
        (
            {"LLMFORM_VAULT_AUTH": "AppRole", "LLMFORM_VAULT_ROLE_ID": "rid"},
            {"auth": "approle", "role_id": "rid", "mount_of_auth": "approle"},
        ),
        (
            {"LLMFORM_VAULT_AUTH": "jwt", "LLMFORM_VAULT_AUTH_PATH": "/jwt-github/"},
            {"auth": "jwt", "mount_of_auth": "jwt-github"},
        ),
        (
            {
                "ACTIONS_ID_TOKEN_REQUEST_URL": "https://runner/token?api-version=2.0",
                "LLMFORM_VAULT_JWT_AUDIENCE": "vault",
            },
            {"github_oidc_url": "https://runner/token?api-version=2.0", "jwt_audience": "vault"},
        ),
    ],
)
def test_variables_map_onto_settings(
    environ: dict[str, str], expected: dict[str, Any], tmp_path: Path
) -> None:
    settings = settings_from_env(environ, home=tmp_path)
    assert {name: getattr(settings, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LLMFORM_VAULT_AUTH": "kerberos"}, "LLMFORM_VAULT_AUTH='kerberos' is not a login method"),
        ({"VAULT_SKIP_VERIFY": "yes please"}, "is not a boolean; write true or false"),
        ({"VAULT_CLIENT_TIMEOUT": "soon"}, "VAULT_CLIENT_TIMEOUT='soon' is not a number"),
        ({"VAULT_MAX_RETRIES": "-1"}, "must not be negative"),
        ({"VAULT_CLIENT_CERT": "/c.pem"}, "set both VAULT_CLIENT_CERT and VAULT_CLIENT_KEY"),
        ({"LLMFORM_VAULT_JWT_FILE": "/nonexistent/jwt"}, "LLMFORM_VAULT_JWT_FILE=/nonexistent/jwt"),
    ],
)
def test_malformed_variables_are_named(
    environ: dict[str, str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(VaultConfigError) as caught:
        settings_from_env(environ, home=tmp_path)
    assert message in str(caught.value)


VAULT_CANARY = "hvs.CAESIJq7Rk2Mv9Xb4Tn6Wc1Hy8Ld3Pf5Gs0JqZr"


@pytest.mark.parametrize(
    "addr",
    [
        f"https://llmform:{VAULT_CANARY}@vault.example.com:8200",
        f"https://{VAULT_CANARY}@vault.example.com",
        f"https://vault.example.com:8200/?token={VAULT_CANARY}",
        f"https://vault.example.com:8200#{VAULT_CANARY}",
        f"https://vault.example.com/{VAULT_CANARY}",
        VAULT_CANARY,  # the token set in the wrong variable
    ],
)
def test_a_vault_addr_holding_a_secret_is_refused_unquoted(addr: str, tmp_path: Path) -> None:
    """Every Vault message names VAULT_ADDR, so a credential pasted into it would be printed
    on every failure."""
    with pytest.raises(VaultConfigError) as caught:
        settings_from_env({"VAULT_ADDR": addr, "VAULT_TOKEN": "s.token"}, home=tmp_path)
    message = str(caught.value)
    assert message.startswith("VAULT_ADDR must be the server's address only"), message
    assert "Mv9Xb4" not in message and "CAESI" not in message, message


def test_surrounding_whitespace_of_login_credentials_is_stripped(tmp_path: Path) -> None:
    (tmp_path / "secret-id").write_text("sid-from-file\n")
    settings = settings_from_env(
        {
            "VAULT_TOKEN": " s.token\n",
            "LLMFORM_VAULT_SECRET_ID_FILE": str(tmp_path / "secret-id"),
            "LLMFORM_VAULT_PASSWORD": "pw-123\r\n",
        },
        home=tmp_path,
    )
    assert settings.token == SecretValue("s.token")
    assert settings.secret_id == SecretValue("sid-from-file")
    assert settings.password == SecretValue("pw-123")


def test_token_precedence_and_masking(tmp_path: Path) -> None:
    (tmp_path / ".vault-token").write_text("s.from-file\n")
    from_file = settings_from_env({}, home=tmp_path)
    from_env = settings_from_env({"VAULT_TOKEN": "s.from-env"}, home=tmp_path)
    assert from_file.token == SecretValue("s.from-file")
    assert from_env.token == SecretValue("s.from-env")
    (tmp_path / "secret-id").write_text("sid-from-file")
    everything = settings_from_env(
        {
            "VAULT_TOKEN": "s.from-env",
            "LLMFORM_VAULT_SECRET_ID_FILE": str(tmp_path / "secret-id"),
            "LLMFORM_VAULT_PASSWORD": "pw-123",
            "LLMFORM_VAULT_JWT": "eyJ.jwt.sig",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-token",
        },
        home=tmp_path,
    )
    assert everything.secret_id == SecretValue("sid-from-file")
    shown = repr(everything) + str(everything)
    for value in ("s.from-env", "sid-from-file", "pw-123", "eyJ.jwt.sig", "runner-token"):
        assert value not in shown


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        VaultSettings().addr = "https://elsewhere"  # type: ignore[misc]


def test_validate_stays_offline_and_never_imports_hvac() -> None:
    """`llmform validate` checks reference syntax only: hvac is not even imported."""
    repo = Path(__file__).resolve().parents[2]
    code = (
        "import sys\n"
        "from llmform.cli import main\n"
        f"code = main(['validate', {str(repo / 'examples' / 'multi-workspace')!r}])\n"
        "assert code == 0, code\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('hvac', 'requests'))\n"
        "assert not loaded, loaded\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
