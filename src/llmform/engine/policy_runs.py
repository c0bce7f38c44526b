"""Policies from outside the scanned files (``--policy PATH``), and ``llmform policy check``:
the policies judging what the store holds now.

``--policy PATH`` is for an organisation that keeps its policies in a repository of its own,
which the pull request being planned cannot change: they take precedence over a policy of the
same name in the scanned files (which is then reported and ignored), and are applied with the
rest, so that they are in force in the store for the next change as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..catalog import builtin_factories
from ..core.export import export_yaml
from ..core.policy_results import PolicyOverride, PolicyResult, judge_state
from ..core.resources import policy_of
from ..desired.build import check_documents
from ..desired.loader import load_text
from ..desired.model import DesiredState, Policy
from ..desired.validate import validate_paths
from ..errors import InputError, LlmformError, has_errors
from ..targets import OpenMode
from .backend import Location, Warn, opened_backend


def outside_policies(paths: Sequence[str]) -> dict[str, Policy]:
    """The policies under ``paths`` (--policy), which hold nothing else."""
    if not paths:
        return {}
    result = validate_paths(paths, judge=False)
    if result.state is None:
        raise InputError(result.diagnostics)
    state = result.state
    declared = [f for f in state.factories.values() if not f.builtin]
    counts = (
        (len(declared), "factory(ies)"),
        (len(state.workspaces), "workspace(s)"),
        (len(state.configs), "config(s)"),
    )
    others = [f"{count} {kind}" for count, kind in counts if count]
    if others:
        raise LlmformError(
            f"--policy {' '.join(paths)}: holds {', '.join(others)} besides policies; give "
            "--policy the folder or files of policies alone"
        )
    return dict(state.policies)


def with_outside_policies(state: DesiredState, paths: Sequence[str], warn: Warn) -> DesiredState:
    """``state`` with the policies of ``paths`` (``--policy``) taking precedence."""
    outside = outside_policies(paths)
    for name in sorted(set(outside) & set(state.policies)):
        shadowed = state.policies[name]
        warn(
            f"{shadowed.location}: policy {name!r} is also given by --policy, which takes "
            "precedence; this one is ignored"
        )
    return replace(state, policies={**state.policies, **outside})


@dataclass(frozen=True)
class StoreCheck:
    """``policy check``: the verdicts on what the store holds, and where it is."""

    store_url: str
    serial: int
    results: tuple[PolicyResult, ...]
    overrides: tuple[PolicyOverride, ...] = ()


def check_store(where: Location, policy_paths: Sequence[str], warn: Warn) -> StoreCheck:
    """The policies in force in the store, and those of ``policy_paths`` (taking precedence),
    judging the store's managed resources as they are now. Reads only."""
    with opened_backend(where, OpenMode.READ, warn) as backend:
        current = backend.read()
        url = backend.display_url
    text = export_yaml(current)
    loaded = load_text(url, text)
    state, diagnostics = check_documents(loaded.documents, builtin_factories())
    if loaded.diagnostics or has_errors(diagnostics):
        problems = [str(d) for d in loaded.diagnostics + diagnostics][:5]
        raise LlmformError(
            f"the store {url} holds what llmform cannot read back as configuration", *problems
        )
    in_force = {r.name: policy_of(r) for r in current.resources.values() if r.kind == "policy"}
    state = replace(state, policies={**in_force, **outside_policies(policy_paths)})
    if not state.policies:
        raise LlmformError(
            f"no policy to check: the store {url} holds none and no --policy PATH was given"
        )
    results, overrides = judge_state(state)
    return StoreCheck(url, current.serial, results, overrides)
