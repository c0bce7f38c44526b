"""Helpers for the live MLflow gateway tests (tests/integration/mlflow/test_mlflow_live*.py): an
llmform repository in a temporary folder whose one config is served by the session's real
``mlflow server`` in a workspace of its own, calls through the gateway as an application makes
them, and the checks that a canary key is nowhere it must not be.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .mlflow_server import SECRETS_CACHE_TTL, MlflowServer
from .provider_servers import ProviderServer
from .stores import cli

KEY_ENV = "LLMFORM_LIVE_KEY"
BACKUP_ENV = "LLMFORM_LIVE_BACKUP"


def state_yaml(
    workspace: str,
    api_base: str,
    models: Sequence[str] = ("m1",),
    *,
    factory_type: str = "openai-compatible",
    config_api_base: str | None = None,
    backup: bool = False,
    description: str = "live",
    configs: Sequence[str] = ("main",),
) -> str:
    """Factory ``Local`` (models m1..m3) and configs (``main``) in ``workspace``, each with
    the key in ``KEY_ENV`` (and a backup, the key in ``BACKUP_ENV``)."""
    lines = [
        "apiVersion: llmform/v1",
        "factories:",
        "  - name: Local",
        f"    type: {factory_type}",
        f"    api_base: {api_base}",
        "    models:",
        *(f"      - {{name: m{n}, type: chat, max_tokens: 1000}}" for n in (1, 2, 3)),
        "workspaces:",
        f"  - name: {workspace}",
        f"    description: {description}",
        "configs:",
    ]
    for config in configs:
        lines += [
            f"  - name: {config}",
            f"    workspace: {workspace}",
            "    factory: Local",
            f"    api_key: {{env: {KEY_ENV}}}",
            *([f"    backup_keys: [{{env: {BACKUP_ENV}}}]"] if backup else []),
            *([f"    api_base: {config_api_base}"] if config_api_base else []),
            f"    models: [{', '.join(models)}]",
        ]
    return "\n".join(lines) + "\n"


def chat(server: MlflowServer, workspace: str, endpoint: str) -> httpx.Response:
    """A chat completion through the gateway, as an application asks for one."""
    return httpx.post(
        server.url + "/gateway/mlflow/v1/chat/completions",
        headers={"X-MLFLOW-WORKSPACE": workspace},
        json={"model": endpoint, "messages": [{"role": "user", "content": "hello"}]},
        timeout=60,
        trust_env=False,
    )


def chat_reaches(
    server: MlflowServer, workspace: str, endpoint: str, provider: ProviderServer, key: str
) -> list[str | None]:
    """Chat until a request reaches ``provider`` with ``key`` and the gateway answers 200 (a
    changed secret takes effect within the gateway's secrets cache TTL); the keys ``provider``
    saw in those calls, in order. Fails after the TTL and a margin."""
    deadline = time.monotonic() + SECRETS_CACHE_TTL + 15
    while True:
        before = len(provider.chats())
        response = chat(server, workspace, endpoint)
        keys = [seen.key for seen in provider.chats()[before:]]
        if response.status_code == 200 and key in keys:
            return keys
        if time.monotonic() > deadline:
            pytest.fail(f"no chat reached the provider with the key: {response.status_code}")
        time.sleep(0.5)


@dataclass
class Seen:
    """Everything llmform showed or wrote, to look for a canary in."""

    outputs: list[str] = field(default_factory=list)

    def check_clean(
        self,
        canaries: Iterable[str],
        root: Path,
        server: MlflowServer,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """No canary in an output, a file under ``root`` (the state store among them), a log
        record, or MLflow's folder (its database, journal, log, artifacts) in plain text."""
        folders = (root, server.database.parent)
        files = [p for folder in folders for p in folder.rglob("*") if p.is_file()]
        for canary in canaries:
            for output in self.outputs:
                assert canary not in output, output
            for record in caplog.records:
                assert canary not in record.getMessage() and canary not in repr(record.args)
            for path in files:
                data = path.read_bytes()
                assert canary.encode() not in data, path
                assert json.dumps(canary)[1:-1].encode() not in data, path


def without_unmanaged(plan: str) -> str:
    """A plan's text without its list of unmanaged objects."""
    head, found, tail = plan.partition("Unmanaged (in the store, not created by llmform")
    return head + tail.partition("\n\n")[2] if found else plan


def canary(label: str) -> str:
    return f"sk-canary-{label}-{secrets.token_hex(12)}"


@dataclass
class Repo:
    """An llmform repository in ``root`` managing ``workspace`` of the session's gateway."""

    server: MlflowServer
    root: Path
    workspace: str
    capsys: pytest.CaptureFixture[str]
    seen: Seen

    @property
    def store(self) -> list[str]:
        return ["--store", "mlflow+" + self.server.url]

    def write(self, text: str) -> None:
        (self.root / "llmform.yaml").write_text(text, encoding="utf-8")

    def run(self, *args: str) -> tuple[int, str, str]:
        code, out, err = cli(self.capsys, *args)
        self.seen.outputs.append(out + err)
        return code, out, err

    def apply(self, *trusted: str) -> str:
        code, out, err = self.run("apply", *self.store, *self.trust(trusted), "--auto-approve")
        assert code == 0 and "Apply complete!" in out, out + err
        return out

    def plan(self, *trusted: str, scope: str = "") -> tuple[int, str]:
        args = ("plan", *self.store, *self.trust(trusted), "--detailed-exitcode")
        args += ("-w", scope) if scope else ()
        code, out, err = self.run(*args)
        assert code in (0, 2), out + err
        return code, out

    def assert_no_changes(self, *trusted: str) -> None:
        code, out = self.plan(*trusted)
        assert code == 0 and "No changes." in out, out

    @staticmethod
    def trust(urls: tuple[str, ...]) -> list[str]:
        return [arg for url in urls for arg in ("--trust-endpoint", url)]
