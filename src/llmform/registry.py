"""Read access to an llmform registry for applications (the SQLite file llmform applies to).

    from llmform.registry import Registry

    with Registry("/srv/llm/.llmform/llmform.db") as registry:
        config, model = registry.default_model("prod", "chat")
        print(config.api_base, model, config.api_key_ref)   # a reference, never a value

The registry holds references to secrets (``vault:secret/llm/openai#api_key``), not values:
resolve them with your own Vault client. Reads only; llmform is the writer.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from types import TracebackType

from .errors import LlmformError


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


class Registry:
    """A read-only view of the registry file at ``path``."""

    def __init__(self, path: str) -> None:
        try:
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            self._conn.execute("SELECT 1 FROM meta").fetchone()
        except sqlite3.Error as exc:
            raise LlmformError(f"cannot read the llmform registry {path}: {exc}") from None

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
        self._conn.close()

    def workspaces(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM workspaces ORDER BY name")]

    def configs(self, workspace: str) -> list[RegistryConfig]:
        rows = self._conn.execute(
            "SELECT c.name, c.factory, f.type, c.api_base, c.enabled, c.options FROM configs c"
            " LEFT JOIN factories f ON f.name = c.factory WHERE c.workspace = ? ORDER BY c.name",
            (workspace,),
        ).fetchall()
        return [self._config(workspace, *row) for row in rows]

    def config(self, workspace: str, name: str) -> RegistryConfig | None:
        return next((c for c in self.configs(workspace) if c.name == name), None)

    def default_model(self, workspace: str, model_type: str) -> tuple[RegistryConfig, str] | None:
        """The workspace's default (config, model name) for a model type, if it has one."""
        row = self._conn.execute(
            "SELECT defaults FROM workspaces WHERE name = ?", (workspace,)
        ).fetchone()
        target = json.loads(row[0]).get(model_type) if row else None
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
            for m, t, mt, used in self._conn.execute(
                # a catalog model's details live with its factory
                "SELECT cm.name, COALESCE(cm.types, fm.types),"
                " COALESCE(cm.max_tokens, fm.max_tokens), cm.used_tokens FROM config_models cm"
                " LEFT JOIN factory_models fm ON fm.factory = ? AND fm.name = cm.name"
                " WHERE cm.workspace = ? AND cm.config = ? ORDER BY cm.name",
                (factory, workspace, name),
            )
        )
        refs = dict(
            self._conn.execute(
                "SELECT slot, ref FROM config_secrets WHERE workspace = ? AND config = ?"
                " ORDER BY position",
                (workspace, name),
            ).fetchall()
        )
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
        )
