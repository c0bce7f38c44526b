"""Check every key of every config against its live provider: concurrently, with retries,
backoff and key rotation, each distinct key once per run, results cached between runs.

The schedule is the one our users' platforms follow at run time, so that what passes here will
pass there: at most ``max_retries`` (3) retries after the first attempt, each on the next key of
the config (wrapping round), after ``base_delay * 2**retry`` seconds (1, 2, 4) or what
``Retry-After`` asks; a failure of the key itself (invalid, no permission, out of credit)
rotates at once, and such a key is not tried again. Keys the rotation did not reach (because an
earlier one worked) are then checked on their own with the same schedule, so every key gets a
verdict. Inputs are in ``subjects``, results and the cache in ``results``, the retry policy in
``retry``, failures without an answer in ``transport``.

Over 400 lines: ``_Run`` is one schedule (a run's sender, cache, per-key probes and retries,
about 250 lines); what could leave it has left already (inputs, results, retry policy,
transport), and cutting the schedule itself would pass its state between modules.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import httpx

from ..secrets.base import fingerprint
from .answers import ANSWER_DEADLINE
from .pools import ClientPools, Sender, default_sender
from .providers import ADAPTERS, KEY_LEVEL, Endpoint, Outcome, ProviderAdapter, Reply, Unsupported
from .providers.base import clean_detail
from .results import Attempt, CheckReport, ConfigResult, KeyResult, ResultCache, identity_digest
from .retry import RetryPolicy, retry_after
from .subjects import NO_KEY, CheckTarget, KeySlot, targets_for, unsent_result
from .transport import deadline_reply, transport_reply

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
Progress = Callable[[int, int], None]

__all__ = [
    "Attempt",
    "CheckReport",
    "CheckTarget",
    "ConfigResult",
    "KeyResult",
    "KeySlot",
    "ResultCache",
    "RetryPolicy",
    "check_keys",
    "run_checks",
    "targets_for",
]


@dataclass(frozen=True)
class _Probe:
    reply: Reply
    cached: bool = False


_CACHEABLE = frozenset({Outcome.VALID, Outcome.INVALID_KEY})
_FINAL = frozenset({Outcome.VALID, Outcome.SKIPPED}) | KEY_LEVEL


class _Run:
    """One run's shared state: the sender, the bound on concurrent requests, the probes made."""

    def __init__(
        self,
        sender: Sender,
        parallelism: int,
        retry: RetryPolicy,
        timeout: float,
        cache: ResultCache | None,
        sleep: Sleep,
        clock: Clock,
        deadline: float = ANSWER_DEADLINE,
    ) -> None:
        self.sender = sender
        self.gate = asyncio.Semaphore(parallelism)
        self.retry = retry
        self.timeout = timeout
        self.deadline = deadline
        self.cache = cache
        self.sleep = sleep
        self.clock = clock
        self.probes: dict[str, asyncio.Task[_Probe]] = {}
        self.refreshed: dict[str, asyncio.Task[_Probe]] = {}  # cached answers asked again
        self.confirmed: dict[tuple[str, str], asyncio.Task[bool | None]] = {}
        self.requests = 0
        self._timeouts = httpx.Timeout(timeout).as_dict()

    async def send(self, build: Callable[[], httpx.Request], base: str) -> httpx.Response | Reply:
        """Send the request ``build`` makes. It is built only once a place under the bound is
        free: a large run would otherwise prepare every request before the first went out,
        and the first round trips would wait for that. A request that cannot be built or gets
        no answer becomes a Reply in fixed words (``transport``) that name the host
        tried (``base``'s, until the request has a URL): an exception's own text may quote the
        request, key included."""
        async with self.gate:
            try:
                request = build()
            except Unsupported:
                raise
            except Exception as exc:  # the I/O edge: say what, never its text
                return transport_reply(exc, base, self.timeout)
            request.extensions["timeout"] = self._timeouts
            self.requests += 1
            # the whole exchange, not only each step: a drip of a byte a second passes each
            # read's timeout
            limit = asyncio.timeout(self.deadline)
            try:
                async with limit:
                    return await self.sender.send(request)
            except Exception as exc:  # the I/O edge: say what, never its text
                if limit.expired():
                    return deadline_reply(request.url, self.deadline)
                return transport_reply(exc, request.url, self.timeout)

    async def probe(
        self,
        target: CheckTarget,
        adapter: ProviderAdapter,
        endpoint: Endpoint,
        slot: KeySlot,
        fresh: bool = False,
    ) -> _Probe:
        """One attempt with one key, shared by every config that holds the same key for the
        same endpoint: an attempt in flight is joined, a final answer reused, a transient one
        (rate limit, outage) tried afresh. ``fresh``: ask the provider even when the cache
        has an answer, once per run."""
        ident = identity_digest(endpoint, slot.fingerprint, target.secret_fingerprints)
        probes = self.refreshed if fresh else self.probes
        task = probes.get(ident)
        if task is None or (task.done() and task.result().reply.outcome not in _FINAL):
            use_cache = not fresh
            task = asyncio.ensure_future(
                self._attempt(ident, target, adapter, endpoint, slot, use_cache)
            )
            probes[ident] = task
        return await task

    async def _attempt(
        self,
        ident: str,
        target: CheckTarget,
        adapter: ProviderAdapter,
        endpoint: Endpoint,
        slot: KeySlot,
        use_cache: bool = True,
    ) -> _Probe:
        if use_cache and self.cache is not None and (hit := self.cache.get(ident)) is not None:
            return _Probe(hit, cached=True)
        try:
            answer = await self.send(
                lambda: adapter.request(endpoint, slot.value, target.secrets), endpoint.api_base
            )
        except Unsupported as exc:
            return _Probe(Reply(Outcome.SKIPPED, clean_detail(str(exc))))
        if isinstance(answer, Reply):
            return _Probe(answer)
        reply = adapter.interpret(answer)
        wait = retry_after(answer.headers, self.clock())
        reply = replace(
            reply,
            detail=clean_detail(reply.detail),
            retry_after=wait if wait is not None else reply.retry_after,
        )
        if self.cache is not None and reply.outcome in _CACHEABLE:
            self.cache.put(ident, reply)
        return _Probe(reply)

    async def confirm(
        self,
        target: CheckTarget,
        adapter: ProviderAdapter,
        endpoint: Endpoint,
        slot: KeySlot,
        model: str,
    ) -> bool | None:
        """Whether a model the list did not name exists after all (an alias); None if the
        provider cannot tell."""
        try:
            request = adapter.model_request(endpoint, slot.value, target.secrets, model)
        except (httpx.InvalidURL, ValueError):
            return None  # the list request, built alike, has said why already
        if request is None:
            return None
        ident = identity_digest(endpoint, slot.fingerprint, target.secret_fingerprints)
        task = self.confirmed.get((ident, model))
        if task is None:
            task = asyncio.ensure_future(self._confirm(request))
            self.confirmed[(ident, model)] = task
        return await task

    async def _confirm(self, request: httpx.Request) -> bool | None:
        answer = await self.send(lambda: request, str(request.url))
        if isinstance(answer, Reply):
            return None
        if answer.is_success:
            return True
        return False if answer.status_code == 404 else None

    async def sequence(
        self,
        target: CheckTarget,
        adapter: ProviderAdapter,
        endpoint: Endpoint,
        slots: Sequence[KeySlot],
    ) -> tuple[list[Attempt], dict[int, _Probe]]:
        """Attempts over ``slots`` by the schedule in the module docstring, until one works."""
        attempts: list[Attempt] = []
        last: dict[int, _Probe] = {}
        dead: set[int] = set()
        index, waited = 0, 0.0
        for retry in range(self.retry.max_retries + 1):
            slot = slots[index]
            probe = await self.probe(target, adapter, endpoint, slot)
            reply = probe.reply
            attempts.append(
                Attempt(retry + 1, slot.position, reply.outcome, waited, reply.status, probe.cached)
            )
            last[slot.position] = probe
            if reply.outcome in (Outcome.VALID, Outcome.SKIPPED):
                break
            if not reply.retry_with_backoff:
                dead.add(index)  # the same key would fail the same way
            ring = [(index + step) % len(slots) for step in range(1, len(slots) + 1)]
            alive = [i for i in ring if i not in dead]
            if retry == self.retry.max_retries or not alive:
                break
            waited = 0.0
            if reply.retry_with_backoff:
                waited = self.retry.backoff(retry)
                if reply.retry_after is not None:
                    waited = min(reply.retry_after, self.retry.max_retry_after)
                await self.sleep(waited)
            index = alive[0]
        return attempts, last

    async def check(self, target: CheckTarget) -> ConfigResult:
        adapter = ADAPTERS.get(target.provider_type)
        if adapter is None:
            message = f"no key check for provider type {target.provider_type!r}"
            return unsent_result(target, "", Outcome.SKIPPED, message)
        try:
            endpoint = adapter.endpoint(target.api_base, target.options)
        except ValueError as exc:
            return unsent_result(target, "", Outcome.ERROR, clean_detail(str(exc)))
        missing_keys = [s for s in target.unresolved if s not in {k.slot for k in target.keys}]
        if missing_keys:  # a secret option (api_secret): no key can be checked without it
            detail = f"{', '.join(missing_keys)} not resolved"
            return unsent_result(target, str(endpoint), Outcome.ERROR, detail)
        slots = tuple(_identified(s) for s in target.keys) or (NO_KEY,)
        # An unresolved key is reported, never sent; rotation runs over the others.
        usable = [s for s in slots if s.slot not in target.unresolved]
        attempts, last = (
            await self.sequence(target, adapter, endpoint, usable) if usable else ([], {})
        )
        tries = [a.position for a in attempts]
        unreached = [s for s in usable if s.position not in last]
        for own_attempts, own_last in await asyncio.gather(
            *(self.sequence(target, adapter, endpoint, [s]) for s in unreached)
        ):
            last.update(own_last)
            tries += [a.position for a in own_attempts]
        keys = []
        for slot in slots:
            if slot.position not in last:
                keys.append(KeyResult(slot.slot, slot.position, Outcome.ERROR, "not resolved"))
                continue
            result = await self._key_result(target, adapter, endpoint, slot, last[slot.position])
            keys.append(replace(result, attempts=tries.count(slot.position)))
        return ConfigResult(
            address=target.address,
            provider_type=target.provider_type,
            endpoint=str(endpoint),
            keys=tuple(keys),
            attempts=tuple(attempts),
        )

    async def _key_result(
        self,
        target: CheckTarget,
        adapter: ProviderAdapter,
        endpoint: Endpoint,
        slot: KeySlot,
        probe: _Probe,
    ) -> KeyResult:
        if probe.cached and _lacks(probe.reply, target.models):
            # A model missing from a cached list may have been deployed since: only the
            # provider, asked now, may say it is missing.
            probe = await self.probe(target, adapter, endpoint, slot, fresh=True)
        reply = probe.reply
        outcome, detail = reply.outcome, reply.detail
        missing: tuple[str, ...] = ()
        if outcome is Outcome.VALID and target.models:
            listed = reply.models
            unlisted = [m for m in target.models if listed is None or m not in listed]
            found = await asyncio.gather(
                *(self.confirm(target, adapter, endpoint, slot, m) for m in unlisted)
            )
            # Without a list, a model is missing only when a per-model request says so.
            missing = tuple(
                m
                for m, ok in zip(unlisted, found, strict=True)
                if ok is False or (ok is None and listed is not None)
            )
            if missing:
                outcome = Outcome.MODEL_MISSING
                detail = "the provider does not serve " + ", ".join(missing)
        return KeyResult(
            slot=slot.slot,
            position=slot.position,
            outcome=outcome,
            detail=detail,
            cached=probe.cached,
            missing_models=missing,
        )


# A key handed over without a fingerprint still needs an identity of its own, or every such
# key at one endpoint would share one check. A per-process key: it means nothing after the run.
_RUN_KEY = secrets.token_bytes(32)


def _identified(slot: KeySlot) -> KeySlot:
    if slot.fingerprint or slot.value is None:
        return slot
    return replace(slot, fingerprint="run:" + fingerprint(_RUN_KEY, slot.value))


def _lacks(reply: Reply, models: Sequence[str]) -> bool:
    """Whether a valid answer's model list leaves out one of ``models``."""
    listed = reply.models
    return (
        reply.outcome is Outcome.VALID
        and listed is not None
        and any(m not in listed for m in models)
    )


async def check_keys(
    targets: Sequence[CheckTarget],
    *,
    parallelism: int = 10,
    retry: RetryPolicy | None = None,
    timeout: float = 10.0,
    client: httpx.AsyncClient | None = None,
    cache: ResultCache | None = None,
    progress: Progress | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.time,
    deadline: float = ANSWER_DEADLINE,
) -> CheckReport:
    """Check every target; at most ``parallelism`` requests in flight, each within ``timeout``
    a step (connect, write, read) and ``deadline`` in all. ``progress(done, total)`` is called
    as configs finish. ``sleep`` and ``clock`` are injectable so that tests assert the backoff
    exactly; ``client`` so that they choose the transport."""
    if parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    # No more requests are ever in flight than there are keys (a key's retries follow each
    # other): pools beyond that would only cost memory (--parallelism 10**30 asked for 2e29).
    parallelism = min(parallelism, max(1, sum(max(1, len(t.keys)) for t in targets)))
    sender = (
        default_sender(parallelism, targets) if client is None else ClientPools([client], own=False)
    )
    run = _Run(sender, parallelism, retry or RetryPolicy(), timeout, cache, sleep, clock, deadline)
    done = 0
    if progress is not None:
        progress(0, len(targets))

    async def one(target: CheckTarget) -> ConfigResult:
        nonlocal done
        result = await run.check(target)
        done += 1
        if progress is not None:
            progress(done, len(targets))
        return result

    tasks: list[asyncio.Task[ConfigResult]] = []
    try:
        for index, target in enumerate(targets, 1):
            tasks.append(asyncio.ensure_future(one(target)))
            if index % parallelism == 0:
                # Let the requests of the targets started so far go out before preparing
                # more: preparing a thousand first would hold back the first round trips.
                await asyncio.sleep(0)
        results = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()  # nothing to finished ones; after a failure, stops the rest
        await sender.aclose()
    if cache is not None:
        cache.save()
    return CheckReport(configs=tuple(results), requests=run.requests)


def run_checks(
    targets: Sequence[CheckTarget],
    *,
    parallelism: int = 10,
    retry: RetryPolicy | None = None,
    timeout: float = 10.0,
    cache: ResultCache | None = None,
    progress: Progress | None = None,
) -> CheckReport:
    """``check_keys`` for synchronous callers (the plan), on a fresh event loop and client."""
    return asyncio.run(
        check_keys(
            targets,
            parallelism=parallelism,
            retry=retry,
            timeout=timeout,
            cache=cache,
            progress=progress,
        )
    )
