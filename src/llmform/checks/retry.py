"""When a key check waits and tries again: the retry policy, and the wait an answer asks for."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    base_delay: float = 1.0
    # A Retry-After longer than this is cut to it: a check should not hang for an hour.
    max_retry_after: float = 60.0

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (0-based): 1, 2, 4 s with the defaults."""
        return float(self.base_delay * 2**retry)


def retry_after(headers: httpx.Headers, now: float) -> float | None:
    """``retry-after-ms`` (Azure, OpenAI), else ``Retry-After`` in seconds or as an HTTP date."""
    if "retry-after-ms" in headers:
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - now)
    except (TypeError, ValueError):
        return None
