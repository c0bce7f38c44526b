"""Read access to an llmform registry for applications: the SQLite file or the PostgreSQL
database llmform applies to, with the same API.

    from llmform.registry import Registry

    with Registry("/srv/llm/.llmform/llmform.db") as registry:   # or sqlite:///..., or
        # Registry("postgresql://app@db.internal/llm?sslmode=verify-full")
        config, model = registry.default_model("prod", "chat")
        print(config.api_base, model, config.api_key_ref)   # a reference, never a value

By default the registry holds references to secrets (``vault:secret/llm/openai#api_key``), not
values: resolve them with your own Vault client. When llmform applied it with a key configured
(``LLMFORM_ENCRYPTION_KEY`` or ``LLMFORM_TRANSIT_KEY``), it also holds each value sealed, and
the registry opens it with the same key:

    with Registry.from_env("/srv/llm/.llmform/llmform.db") as registry:   # the same variables
        config, model = registry.default_model("prod", "chat")
        client = OpenAI(base_url=config.api_base, api_key=registry.api_key(config).reveal())

Reads only; llmform is the writer. On PostgreSQL the session is read-only, so a role that may
only SELECT is enough; its password comes from the URL, PGPASSWORD or ~/.pgpass, as for any
libpq client, and is never shown in an error.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from .errors import LlmformError
from .secrets.base import SecretValue
from .secrets.crypto import Cipher, cipher_from_env
from .secrets.sealing import seal_context
from .state.sql.sqlite_files import file_uri
from .state.urls import sqlite_path

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class RegistryModel:
    name: str
    types: tuple[str, ...]
    max_tokens: int | None
    used_tokens: int


@dataclass(frozen=True)
class RegistryConfig:
    workspace: str
    name: str
    factory: str
    provider_type: str
    api_base: str | None
    enabled: bool
    options: dict[str, str]
    api_key_ref: str | None  # e.g. "vault:secret/llm/openai#api_key"
    backup_key_refs: tuple[str, ...]
    models: tuple[RegistryModel, ...]
    # every secret by slot (api_key, backup_keys[0], api_secret, ...), in the YAML's order
    secret_refs: Mapping[str, str] = field(default_factory=dict)
    encrypted: bool = False  # the values are stored sealed: ``Registry.secret`` opens them

    @property
    def address(self) -> str:
        return f"config.{self.workspace}/{self.name}"


def _open_sqlite(path: str) -> tuple[Query, Callable[[], None]]:
    try:
        conn = sqlite3.connect(file_uri(path, "ro"), uri=True)
        conn.execute("SELECT 1 FROM meta").fetchone()
    except sqlite3.Error as exc:
        raise LlmformError(f"cannot read the llmform registry {path}: {exc}") from None

    def query(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return conn.execute(statement, params).fetchall()

    return query, conn.close


def _open_postgresql(url: str) -> tuple[Query, Callable[[], None]]:
    # start-up time: psycopg only for an application that reads a server
    import psycopg

    from .state.sql.pg_urls import display_url, endpoint
    from .state.sql.postgres_connect import connect, error_text

    shown = display_url(url)
    conn = connect(url, endpoint(url), shown)
    try:
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        conn.execute("SELECT 1 FROM meta").fetchone()
    except psycopg.Error as exc:
        conn.close()
        raise LlmformError(
            f"cannot read the llmform registry {shown}: {error_text(exc, url)}"
        ) from None

    def query(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            rows = conn.execute(statement.replace("?", "%s"), params or None).fetchall()
        except psycopg.Error as exc:
            raise LlmformError(
                f"cannot read the llmform registry {shown}: {error_text(exc, url)}"
            ) from None
        return [tuple(row) for row in rows]

    return query, conn.close


class Registry:
    """A read-only view of the registry at ``location``: a file path, a ``sqlite:///`` URL or
    a ``postgresql://`` URL. ``cipher`` opens the secret values of a registry that llmform
    applied with encryption at rest (``from_env`` picks it as llmform does)."""

    def __init__(self, location: str, cipher: Cipher | None = None) -> None:
        self._cipher = cipher
        self._owns_cipher = False
        if location.startswith(("postgresql://", "postgres://")):
            self._query, self._close = _open_postgresql(location)
        else:
            path = sqlite_path(location) if location.startswith("sqlite:") else location
            self._query, self._close = _open_sqlite(path)

    @classmethod
    def from_env(cls, location: str, environ: Mapping[str, str] | None = None) -> Registry:
        """The registry at ``location`` with the cipher the environment configures
        (``LLMFORM_ENCRYPTION_KEY``, or ``LLMFORM_TRANSIT_KEY`` with the usual ``VAULT_*``
        variables), or none."""
        cipher = cipher_from_env(os.environ if environ is None else environ)
        registry = cls(location, cipher)
        registry._owns_cipher = True
        return registry

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._close()
        close = getattr(self._cipher, "close", None)  # a Transit cipher's Vault session
        if self._owns_cipher and callable(close):
            close()

    def workspaces(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM workspaces ORDER BY name", ())]

    def configs(self, workspace: str) -> list[RegistryConfig]:
        rows = self._query(
            "SELECT c.name, c.factory, f.type, c.api_base, c.enabled, c.options FROM configs c"
            " LEFT JOIN factories f ON f.name = c.factory WHERE c.workspace = ? ORDER BY c.name",
            (workspace,),
        )
        return [self._config(workspace, *row) for row in rows]

    def config(self, workspace: str, name: str) -> RegistryConfig | None:
        return next((c for c in self.configs(workspace) if c.name == name), None)

    def default_model(self, workspace: str, model_type: str) -> tuple[RegistryConfig, str] | None:
        """The workspace's default (config, model name) for a model type, if it has one."""
        rows = self._query("SELECT defaults FROM workspaces WHERE name = ?", (workspace,))
        target = json.loads(rows[0][0]).get(model_type) if rows else None
        if not target:
            return None
        config_name, _, model = target.partition("/")
        config = self.config(workspace, config_name)
        return (config, model) if config is not None else None

    def _config(
        self,
        workspace: str,
        name: str,
        factory: str,
        provider_type: str | None,
        api_base: str | None,
        enabled: int,
        options: str,
    ) -> RegistryConfig:
        models = tuple(
            RegistryModel(m, tuple(json.loads(t or "[]")), mt, used)
            for m, t, mt, used in self._query(
                # a catalog model's details live with its factory
                "SELECT cm.name, COALESCE(cm.types, fm.types),"
                " COALESCE(cm.max_tokens, fm.max_tokens), cm.used_tokens FROM config_models cm"
                " LEFT JOIN factory_models fm ON fm.factory = ? AND fm.name = cm.name"
                " WHERE cm.workspace = ? AND cm.config = ? ORDER BY cm.name",
                (factory, workspace, name),
            )
        )
        rows = self._query(
            "SELECT slot, ref, ciphertext IS NOT NULL FROM config_secrets"
            " WHERE workspace = ? AND config = ? ORDER BY position",
            (workspace, name),
        )
        refs = {slot: ref for slot, ref, _ in rows}
        backups = tuple(ref for slot, ref in refs.items() if slot.startswith("backup_keys["))
        return RegistryConfig(
            workspace=workspace,
            name=name,
            factory=factory,
            provider_type=provider_type or "",
            api_base=api_base,
            enabled=bool(enabled),
            options=json.loads(options),
            api_key_ref=refs.get("api_key"),
            backup_key_refs=backups,
            models=models,
            secret_refs=refs,
            encrypted=bool(rows) and all(sealed for _, _, sealed in rows),
        )

    # -- values, for a registry applied with encryption at rest -----------------------------

    def secret(self, config: RegistryConfig, slot: str) -> SecretValue:
        """The value of one secret of ``config`` (``api_key``, ``backup_keys[0]``,
        ``api_secret``...), opened with the registry's cipher. ``reveal()`` it only where it
        is used."""
        rows = self._query(
            "SELECT ref, ciphertext FROM config_secrets"
            " WHERE workspace = ? AND config = ? AND slot = ?",
            (config.workspace, config.name, slot),
        )
        where = f"{config.workspace}/{config.name}"
        if not rows:
            raise LlmformError(f"config {where} has no secret {slot!r}")
        ((ref, sealed),) = rows
        if sealed is None:
            raise LlmformError(
                f"this registry keeps references only for {where} {slot}; resolve {ref} "
                "yourself, or apply with LLMFORM_ENCRYPTION_KEY (or LLMFORM_TRANSIT_KEY) set"
            )
        if self._cipher is None:
            raise LlmformError(
                f"the value of {where} {slot} is stored encrypted; open the registry with its "
                "key: Registry(path, cipher=...), or Registry.from_env(path) with "
                "LLMFORM_ENCRYPTION_KEY or LLMFORM_TRANSIT_KEY set as when llmform applied it"
            )
        return self._cipher.decrypt(sealed, seal_context(config.address, slot))

    def api_key(self, config: RegistryConfig) -> SecretValue:
        return self.secret(config, "api_key")

    def backup_keys(self, config: RegistryConfig) -> tuple[SecretValue, ...]:
        slots = [slot for slot in config.secret_refs if slot.startswith("backup_keys[")]
        return tuple(self.secret(config, slot) for slot in slots)
