"""What a plan may not delete: protected resources.

Protection is decided from the store's side of each change (``before``), never from the YAML
alone: a resource removed from the files together with its ``protect: true`` is still
protected, because the store says so. (Terraform's ``prevent_destroy`` is lost with the block
that declares it, hashicorp/terraform#17599.) Turning protection off is an ordinary update,
applied first; only then may a later plan delete the resource.
Pure: changes in, refusals out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .diff import DELETE, REPLACE, Change
from .errors import LlmformError
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
    """A plan would delete or replace protected resources."""

    def __init__(self, refused: Sequence[Refusal], consequence: str) -> None:
        listed = "\n  ".join(r.text for r in refused)
        super().__init__(f"protected resources would be destroyed, so {consequence}:\n  {listed}")


def protection_error(refused: Sequence[Refusal], consequence: str) -> ProtectedError | None:
    """The error for ``refused`` (None when empty); ``consequence`` says what was not done."""
    return ProtectedError(refused, consequence) if refused else None
