"""What a plan may not delete: protected resources, and everything at once by accident.

Protection is decided from the store's side of each change (``before``), never from the YAML
alone: a resource removed from the files together with its ``protect: true`` is still
protected, because the store says so. (Terraform's ``prevent_destroy`` is lost with the block
that declares it, hashicorp/terraform#17599.) Turning protection off is an ordinary update,
applied first; only then may a later plan delete the resource.

The empty-state guard refuses a desired state that declares nothing while the store holds
managed resources: a wrong folder or a misspelt path must not plan the deletion of everything.
Deleting everything takes ``llmform destroy``. Pure: changes, states and resources in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..desired.model import DesiredState
from ..errors import LlmformError
from .diff import DELETE, REPLACE, Change
from .problems import Problem
from .resources import Resource


@dataclass(frozen=True)
class Refusal:
    """A change the store's protection forbids: ``text`` says which and how to proceed."""

    address: str
    reason: str  # what follows the address in ``text``

    @property
    def text(self) -> str:
        return f"{self.address} {self.reason}"


def is_protected(resource: Resource | None) -> bool:
    return resource is not None and resource.attrs.get("protect") is True


def refusals(changes: Sequence[Change]) -> tuple[Refusal, ...]:
    """One refusal per change that deletes or replaces a protected resource, and per deleted
    workspace that holds a protected config, in the changes' order."""
    removing = [c for c in changes if c.action in (DELETE, REPLACE)]
    guarded: dict[str | None, list[str]] = {}
    for change in removing:
        if change.kind == "config" and is_protected(change.before):
            guarded.setdefault(change.workspace, []).append(change.address)
    out: list[Refusal] = []
    for change in removing:
        if is_protected(change.before):
            out.append(Refusal(change.address, _reason(change)))
        elif change.kind == "workspace" and change.workspace in guarded:
            held = ", ".join(guarded[change.workspace])
            out.append(
                Refusal(
                    change.address,
                    f"holds protected config(s) {held}, so it will not be destroyed: to delete "
                    "it, first apply those configs with 'protect: false', then remove them",
                )
            )
    return tuple(out)


def _reason(change: Change) -> str:
    if change.action == REPLACE:
        why = f" ({change.reason})" if change.reason else ""
        return (
            f"is protected, so it will not be replaced{why}: to replace it, first apply it "
            "with 'protect: false', then change it"
        )
    return (
        "is protected, so it will not be destroyed: to delete it, first apply it with "
        "'protect: false', then remove it"
    )


class ProtectedError(LlmformError):
    """A plan would delete or replace protected resources; each is in ``problems``."""

    def __init__(self, refused: Sequence[Refusal], consequence: str) -> None:
        self.problems = tuple(Problem(r.text, address=r.address) for r in refused)
        super().__init__(
            f"protected resources would be destroyed, so {consequence}:",
            *(f"  {r.text}" for r in refused),
        )


def protection_error(refused: Sequence[Refusal], consequence: str) -> ProtectedError | None:
    """The error for ``refused`` (None when empty); ``consequence`` says what was not done."""
    return ProtectedError(refused, consequence) if refused else None


# -- the empty-state guard ----------------------------------------------------------------------


class EmptyStateError(LlmformError):
    """The desired state declares nothing where the store holds managed resources."""


def check_declares_something(
    state: DesiredState, current: Mapping[str, Resource], scope: Sequence[str] = ()
) -> None:
    """Refuse a plan whose desired state declares nothing (in ``scope``) while the store holds
    managed resources there; ``current`` holds the store's managed resources.

    Without a scope, "declares nothing" means no workspace and no config: factories alone do
    not count, since such a state would still delete every workspace and config. A state with
    factories only may still delete factories (a repository can manage just those), but one
    without even a factory deletes nothing. With ``-w NAME``, it means the files do not declare
    the workspace NAME (its configs cannot be declared without it)."""
    if scope:
        for name in sorted(set(scope)):
            held = [r for r in current.values() if r.workspace == name]
            if name not in state.workspaces and held:
                raise EmptyStateError(
                    f"-w {name}: the configuration declares nothing for workspace {name!r}, but "
                    f"the store holds {_counted(held)} there, which this plan would delete; to "
                    f"delete them, run 'llmform destroy -w {name}'; otherwise check the paths "
                    "you gave and the workspace name"
                )
        return
    if state.workspaces or state.configs:
        return
    kept = {factory.address for factory in state.factories.values()}
    doomed = [r for r in current.values() if r.address not in kept]
    if any(r.kind != "factory" for r in doomed) or (not state.factories and doomed):
        raise EmptyStateError(
            "the configuration declares no workspace and no config, but the store holds "
            f"{_counted(doomed)}, which this plan would delete; to delete everything, run "
            "'llmform destroy'; otherwise check the paths you gave (every llmform file "
            "starts with 'apiVersion: llmform/v1')"
        )


def _counted(resources: Iterable[Resource]) -> str:
    counts = {"workspace": 0, "config": 0, "factory": 0}
    for resource in resources:
        counts[resource.kind] += 1
    plural = {"workspace": "workspaces", "config": "configs", "factory": "factories"}
    parts = [f"{n} {kind if n == 1 else plural[kind]}" for kind, n in counts.items() if n]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
