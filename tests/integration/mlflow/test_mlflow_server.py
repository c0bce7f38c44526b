"""The test server itself is what the gateway tests rely on: it answers, workspaces are on, and
a provider key it stores lands in its database only encrypted."""

from __future__ import annotations

import secrets
import sqlite3

import httpx
from support.mlflow_server import MlflowServer

API = "/api/3.0/mlflow"


def test_workspaces_are_enabled(mlflow_server: MlflowServer) -> None:
    answer = httpx.get(mlflow_server.url + API + "/workspaces", trust_env=False)
    assert answer.status_code == 200, answer.text
    assert "default" in [w["name"] for w in answer.json()["workspaces"]]


def test_a_stored_key_is_only_encrypted_in_the_database(mlflow_server: MlflowServer) -> None:
    canary = "sk-canary-" + secrets.token_hex(16)
    name = "encrypted-" + secrets.token_hex(4)
    answer = httpx.post(
        mlflow_server.url + API + "/gateway/secrets/create",
        json={
            "secret_name": name,
            "secret_value": {"api_key": canary},
            "provider": "openai",
        },
        trust_env=False,
    )
    assert answer.status_code == 200, answer.text
    assert canary not in answer.text
    # the key is in the database, as ciphertext with its wrapped data key ...
    with sqlite3.connect(f"file:{mlflow_server.database}?mode=ro", uri=True) as db:
        (stored_value, wrapped_key) = db.execute(
            "SELECT encrypted_value, wrapped_dek FROM secrets WHERE secret_name = ?", (name,)
        ).fetchone()
    assert len(stored_value) > len(canary) and wrapped_key
    # ... and nowhere as text: not in the database file, its journal, nor the log
    stored = b"".join(
        path.read_bytes()
        for path in mlflow_server.database.parent.glob(mlflow_server.database.name + "*")
    )
    assert canary.encode() not in stored and canary[-12:].encode() not in stored
    assert canary not in mlflow_server.log_text()
    # encrypted under the test's own passphrase, not MLflow's built-in default (which it warns of)
    assert "MLFLOW_CRYPTO_KEK_PASSPHRASE not set" not in mlflow_server.log_text()
