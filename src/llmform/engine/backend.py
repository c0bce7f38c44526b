"""The backend of a command: the target llmform configures and the state it keeps of it.

Terraform keeps the backend (state, lock) apart from the provider (the API it changes); so does
llmform. A ``Backend`` is that pair: the engine asks ``backend.state`` for the lineage, serial,
lock, audit trail and fingerprint key, and ``backend.target`` for resources and changes, so that
nothing outside ``targets/registry/`` assumes one database holds both.

Where each lives: ``--store URL`` names the target; ``--state URL`` (``LLMFORM_STATE``) the
state, for a target that cannot keep it (``SteppedTarget``: an external system such as MLflow's
gateway; by default ``sqlite:///.llmform/state.db``, which holds the state of every such target
a repository manages, each under its URL: ``state.stores``). The registry keeps its state in
its own database, in the same transaction as its changes: it is its own state store, and a
``--state`` naming anything else is refused before anything is opened.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any, cast

from ..core.diff import Change
from ..core.resources import Resource
from ..errors import StoreError
from ..state.audit import AuditEvent
from ..state.audit_keys import ChainKey
from ..state.base import StateStore, SteppedStateStore
from ..state.lock import LockInfo, taken_over_note
from ..state.stores import STATES, open_state
from ..state.urls import DEFAULT_STATE_URL, check_scheme, sqlite_path
from ..targets import STORES, NoStoreError, OpenMode
from ..targets.base import (
    SelfStatedTarget,
    SteppedTarget,
    Store,
    StoreState,
    Target,
    TargetResources,
)
from .steps import apply_in_steps

# The registry's schemes: a target there is its own state store (``--state`` may only name it).
SELF_STATED_SCHEMES = frozenset({"sqlite", "postgresql", "postgres"})

Warn = Callable[[str], None]  # where a command's warnings go (the CLI: stderr)


@dataclass(frozen=True)
class Location:
    """Where a command's backend is: the target's URL (``--store``) and, for a target that
    keeps no state of its own, the state's (``--state``; None: not given). ``state_given_by``
    names where a state URL came from, for the message that refuses it."""

    store: str
    state: str | None = None
    state_given_by: str = "--state"


@dataclass(frozen=True)
class Backend:
    """The target a command works on and llmform's state of it (the same object for the
    registry, which keeps its own)."""

    target: Target
    state: StateStore

    @classmethod
    def of(cls, store: Store | Backend) -> Backend:
        """A backend as given, or the registry's: a target that is its own state store."""
        return store if isinstance(store, Backend) else cls(store, store)

    @property
    def display_url(self) -> str:
        return self.target.display_url

    @property
    def exists(self) -> bool:
        """False: nothing is there yet; the first apply creates it."""
        return self.target.exists and self.state.exists

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.target.warnings, *self.state.warnings]))

    def read(self) -> StoreState:
        """The state's lineage and serial and the target's resources (one snapshot where the
        target holds both)."""
        whole = _self_stated(self.target)
        if whole is not None and self._one_database:
            return whole.read()
        lineage, serial = self.state.lineage_serial()
        last = self.state.last_applied() if isinstance(self.state, SteppedStateStore) else None
        resources = _read_resources(self.target, last)
        return StoreState(
            lineage,
            serial,
            resources.managed,
            resources.unmanaged,
            last,
            adoptable=resources.adoptable,
            notes=resources.notes,
        )

    def apply(
        self,
        changes: Sequence[Change],
        expected: tuple[str, int],
        audit_drafts: Sequence[Mapping[str, Any]],
        sealed: Mapping[str, Mapping[str, str]] | None = None,
        chain_key: ChainKey | None = None,
    ) -> list[AuditEvent]:
        """The changes and the state's record of them: in one transaction by a target that
        keeps its own state, else step by step (``engine.steps``)."""
        if isinstance(self.target, SteppedTarget):
            if not isinstance(self.state, SteppedStateStore):
                raise StoreError(
                    f"the state {self.state.display_url} cannot record the steps of an apply"
                )
            return apply_in_steps(
                self.target, self.state, changes, expected, audit_drafts, sealed, chain_key
            )
        whole = _self_stated(self.target)
        if whole is None:
            raise StoreError(f"the target {self.display_url} cannot apply changes")
        return whole.apply(changes, expected, audit_drafts, sealed, chain_key)

    @contextmanager
    def locked(self, operation: str, timeout: float, warn: Warn) -> Iterator[LockInfo]:
        """The state's lock, held for ``operation``; when it was taken over from a run that
        is gone (killed, or cut off by a server restart), ``warn`` says so."""
        with self.state.lock(operation, timeout) as lock:
            note = taken_over_note(lock)
            if note:
                warn(note)
            yield lock

    @property
    def _one_database(self) -> bool:
        target: object = self.target
        return target is self.state

    def close(self) -> None:
        self.target.close()
        if not self._one_database:
            self.state.close()


def _self_stated(target: Target) -> SelfStatedTarget | None:
    """The target as one that applies together with its state (None: it applies in steps)."""
    if isinstance(target, SteppedTarget) or not callable(getattr(target, "apply", None)):
        return None
    return cast(SelfStatedTarget, target)


def _read_resources(target: Target, last: Mapping[str, Resource] | None) -> TargetResources:
    """The target's resources; a stepped target whose ``read_resources`` takes
    ``last_applied`` is given the state's (``last``: what llmform wrote, with the fingerprints
    of secrets the target returns only masked). A stepped target's policies live in its
    state's record alone (``engine.steps``): they are read from there, and no target sees them."""
    read = target.read_resources
    if last is None:
        return read()
    policies = {a: r for a, r in last.items() if r.kind == "policy"}
    if "last_applied" in inspect.signature(read).parameters:
        others = {a: r for a, r in last.items() if r.kind != "policy"}
        found = cast(Callable[..., TargetResources], read)(last_applied=others)
    else:
        found = read()
    if not policies:
        return found
    return replace(found, managed={**found.managed, **policies})


def _same_place(a: str, b: str) -> bool:
    if a.startswith("sqlite:") and b.startswith("sqlite:"):
        return os.path.abspath(sqlite_path(a)) == os.path.abspath(sqlite_path(b))
    return a == b


def check_state_url(where: Location) -> None:
    """Before anything is opened: a ``--state`` URL is checked as ``--store`` URLs are, and,
    for the registry, refused unless it names the registry itself (it keeps its own state)."""
    if where.state is None:
        return
    store_scheme = check_scheme(where.store, sorted(STORES))
    try:
        check_scheme(where.state, sorted(STORES if store_scheme in SELF_STATED_SCHEMES else STATES))
        if where.state.startswith("sqlite:"):
            sqlite_path(where.state)
    except StoreError as exc:
        raise StoreError(f"{where.state_given_by}: {exc}") from None
    if store_scheme in SELF_STATED_SCHEMES and not _same_place(where.state, where.store):
        raise StoreError(
            f"{where.state_given_by} is for targets that keep no state of their own (an "
            f"external system such as MLflow's gateway); the registry {where.store} keeps its "
            f"state in its own database: drop {where.state_given_by}"
        )


def open_backend(where: Location, mode: OpenMode = OpenMode.CREATE) -> Backend:
    """The target at ``where.store`` and its state, opened as ``mode`` says (see OpenMode).
    A ``--state`` URL that does not fit is refused first (``check_state_url``)."""
    check_state_url(where)
    target: Target = STORES[check_scheme(where.store, sorted(STORES))](where.store, mode)
    if not isinstance(target, SteppedTarget):
        return Backend.of(cast(Store, target))
    try:
        state = open_state(where.state or DEFAULT_STATE_URL, mode, target.display_url)
    except BaseException:
        target.close()
        raise
    return Backend(target, state)


@contextmanager
def opened_backend(where: Location, mode: OpenMode, warn: Warn) -> Iterator[Backend]:
    """``open_backend``, its warnings handed to ``warn``, closed after."""
    backend = open_backend(where, mode)
    try:
        for warning in backend.warnings:
            warn(warning)
        yield backend
    finally:
        backend.close()


@contextmanager
def existing_backend(where: Location, mode: OpenMode, warn: Warn) -> Iterator[Backend | None]:
    """``opened_backend``, for a command that has nothing to do without a store (READ or
    EXISTING, neither creates one): None when there is none."""
    with ExitStack() as stack:
        try:
            backend: Backend | None = stack.enter_context(opened_backend(where, mode, warn))
        except NoStoreError:
            backend = None
        yield backend
