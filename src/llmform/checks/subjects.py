"""What a key check is asked to check: one target per config, its keys in rotation order.

Built from the desired state and the resolved secrets by ``targets_for``; plain frozen records,
so a caller (or a test) can also build them by hand. ``split_by_trust`` keeps back the targets
whose requests would go to an endpoint that is not trusted (see ``llmform.checks.trust``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from ..core.resources import secret_slots
from ..desired.model import Config, DesiredState, SecretRef
from ..secrets.base import SecretValue
from .providers import ADAPTERS, Outcome, Unsupported
from .results import ConfigResult, KeyResult
from .trust import shown


@dataclass(frozen=True)
class KeySlot:
    """One key of a config: where it sits (``api_key``, ``backup_keys[0]``) and its value."""

    slot: str
    position: int
    value: SecretValue | None
    fingerprint: str  # "" for a config without a key


@dataclass(frozen=True)
class CheckTarget:
    """What is checked for one config. ``secrets`` are the provider-specific secret options
    (Bedrock's ``api_secret``); ``secret_fingerprints`` make them part of a check's identity."""

    address: str
    provider_type: str
    api_base: str | None
    keys: tuple[KeySlot, ...]
    models: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretValue] = field(default_factory=dict)
    secret_fingerprints: tuple[str, ...] = ()
    # a reference that did not resolve: reported per key as an error, never sent
    unresolved: tuple[str, ...] = ()


def targets_for(
    state: DesiredState,
    values: Mapping[SecretRef, SecretValue],
    fingerprints: Mapping[SecretRef, str],
    configs: Iterable[Config] | None = None,
) -> tuple[CheckTarget, ...]:
    """A target per config (default: every enabled config), from resolved secret values and
    their keyed fingerprints (as the plan computes them)."""
    chosen = [c for c in state.configs.values() if c.enabled] if configs is None else configs
    targets = []
    for config in chosen:
        slots = secret_slots(config)
        keys = tuple(
            KeySlot(slot, position, values.get(ref), fingerprints.get(ref, ""))
            for position, (slot, ref) in enumerate(
                (s, r) for s, r in slots.items() if s == "api_key" or s.startswith("backup_keys")
            )
        )
        secret_refs = dict(config.secret_options)
        targets.append(
            CheckTarget(
                address=config.address,
                provider_type=state.factories[config.factory].type,
                api_base=config.api_base,
                keys=keys,
                models=tuple(m.name for m in config.models),
                options=dict(config.options),
                secrets={n: values[r] for n, r in secret_refs.items() if r in values},
                secret_fingerprints=tuple(
                    f"{n}={fingerprints.get(r, '')}" for n, r in sorted(secret_refs.items())
                ),
                unresolved=tuple(s for s, r in slots.items() if r not in values),
            )
        )
    return tuple(targets)


@dataclass(frozen=True)
class Destination:
    """Where a check of a target would send requests: its provider endpoint (``base``, as
    shown to the user) and every URL it may request, as the HTTP client would send them."""

    base: str
    urls: tuple[httpx.URL, ...]


def destination(target: CheckTarget) -> Destination | None:
    """The requests a check of ``target`` would make (the model list, and each model it may
    confirm one by one), built by its adapter without a key; None when the check sends
    nothing (no adapter, or a config the adapter refuses: the checker reports those)."""
    adapter = ADAPTERS.get(target.provider_type)
    if adapter is None:
        return None
    try:
        endpoint = adapter.endpoint(target.api_base, target.options)
    except ValueError:
        return None
    urls: list[str | httpx.URL] = [endpoint.api_base]  # the base: what the user is told
    with contextlib.suppress(Unsupported):
        urls.append(adapter.request(endpoint, None, {}).url)
    for model in target.models:
        request = adapter.model_request(endpoint, None, {}, model)
        if request is not None:
            urls.append(request.url)
    return Destination(endpoint.api_base, tuple(httpx.URL(u) for u in urls))


# The slot of a config checked without a key (an endpoint that needs none).
NO_KEY = KeySlot("no key", 0, None, "")


def unsent_result(
    target: CheckTarget, endpoint: str, outcome: Outcome, detail: str
) -> ConfigResult:
    """One verdict for every key of ``target`` (or its key-less check) when no request was
    sent: the check could not start, or was not allowed to."""
    keys = tuple(KeyResult(s.slot, s.position, outcome, detail) for s in target.keys or (NO_KEY,))
    return ConfigResult(target.address, target.provider_type, endpoint, keys)


def untrusted_result(target: CheckTarget, shown: str) -> ConfigResult:
    """The verdict on a target whose endpoint is not trusted: nothing was sent, each key (or
    the key-less check) says so, with the endpoint to trust."""
    return unsent_result(target, shown, Outcome.UNTRUSTED, shown)


def unparsable_result(target: CheckTarget) -> ConfigResult:
    """The verdict on a target whose requests the HTTP client cannot even build (a host it
    cannot encode): nothing was sent, and none of the client's text, which quotes the URL."""
    detail = "api_base is not a valid URL (the HTTP client cannot parse it); run llmform validate"
    return unsent_result(target, "", Outcome.ERROR, detail)


def split_by_trust(
    targets: Sequence[CheckTarget], allows: Callable[[httpx.URL], bool]
) -> tuple[list[CheckTarget], dict[str, ConfigResult]]:
    """The targets that may be checked, and a verdict by address for each of the others:
    a target is checked only when every URL it would request is allowed."""
    checkable: list[CheckTarget] = []
    refused: dict[str, ConfigResult] = {}
    for target in targets:
        try:
            where = destination(target)
        except (httpx.InvalidURL, ValueError):  # UnicodeError, IDNAError: no request can be made
            refused[target.address] = unparsable_result(target)
            continue
        if where is None or all(allows(url) for url in where.urls):
            checkable.append(target)
        else:
            refused[target.address] = untrusted_result(target, shown(where.base))
    return checkable, refused
