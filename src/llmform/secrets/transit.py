"""One Vault client for Vault Transit calls (encryption at rest, the audit chain's HMAC): made
and logged in on first use with the VAULT_* settings, retried as every Vault call is, closed
with ``close``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from .settings import VaultSettings


class TransitClient:
    def __init__(
        self, settings: VaultSettings, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._client: Any = None
        self._call: Any = None

    def post(
        self,
        mount: str,
        key: str,
        op: str,
        body: Mapping[str, Any],
        *,
        what: str,
        error: Callable[[str], Exception],
    ) -> Mapping[str, Any]:
        """The ``data`` of Transit's answer to ``op`` (encrypt, hmac, verify...) with the key
        ``mount/key``. Failures raise ``error(message)``; ``what`` says what the call was for
        ("for 'config.prod/x#api_key'", "the audit events")."""
        from hvac import exceptions as hvac_exc  # type: ignore[import-untyped]

        from .vault_http import server_errors

        if self._client is None:
            from .auth import login
            from .vault_http import Caller, make_client

            self._client = make_client(self.settings)
            self._call = Caller(self.settings, self._sleep)
            login(self._client, self.settings, self._call)
        path = f"{mount}/{op}/{key}"
        client = self._client
        try:
            answer = self._call(
                f"transit {op} with {mount}/{key}",
                lambda: client.adapter.post(f"/v1/{path}", json=dict(body)),
            )
        except hvac_exc.Forbidden:
            raise error(
                f'permission denied: the token\'s policies must grant "update" on "{path}"'
            ) from None
        except hvac_exc.VaultError as exc:  # 400 (bad input), 404 (no such key), 401, ...
            raise error(
                f"Vault Transit could not {op} {what} with {mount}/{key}: {server_errors(exc)}"
            ) from None
        data = (answer or {}).get("data") if isinstance(answer, Mapping) else None
        if not isinstance(data, Mapping):
            raise error(f"Vault Transit gave no answer to {op} {what} with {mount}/{key}")
        return data

    def close(self) -> None:
        if self._client is not None:
            self._client.adapter.close()
            self._client = None
