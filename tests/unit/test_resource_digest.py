"""resource_digest: equal exactly when diff finds nothing to change (the shortcut that lets a
plan skip unchanged resources must never hide a change)."""

from __future__ import annotations

import pytest

from llmform.core.diff import NOOP, diff
from llmform.core.resources import Resource, resource_digest

BASE = Resource(
    "config.prod/main",
    "config",
    "prod",
    {
        "factory": "OpenAI",
        "models": [{"name": "gpt-4o", "type": ["chat"]}],
        "labels": {"a": "1"},
        "secrets": {"api_key": "env:KEY"},
    },
    {"api_key": "fp-1"},
)


def _with(**changes: object) -> Resource:
    fields = {
        "address": BASE.address,
        "kind": BASE.kind,
        "workspace": BASE.workspace,
        "attrs": BASE.attrs,
        "secrets": BASE.secrets,
    }
    fields.update(changes)
    return Resource(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "other",
    [
        _with(attrs={**BASE.attrs, "factory": "Azure-OpenAI"}),
        _with(attrs={**BASE.attrs, "labels": {"a": "2"}}),
        _with(attrs={**BASE.attrs, "models": [{"name": "gpt-4o", "type": ["chat", "tts"]}]}),
        _with(attrs={**BASE.attrs, "protect": True}),
        _with(secrets={"api_key": "fp-2"}),
        _with(
            attrs={**BASE.attrs, "secrets": {"api_key": "env:KEY", "backup_keys[0]": "env:B"}},
            secrets={"api_key": "fp-1", "backup_keys[0]": "fp-3"},
        ),
        _with(workspace="staging", address="config.staging/main"),
    ],
)
def test_a_change_diff_sees_changes_the_digest(other: Resource) -> None:
    [change] = diff(
        {other.address: other}, {other.address: BASE} if other.address == BASE.address else {}
    )
    assert change.action != NOOP
    assert resource_digest(other) != resource_digest(BASE)


def test_key_order_does_not_change_the_digest() -> None:
    reordered = _with(attrs=dict(reversed(list(BASE.attrs.items()))))
    assert resource_digest(reordered) == resource_digest(BASE)
    [change] = diff({BASE.address: reordered}, {BASE.address: BASE})
    assert change.action == NOOP
