"""The Target protocols: what llmform configures (the SQLite registry; PostgreSQL, MLflow's
gateway, LiteLLM next), apart from llmform's own record of it (``state.base.StateStore``).

A target reads its current resources (those llmform manages and those it finds there but did
not create) and applies changes, in one of two ways:

- ``SelfStatedTarget``: it keeps llmform's state in its own database and applies a plan's
  changes together with the state's record (serial bump, audit events) in ONE transaction: all
  or nothing. The registry is one; it is its own state store too (``Store``).
- ``SteppedTarget``: it cannot (an external API): it applies one change at a time, in the order
  the engine gives (``engine.steps``), and its state store records each step as it lands
  (``state.base.SteppedStateStore``), so that a re-plan after a failure shows what is left.

The engine works on the pair (``engine.backend.Backend``): the target for resources and
changes, the state for lineage, serial, lock, audit trail and fingerprint key. This is
Terraform's split of provider and backend.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..core.diff import Change
from ..core.resources import Resource
from ..desired.model import DesiredState, SecretRef
from ..errors import Diagnostic
from ..secrets.base import SecretValue
from ..state.audit import AuditEvent
from ..state.audit_keys import ChainKey
from ..state.base import NoStoreError as NoStoreError  # re-exported: where they were
from ..state.base import OpenMode as OpenMode
from ..state.base import StalePlanError as StalePlanError
from ..state.base import StateStore


@dataclass(frozen=True)
class Adoptable:
    """What a target holds that llmform did not make but can take over as ``resource`` (at its
    address) when the configuration declares it there (``engine.adoption``); until then its
    ``objects`` (their addresses among the unmanaged) are left alone like any other."""

    resource: Resource
    objects: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreState:
    lineage: str
    serial: int
    resources: Mapping[str, Resource]  # managed by llmform
    unmanaged: Mapping[str, Resource] = field(default_factory=dict)  # there, not ours
    # the state's record of what llmform applied, for a target that keeps no state (drift is
    # what the target holds otherwise: ``core.drift``); None for one that is its own state
    last_applied: Mapping[str, Resource] | None = None
    adoptable: Mapping[str, Adoptable] = field(default_factory=dict)  # not ours, may be
    notes: tuple[str, ...] = ()  # what the target could not read as llmform's (for export)


@dataclass(frozen=True)
class TargetResources:
    managed: Mapping[str, Resource]  # created by llmform
    unmanaged: Mapping[str, Resource] = field(default_factory=dict)  # there, not ours
    adoptable: Mapping[str, Adoptable] = field(default_factory=dict)  # not ours, may be
    notes: tuple[str, ...] = ()


class Target(Protocol):
    """What llmform configures: its resources as they are now."""

    display_url: str  # the URL without credentials

    @property
    def exists(self) -> bool:
        """False: the target is not there yet (OpenMode.APPLY/PLAN) and reads as new and empty;
        an apply creates it."""
        ...

    @property
    def created(self) -> bool:
        """This process created the target (``llmform init``, or the first apply)."""
        ...

    @property
    def warnings(self) -> Sequence[str]:
        """Found on opening, for stderr: a registry others can read, or owned by another."""
        ...

    @property
    def applied_by_trusted_runs(self) -> bool:
        """Whether only llmform's runs write what the target holds, so that the endpoints in it
        may be trusted for key checks; False for a target a change under review could have
        written (a SQLite file that git tracks: ``registry.versioned``)."""
        ...

    def read_resources(self) -> TargetResources: ...

    def close(self) -> None: ...


@runtime_checkable
class SteppedTarget(Target, Protocol):
    """A target that cannot apply changes together with llmform's state (an external API): it
    applies one change at a time, in the order the engine gives (creates of factories, then
    workspaces, then configs; deletes in reverse), and the state records each as it lands."""

    def apply_change(self, change: Change, sealed: Mapping[str, str] | None = None) -> None:
        """Make ``change`` (``sealed``: its sealed secret values, by slot, when the plan
        stores them encrypted); raise ``StoreError`` when it cannot, having changed nothing
        that a re-plan would not show."""
        ...


@runtime_checkable
class ChecksDesired(Protocol):
    """A target that cannot hold all the YAML may declare (MLflow reserves its ``default``
    workspace): each such declaration at its place in the YAML, refused before anything is
    resolved or read."""

    def desired_problems(self, state: DesiredState) -> Sequence[Diagnostic]: ...


@runtime_checkable
class TakesSecretValues(Protocol):
    """A target that is given secret values, not only their references: one whose system
    holds the keys itself (MLflow's gateway). The engine hands in the resolved secrets before
    it applies; the target keeps them in memory for the requests that push them, and never
    writes them to the state, a message or a log."""

    def use_secrets(self, values: Mapping[SecretRef, SecretValue]) -> None: ...


class SelfStatedTarget(Target, Protocol):
    """A target that keeps llmform's state in its own database, so that a plan's changes and
    the state's record of them commit in one transaction."""

    def read(self) -> StoreState:
        """The state's lineage and serial and the target's resources, in one snapshot."""
        ...

    def apply(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        sealed: Mapping[str, Mapping[str, str]] | None = None,
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        """Apply ``changes`` if the state is still at (lineage, serial) ``expected`` and the
        target holds each change's ``before`` at its address, none of them unmanaged
        (``guard.check_befores``, inside the same transaction); bump the serial and append the
        audit events, sealed with ``chain_key`` (plain SHA-256 without one: ``audit.seal``);
        return them.

        ``sealed`` (``sealing.seal_changes``): config address -> slot -> sealed value, stored
        beside the reference for every config the changes write and the plan marks
        ``encrypted``. A target that cannot keep sealed values refuses such changes."""
        ...


class Store(SelfStatedTarget, StateStore, Protocol):
    """A target that is its own state store: the registry (SQLite today, PostgreSQL next)."""

    display_url: str

    @property
    def exists(self) -> bool: ...

    @property
    def created(self) -> bool: ...

    @property
    def warnings(self) -> Sequence[str]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class StoredDigests:
    """What a plan needs to tell which resources changed without reading them: each managed
    resource's digest (``core.resources.resource_digest``; None: not known, read it), and the
    addresses of the unmanaged ones."""

    lineage: str
    serial: int
    managed: Mapping[str, str | None]
    unmanaged: frozenset[str]


@runtime_checkable
class DigestedStore(Protocol):
    """A store that keeps a digest per managed resource (the registry: ``registry_triggers``
    says why a stored digest can be trusted)."""

    def read_digests(self, scope: Sequence[str] = ()) -> StoredDigests | None:
        """The digests of the managed factories and policies and of the managed workspaces
        and configs in ``scope`` (empty: all), and every unmanaged address, in one snapshot.
        None: the store cannot vouch for its digests now (read everything instead)."""
        ...

    def read_some(self, addresses: Collection[str]) -> StoreState:
        """``read`` of the resources at ``addresses`` only (managed and unmanaged)."""
        ...

    def read_endpoints(self) -> StoreState:
        """``read`` of the managed factories and of the managed configs with an ``api_base``
        only: the endpoints applied (``checks.trust_sources.applied_urls``)."""
        ...
