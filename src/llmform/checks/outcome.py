"""What a key check concludes and where it is sent: the records the adapters, the runner, the
cache and the plan share. Apart from the adapters (``providers/``), which import the HTTP client,
so that a command that checks no key (``plan --no-secrets``) imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    VALID = "valid"
    INVALID_KEY = "invalid_key"
    NO_PERMISSION = "no_permission"
    OUT_OF_QUOTA = "out_of_quota"
    RATE_LIMITED = "rate_limited"
    UNREACHABLE = "unreachable"
    MODEL_MISSING = "model_missing"
    ERROR = "error"
    SKIPPED = "skipped"
    # Never sent: the endpoint is not trusted (llmform.checks.trust); shown as "not checked: ...".
    UNTRUSTED = "untrusted_endpoint"


# Failures that belong to the key itself: waiting does not cure them, another key may.
KEY_LEVEL: frozenset[Outcome] = frozenset(
    {Outcome.INVALID_KEY, Outcome.NO_PERMISSION, Outcome.OUT_OF_QUOTA}
)
# Failures that may pass with time: worth a backoff before the next attempt.
TRANSIENT: frozenset[Outcome] = frozenset({Outcome.RATE_LIMITED, Outcome.UNREACHABLE})


@dataclass(frozen=True)
class Endpoint:
    """Where and how a key is checked: everything but the key. Hashable and secret-free, so it
    is part of the identity under which a key is checked once per run and cached."""

    provider_type: str
    api_base: str
    options: tuple[tuple[str, str], ...] = ()

    def option(self, name: str) -> str | None:
        return dict(self.options).get(name)

    def __str__(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.options)
        return f"{self.provider_type} {self.api_base}{extra}"


@dataclass(frozen=True)
class Reply:
    """What one response means. ``models`` is the provider's full model list when it gave one
    (names normalised so that a configured name can be looked up as is), else None.
    ``transient`` marks an ERROR worth a backoff (5xx, overload); ``retry_after`` is a delay the
    body asked for (headers are read by the caller)."""

    outcome: Outcome
    detail: str = ""
    status: int | None = None
    models: frozenset[str] | None = None
    transient: bool = False
    retry_after: float | None = None

    @property
    def retry_with_backoff(self) -> bool:
        return self.outcome in TRANSIENT or (self.outcome is Outcome.ERROR and self.transient)
