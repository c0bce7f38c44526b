"""The records a key check produces, and the file cache of outcomes between runs.

Nothing here holds a key: a key is named by its slot and position in the config, and the cache
by a digest of (endpoint, keyed fingerprint). ``to_dict`` gives the plan's JSON.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..files import FileWriteError, cache_dir, make_private_dirs, read_own_file, write_file
from ..secrets.redaction import redact
from .outcome import Endpoint, Outcome, Reply

JSON = dict[str, Any]

# What fails a check. A rate limit does not: providers authenticate before they count, so a
# 429 still proves the key, and refusing an apply because a shared key is busy helps no one.
FAILING: frozenset[Outcome] = frozenset(
    {
        Outcome.INVALID_KEY,
        Outcome.NO_PERMISSION,
        Outcome.OUT_OF_QUOTA,
        Outcome.UNREACHABLE,
        Outcome.MODEL_MISSING,
        Outcome.ERROR,
    }
)


@dataclass(frozen=True)
class Attempt:
    """One request of the rotation: which key (by position), what came back, the wait before."""

    number: int
    position: int
    outcome: Outcome
    waited: float = 0.0
    status: int | None = None
    cached: bool = False

    def to_dict(self) -> JSON:
        return {
            "number": self.number,
            "key": self.position,
            "outcome": str(self.outcome),
            "waited": self.waited,
            "status": self.status,
            "cached": self.cached,
        }


@dataclass(frozen=True)
class KeyResult:
    """The verdict on one key of one config."""

    slot: str  # api_key, backup_keys[0], ... ("no key" for a key-less endpoint)
    position: int  # 0 = primary
    outcome: Outcome
    detail: str = ""
    attempts: int = 0
    cached: bool = False
    missing_models: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "primary" if self.position == 0 else f"backup {self.position}"

    @property
    def passed(self) -> bool:
        """Proven usable: not failed, and not left unchecked for want of trust."""
        return self.outcome not in FAILING and self.outcome is not Outcome.UNTRUSTED

    def to_dict(self) -> JSON:
        return {
            "slot": self.slot,
            "position": self.position,
            "label": self.label,
            "outcome": str(self.outcome),
            "passed": self.passed,
            "detail": self.detail,
            "attempts": self.attempts,
            "cached": self.cached,
            "missing_models": list(self.missing_models),
        }


@dataclass(frozen=True)
class ConfigResult:
    address: str
    provider_type: str
    endpoint: str
    keys: tuple[KeyResult, ...]
    attempts: tuple[Attempt, ...] = ()  # the rotation from the primary key

    @property
    def passed(self) -> bool:
        return all(k.passed for k in self.keys)

    @property
    def outcome(self) -> Outcome:
        """The first failing key's outcome (primary first), else the primary's."""
        for key in self.keys:
            if not key.passed:
                return key.outcome
        return self.keys[0].outcome if self.keys else Outcome.SKIPPED

    @property
    def missing_models(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for key in self.keys:
            seen.update(dict.fromkeys(key.missing_models))
        return tuple(seen)

    def to_dict(self) -> JSON:
        return {
            "address": self.address,
            "provider_type": self.provider_type,
            "endpoint": self.endpoint,
            "outcome": str(self.outcome),
            "passed": self.passed,
            "missing_models": list(self.missing_models),
            "keys": [k.to_dict() for k in self.keys],
            "attempts": [a.to_dict() for a in self.attempts],
        }


@dataclass(frozen=True)
class CheckReport:
    configs: tuple[ConfigResult, ...]
    requests: int = 0  # HTTP requests actually sent

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.configs)

    @property
    def failed(self) -> tuple[ConfigResult, ...]:
        return tuple(c for c in self.configs if not c.passed)

    def result(self, address: str) -> ConfigResult | None:
        return next((c for c in self.configs if c.address == address), None)

    def to_dict(self) -> JSON:
        return {
            "passed": self.passed,
            "requests": self.requests,
            "summary": {
                "configs": len(self.configs),
                "failed": len(self.failed),
                "keys": sum(len(c.keys) for c in self.configs),
                "keys_failed": sum(not k.passed for c in self.configs for k in c.keys),
            },
            "configs": [c.to_dict() for c in self.configs],
        }


class FailedKey(Protocol):
    """A failed key as a plan records it (``llmform.core.plan.KeyCheckRow``)."""

    @property
    def address(self) -> str: ...

    @property
    def outcome(self) -> str: ...

    @property
    def cached(self) -> bool: ...


# What to do about each kind of failure; "{hosts}" is filled with the hosts that were tried.
ADVICE: dict[str, str] = {
    "unreachable": "check that api_base is right and that this machine reaches {hosts}: the "
    "host name and DNS, a proxy (HTTPS_PROXY, NO_PROXY) and firewalls on the way",
    "invalid_key": "fix or replace the key where its reference points (Vault or the environment)",
    "no_permission": "give the key the right to list models, or use another key",
    "out_of_quota": "add credit or quota to the provider account, or use another key",
    "model_missing": "deploy the model at the provider, or remove it from the config",
    "error": "read the provider's answer in the key checks; check api_base and the config's "
    "options",
}


def failure_summary(
    failed: Sequence[FailedKey], checks: Sequence[Mapping[str, Any]], consequence: str
) -> list[str]:
    """The error for failed key checks: how many, what was not done, and per kind of failure
    what to do. The keys themselves are not listed again: the plan lists every key's outcome,
    and this follows it."""
    count = len(failed)
    lines = [
        f"{count} key{'' if count == 1 else 's'} failed {'its' if count == 1 else 'their'} "
        f"check (see the key checks in the plan), so {consequence}:",
        *(f"  {line}" for line in failure_advice(failed, checks)),
        "Then plan again, or pass --no-validate-keys to skip the checks.",
    ]
    return lines


def failure_advice(failed: Sequence[FailedKey], checks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per kind of failure, how many keys and what to do (for the error on stderr and for the
    markdown plan a pull request shows); then whether some verdicts came from the cache."""
    by_outcome: dict[str, list[FailedKey]] = {}
    for row in failed:
        by_outcome.setdefault(row.outcome, []).append(row)
    lines = []
    for outcome, rows in by_outcome.items():
        words = outcome.replace("_", " ")
        advice = ADVICE.get(outcome, "see the key checks in the plan")
        if "{hosts}" in advice:
            advice = advice.format(hosts=_hosts({r.address for r in rows}, checks))
        lines.append(f"{words} ({len(rows)} key{'' if len(rows) == 1 else 's'}): {advice}")
    cached = sum(row.cached for row in failed)
    if cached:
        lines.append(
            f"({cached} of these verdicts came from the key-check cache, made by an earlier "
            "run: if a key was fixed at the provider since, --check-cache-ttl 0 asks again)"
        )
    return lines


def _hosts(addresses: set[str], checks: Sequence[Mapping[str, Any]]) -> str:
    from .transport import host_of  # imports httpx's URL parser only when needed

    found: dict[str, None] = {}
    for check in checks:
        endpoint = check.get("endpoint")
        if check.get("address") in addresses and isinstance(endpoint, str):
            parts = endpoint.split()
            if len(parts) >= 2:
                found[host_of(parts[1])] = None
    return ", ".join(found) or "the endpoint"


def identity_digest(endpoint: Endpoint, key_fingerprint: str, extra: tuple[str, ...]) -> str:
    """Names a (provider type, endpoint, key) triple, in the run and in the cache file. The
    fingerprint is already keyed; hashing again keeps the file uniform and short."""
    text = json.dumps([str(endpoint), key_fingerprint, list(extra)])
    return hashlib.sha256(text.encode()).hexdigest()


def default_cache_path() -> Path:
    return Path(cache_dir()) / "key-checks.json"


class ResultCache:
    """Outcomes by identity digest for ``ttl`` seconds, in one small JSON file.

    Only final outcomes are kept (a valid key with its model list, an invalid key): a rate
    limit or an outage says nothing about the next run, and credit or permissions can be fixed
    by an admin at any moment. The file holds digests, outcomes, statuses, model names and
    times; never a key, never a provider message.

    ``ttl`` is how old an answer this run takes from the cache (0: none). Every answer the run
    gets from a provider is recorded, whatever its ttl, so that a fresh answer (asked with ttl
    0 after a key was fixed at the provider) replaces the stale one for the runs that follow;
    entries are kept for ``KEEP`` seconds at least, since a later run may use the default ttl.
    """

    VERSION = 1
    KEEP = 900.0  # the default --check-cache-ttl
    MAX_BYTES = 16 << 20  # thousands of keys; a bigger file is not a cache llmform wrote

    def __init__(self, path: Path, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, JSON] = self._load()
        self._dirty = False

    def _load(self) -> dict[str, JSON]:
        # Only a file of this user that no one else can write: a verdict planted by another
        # user (in a cache directory others can write) would pass a key that was never checked.
        raw = read_own_file(self.path, self.MAX_BYTES)
        if raw is None:
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return {}  # a damaged cache: check afresh
        if not isinstance(data, dict) or data.get("version") != self.VERSION:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def get(self, ident: str) -> Reply | None:
        entry = self._entries.get(ident)
        if not isinstance(entry, dict):
            return None
        age = self.clock() - _checked_at(entry)
        if not 0 <= age < self.ttl:
            return None
        try:
            outcome = Outcome(entry["outcome"])
        except (KeyError, ValueError):
            return None
        models = entry.get("models")
        status = entry.get("status")
        # No detail: the provider's words are never stored, and the plan marks the verdict
        # "(cached)" itself.
        return Reply(
            outcome,
            "",
            status if isinstance(status, int) else None,
            frozenset(str(m) for m in models) if isinstance(models, list) else None,
        )

    def put(self, ident: str, reply: Reply) -> None:
        # The names are the provider's: one that quotes a secret of the run (a server echoing
        # the key as a model id) is left out, which can only make a model be asked about again.
        models = None if reply.models is None else sorted(m for m in reply.models if redact(m) == m)
        self._entries[ident] = {
            "outcome": str(reply.outcome),
            "status": reply.status,
            "models": models,
            "checked_at": self.clock(),
        }
        self._dirty = True

    def save(self) -> None:
        """Write atomically and owner-only (its directories 0700), dropping expired entries; a
        read-only cache dir is not an error."""
        if not self._dirty:
            return
        now, keep = self.clock(), max(self.ttl, self.KEEP)
        fresh = {
            k: v
            for k, v in self._entries.items()
            if isinstance(v, dict) and 0 <= now - _checked_at(v) < keep
        }
        text = json.dumps({"version": self.VERSION, "entries": fresh}, sort_keys=True)
        with contextlib.suppress(OSError, FileWriteError):
            make_private_dirs(self.path.parent)
            write_file(self.path, text, private=True)
        self._dirty = False


def _checked_at(entry: JSON) -> float:
    """When an entry was made; a damaged one counts as long expired."""
    try:
        return float(entry.get("checked_at", 0))
    except (TypeError, ValueError, OverflowError):
        return float("-inf")
