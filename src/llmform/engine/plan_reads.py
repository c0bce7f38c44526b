"""What a plan reads of the store: with a store that keeps a digest per resource (the registry,
``targets.base.DigestedStore``), only the resources whose digest differs from the desired
one's; from any other (MLflow's gateway, whose drift needs every object), everything.

The digests are a shortcut, never a verdict: equal digests (``core.resources.resource_digest``
of everything diff compares) mean the resource is unchanged, so it is neither read nor diffed
and the plan counts it as such (``build_plan``'s ``known_unchanged``); anything else (new,
deleted, changed, a digest the store does not know, an unmanaged row) is read and diffed as
before. A desired config with a secret the run did not read is never matched by digest: its
stored fingerprint is carried over (``core.unresolved``), which needs the row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from ..core.diff import Scope
from ..core.protect import check_declares_something
from ..core.resources import DesiredResources, Resource, known_digest, resource_digest
from ..desired.model import DesiredState, KnownDigest
from ..targets.base import DigestedStore, StoredDigests, StoreState
from .backend import Backend

# Past this share of the store differing, one whole read is cheaper than reading by key.
WHOLE_READ_SHARE = 3


@dataclass(frozen=True)
class PlanInputs:
    """The store as a plan diffs it: ``read`` holds the resources read in full (every one, or
    those that may have changed, every managed policy and every unmanaged row), ``desired``
    the desired resources to diff against them, ``known_unchanged`` the others (address ->
    digest). ``managed``: every managed address in the plan's scope, when ``read`` is not
    the whole store (None: it is)."""

    read: StoreState
    desired: Mapping[str, Resource]
    known_unchanged: Mapping[str, str]
    managed: Collection[str] | None = None


def digested(backend: Backend) -> DigestedStore | None:
    """The backend's store as one that keeps digests (None: read it whole). Only a target
    that is its own state store: a target beside a state has drift to show."""
    target: object = backend.target
    if target is backend.state and isinstance(target, DigestedStore):
        return target
    return None


def _unread(resource: Resource) -> bool:
    """A config with a secret whose value the run did not read (no fingerprint)."""
    refs = resource.attrs.get("secrets") or {} if resource.kind == "config" else {}
    return any(slot not in resource.secrets for slot in refs)


def _whole(backend: Backend, desired: Mapping[str, Resource]) -> PlanInputs:
    # every resource made once here: ``DesiredResources`` makes a config's anew when asked
    return PlanInputs(backend.read(), dict(desired), {})


@dataclass
class DigestMemo:
    """The digests a run's plans made: apply's second plan (under the lock) reuses the
    first's of each resource equal to the one digested (``others``: address -> both), and of
    each config made of the same fingerprints and encryption (``configs``, which the next run
    keeps too: ``desired.built_cache``). A config's resource is not held: at 100,000 configs
    they would be most of a run's memory."""

    others: dict[str, tuple[Resource, str]] = field(default_factory=dict)
    configs: dict[str, KnownDigest] = field(default_factory=dict)
    verdicts: Verdicts | None = None  # the last plan's, for the next (``read_for_plan``)


@dataclass(frozen=True)
class Verdicts:
    """Which desired resources a plan found unchanged (``known``: address -> digest) and which
    may differ, against which stored digests: apply's second plan, under the lock, of the same
    desired resources against the same digests reaches the same verdicts without comparing
    each resource again (at 100,000 configs, a tenth of a one-config apply)."""

    desired: DesiredResources
    scope: tuple[str, ...]
    stored: StoredDigests
    known: Mapping[str, str]
    differ: frozenset[str]

    def hold_for(
        self, desired: Mapping[str, Resource], scope: Sequence[str], stored: StoredDigests
    ) -> bool:
        return (
            isinstance(desired, DesiredResources)
            and desired.made_as(self.desired)
            and tuple(scope) == self.scope
            and stored.managed == self.stored.managed
            and stored.unmanaged == self.stored.unmanaged
        )


def _digest(resource: Resource, memo: DigestMemo) -> str:
    if resource.kind == "config":
        digest = resource_digest(resource)
        known = known_digest(resource, digest)
        if known is not None:
            memo.configs[resource.address] = known
        return digest
    found = memo.others.get(resource.address)
    if found is not None and found[0] == resource:
        return found[1]
    digest = resource_digest(resource)
    memo.others[resource.address] = (resource, digest)
    return digest


def read_for_plan(
    backend: Backend,
    desired: Mapping[str, Resource],
    scope: Sequence[str] = (),
    memo: DigestMemo | None = None,
) -> PlanInputs:
    """What the plan of ``desired`` in ``scope`` diffs, read as narrowly as the store allows
    (``memo``: digests of an earlier plan of the same run)."""
    memo = DigestMemo() if memo is None else memo
    store = digested(backend)
    stored = store.read_digests(scope) if store is not None else None
    if store is None or stored is None:
        return _whole(backend, desired)
    previous = memo.verdicts
    if previous is not None and previous.hold_for(desired, scope, stored):
        known, differ = previous.known, set(previous.differ)  # known: read, never changed
    else:
        known, differ = _verdicts(desired, scope, stored, memo)
        if isinstance(desired, DesiredResources):
            memo.verdicts = Verdicts(desired, tuple(scope), stored, known, frozenset(differ))
    if len(differ) * WHOLE_READ_SHARE > max(len(stored.managed), 300):
        return _whole(backend, desired)
    policies = {address for address in stored.managed if address.startswith("policy.")}
    some = store.read_some(differ | policies | stored.unmanaged)
    if (some.lineage, some.serial) != (stored.lineage, stored.serial):
        return _whole(backend, desired)  # an apply came between the two reads
    wanted = {address: desired[address] for address in sorted(differ) if address in desired}
    return PlanInputs(some, wanted, known, frozenset(stored.managed))


def _verdicts(
    desired: Mapping[str, Resource],
    scope: Sequence[str],
    stored: StoredDigests,
    memo: DigestMemo,
) -> tuple[dict[str, str], set[str]]:
    """The desired resources in ``scope`` whose digest equals the stored one (address ->
    digest), and the addresses that may differ (desired or stored)."""
    covered = Scope(frozenset(scope))
    known: dict[str, str] = {}
    differ: set[str] = set()
    made = desired if isinstance(desired, DesiredResources) else None
    for address in desired:
        digest = stored.managed.get(address)
        config = made.config(address) if made is not None else None
        if config is not None and made is not None:  # digested without making its resource
            if scope and config.workspace not in covered.workspaces:
                continue
            if digest is not None and made.known_digest(address) == digest:
                known[address] = digest  # unchanged since an earlier run
                continue
            if digest is not None:
                ours, again = made.config_digest(config)
                if again is not None:  # every secret read: comparable, and kept for later
                    memo.configs[address] = again
                    if ours == digest:
                        known[address] = digest
                        continue
            differ.add(address)
            continue
        resource = desired[address]
        if scope and resource.kind != "factory" and not covered.covers(resource):
            continue  # outside the scope: the diff leaves it alone either way
        if digest is not None and not _unread(resource) and _digest(resource, memo) == digest:
            known[address] = digest
        else:
            differ.add(address)
    differ.update(address for address in stored.managed if address not in desired)
    if scope and any(address.startswith("factory.") for address in differ):
        # a scoped plan takes in a factory by the configs in scope that use it: diff them all
        for address, resource in desired.items():
            if resource.kind == "config" and covered.covers(resource):
                known.pop(address, None)
                differ.add(address)
    return known, differ


def check_declared(
    state: DesiredState, inputs: PlanInputs, current: Mapping[str, Resource], scope: Sequence[str]
) -> None:
    """``check_declares_something`` against every managed resource, where ``current`` (the
    managed resources read) may be a part of them: the others stand in by address, which is
    all the check looks at, and only when the check could refuse."""
    if inputs.managed is None:
        check_declares_something(state, current, scope)
        return
    could_refuse = (
        any(name not in state.workspaces for name in scope)
        if scope
        else not (state.workspaces or state.configs)
    )
    if not could_refuse:
        return
    stand_ins = {address: _stand_in(address) for address in inputs.managed}
    check_declares_something(state, {**stand_ins, **current}, scope)


def _stand_in(address: str) -> Resource:
    kind, _, name = address.partition(".")
    workspace = name if kind == "workspace" else name.split("/", 1)[0] if kind == "config" else None
    return Resource(address, kind, workspace, {})


def store_workspaces(
    backend: Backend, current: Callable[[], StoreState], scope: Sequence[str]
) -> set[str]:
    """The workspaces of ``scope`` the store holds managed resources in (``current``: the whole
    store, read only when the store keeps no digests)."""
    store = digested(backend)
    stored: StoredDigests | None = store.read_digests(scope) if store is not None else None
    if stored is not None:
        addresses: Collection[str] = stored.managed
    else:
        addresses = current().resources
    held = {_stand_in(address).workspace for address in addresses}
    return {name for name in held if name and name in scope}


def read_addresses(
    backend: Backend, addresses: Collection[str], current: Callable[[], StoreState]
) -> StoreState:
    """The store's resources at ``addresses`` (and perhaps more: ``current``, the whole store,
    when it keeps no digests)."""
    store = digested(backend)
    if store is None:
        return current()
    return store.read_some(addresses)


def compared(inputs: PlanInputs, current: Mapping[str, Resource]) -> Mapping[str, Resource]:
    """The store's resources ``build_plan`` diffs: those read, but for the known unchanged
    ones, which it counts from ``known_unchanged`` (every policy is read, for those in force
    to judge the plan, and must not be diffed as deleted)."""
    if not inputs.known_unchanged:
        return current
    return {a: r for a, r in current.items() if a not in inputs.known_unchanged}


def read_endpoints(backend: Backend, current: Callable[[], StoreState] | None) -> StoreState:
    """The managed resources whose endpoints count as applied (every one, from a store that
    keeps no digests: ``current``, or read now)."""
    store = digested(backend)
    if store is not None:
        return store.read_endpoints()
    return (current or backend.read)()
