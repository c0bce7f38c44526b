"""One resolver for every kind of reference: env refs to ``EnvResolver``, vault refs to Vault.

The Vault side is built only when a batch holds a vault reference, so a run that uses only
``{env: ...}`` needs no VAULT_ADDR and never imports hvac.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from ..desired.model import EnvRef, SecretRef, VaultRef
from .base import Resolution, Resolver, SecretProblem, SecretValue
from .env import EnvResolver
from .settings import settings_from_env


class ChainResolver:
    """Dispatches each reference to the resolver of its kind and merges the answers."""

    def __init__(self, env: Resolver, vault: Callable[[], Resolver]) -> None:
        self._env = env
        self._vault_factory = vault
        self._vault: Resolver | None = None

    def resolve(self, refs: Iterable[SecretRef]) -> Resolution:
        unique = list(dict.fromkeys(refs))
        env_refs = [r for r in unique if isinstance(r, EnvRef)]
        vault_refs = [r for r in unique if isinstance(r, VaultRef)]
        parts = []
        if env_refs:
            parts.append(self._env.resolve(env_refs))
        if vault_refs:
            if self._vault is None:
                self._vault = self._vault_factory()
            parts.append(self._vault.resolve(vault_refs))
        values: dict[SecretRef, SecretValue] = {}
        problems: list[SecretProblem] = []
        for part in parts:
            values.update(part.values)
            problems.extend(part.problems)
        return Resolution(values, tuple(problems))


def chain_from_env(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> ChainResolver:
    """The resolver a command uses by default: both kinds, configured by the environment
    (``settings.py`` lists the variables). Settings errors surface at the first vault reference.
    """
    env = os.environ if environ is None else environ

    def vault() -> Resolver:
        from .vault import VaultResolver  # imports hvac: only when a vault reference needs it

        return VaultResolver(settings_from_env(env, home))

    return ChainResolver(EnvResolver(env), vault)
