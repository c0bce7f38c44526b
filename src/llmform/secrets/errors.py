"""Vault failures that concern the whole run rather than one reference.

A problem with one secret (denied, missing, deleted) is a ``SecretProblem`` in the resolution,
reported together with every other problem of the run. A problem with the connection itself
(no address, unreachable, TLS, sealed, login refused, token expired) would fail every reference
the same way, so it is raised once instead, as one of these, with a message that says what to do.
No message ever contains a secret value or a token.
"""

from __future__ import annotations

from ..errors import LlmformError


class VaultError(LlmformError):
    """Vault cannot be used for this run; the message says why and what to do."""


class VaultConfigError(VaultError):
    """The settings are incomplete or contradictory (e.g. no VAULT_ADDR, no credentials)."""


class VaultUnavailable(VaultError):
    """The server cannot be reached, its certificate is not trusted, or it is sealed."""


class VaultAuthError(VaultError):
    """Login was refused, or the token is invalid, expired or revoked."""
