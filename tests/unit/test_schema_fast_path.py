"""The fast yes/no checks (jsonschema-rs, and the plain-Python walk of a short run) agree with
jsonschema on every input, valid or not.

``schema.check_document`` trusts the fast check to accept a document, so a document it
wrongly accepted would lose its errors. These tests compare them on every llmform file in
the repository (test cases, examples, the catalog), on random mutations of those files, and
on random values against every subschema. The walk may also be unsure (None): that sends the
document to jsonschema, and must not happen on a valid file of the repository.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from llmform.desired import schema as schema_module
from llmform.desired.loader import load_paths
from llmform.desired.schema import passes_fast_check, passes_rust_check, schema
from llmform.desired.schema_walk import verdict

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = Draft202012Validator(schema())
FAST = passes_rust_check


def walk(value: Any) -> bool | None:
    return verdict(schema(), value)


def _strings_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(text for item in value.values() for text in _strings_in(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings_in(item)]
    return [value] if isinstance(value, str) else []


def assert_agrees(fast: bool, expected: bool, value: Any) -> None:
    """The same verdict, with one known exception: Python's ``$`` (jsonschema) also matches
    before a final newline, Rust's (jsonschema-rs) only at the end, so a name ending in a
    newline is a no for the fast check. A no only sends the document to jsonschema, which
    then reports nothing: slower, never wrong. A yes that jsonschema denies would lose errors."""
    if fast != expected:
        assert expected and not fast, "the fast check accepted what jsonschema rejects"
        assert any(text.endswith("\n") for text in _strings_in(value)), value


def assert_walk_agrees(walked: bool | None, expected: bool) -> None:
    """The walk's yes and no are jsonschema's; it may be unsure (None) of a valid value."""
    assert walked is None or walked == expected


def _fast_for(sub: Any) -> Any:
    """The fast check of one subschema; its references stay relative to the whole schema."""
    return jsonschema_rs.Draft202012Validator({"$defs": schema()["$defs"], **sub}).is_valid


def _walk_for(sub: Any) -> Any:
    return lambda value: verdict({"$defs": schema()["$defs"], **sub}, value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _corpus() -> list[Any]:
    roots = [REPO / "tests" / "cases", REPO / "examples", REPO / "src" / "llmform" / "catalog"]
    loaded = load_paths([str(root) for root in roots if root.is_dir()])
    return [_plain(document.data) for document in loaded.documents]


CORPUS = _corpus()


def _strings(node: Any) -> set[str]:
    """Every string in the schema: enum values, property names, patterns' neighbours."""
    if isinstance(node, dict):
        return set(node).union(*(_strings(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_strings(v) for v in node))
    return {node} if isinstance(node, str) else set()


WORDS = sorted(_strings(schema()))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 3, 1.0, 2.5, math.nan]),
    st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63), 9.2e18, 1e19, 1e30, math.inf]),
    st.sampled_from(WORDS),
    st.sampled_from(["", "x", "a/b", "a" * 70, "secret/x#k", "http://h", "Bad Name!", "é"]),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=4), children, max_size=5),
    ),
    max_leaves=20,
)
SUBSCHEMAS = [schema(), *schema()["$defs"].values()]
SUBSCHEMA_CHECKS = [_fast_for(sub) for sub in SUBSCHEMAS]
SUBSCHEMA_WALKS = [_walk_for(sub) for sub in SUBSCHEMAS]


def test_the_corpus_has_both_valid_and_invalid_documents() -> None:
    verdicts = {VALIDATOR.is_valid(document) for document in CORPUS}
    assert verdicts == {True, False}


@pytest.mark.parametrize("index", range(len(CORPUS)))
def test_agrees_on_every_llmform_file_in_the_repository(index: int) -> None:
    document = CORPUS[index]
    assert FAST(document) == VALIDATOR.is_valid(document)  # no name there ends in a newline
    assert walk(document) == VALIDATOR.is_valid(document)  # never unsure of these


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    document = _plain(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(document)))
        if not path:
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(WORDS))] = draw(VALUES)
        else:
            parent.append(draw(VALUES))
    return document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_agrees_on_mutated_documents(document: Any) -> None:
    expected = VALIDATOR.is_valid(document)
    assert_agrees(FAST(document), expected, document)
    assert_walk_agrees(walk(document), expected)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(range(len(SUBSCHEMAS))), VALUES)
def test_agrees_on_random_values_for_every_subschema(index: int, value: Any) -> None:
    sub = SUBSCHEMAS[index]
    expected = VALIDATOR.evolve(schema=sub).is_valid(value)
    assert_agrees(SUBSCHEMA_CHECKS[index](value), expected, value)
    assert_walk_agrees(SUBSCHEMA_WALKS[index](value), expected)


MODEL = schema()["$defs"]["model"]


@pytest.mark.parametrize(
    "max_tokens",
    [0, 8192, 2**63 - 1, 2**63, 2**64, 10**30, -1, 8192.0, 9.2e18, 1e19, 1e30, math.inf, math.nan],
)
def test_agrees_on_max_tokens_at_and_beyond_64_bits(max_tokens: Any) -> None:
    """The schema's maximum (what the store's signed 64-bit INTEGER holds) draws the line where
    jsonschema does, for Python's unbounded integers and for floats."""
    model = {"name": "m", "type": "chat", "max_tokens": max_tokens}
    expected = VALIDATOR.evolve(schema=MODEL).is_valid(model)
    assert _fast_for(MODEL)(model) == expected
    assert _walk_for(MODEL)(model) == expected
    in_range = not isinstance(max_tokens, float) or max_tokens.is_integer()
    assert expected == (in_range and 0 <= max_tokens <= 2**63 - 1)


@pytest.mark.parametrize("key", [1, True, None])
def test_a_mapping_key_that_is_not_a_string_is_left_to_jsonschema(key: Any) -> None:
    """jsonschema-rs cannot convert such a mapping (it raises ValueError); the fast check says
    no instead, so that jsonschema decides and reports."""
    document = {"apiVersion": "llmform/v1", "workspaces": [{"name": "w", key: "x"}]}
    assert FAST(document) is False
    assert walk(document) is None
    assert not VALIDATOR.is_valid(document)


def test_a_name_ending_in_a_newline_is_left_to_jsonschema_which_accepts_it() -> None:
    """The one known disagreement (see ``assert_agrees``): the fast check's no costs a
    jsonschema run and changes nothing the user sees."""
    document = {"apiVersion": "llmform/v1", "workspaces": [{"name": "team-a\n"}]}
    assert FAST(document) is False
    assert VALIDATOR.is_valid(document)
    assert_agrees(FAST(document), VALIDATOR.is_valid(document), document)
    assert walk(document) is True  # Python's $, as jsonschema's


def test_a_short_run_is_walked_and_a_long_one_asks_jsonschema_rs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The walk takes the first documents up to its budget of entries, jsonschema-rs the rest,
    small ones too once it is imported; a document is never split between them."""
    small = {"apiVersion": "llmform/v1", "workspaces": [{"name": "w"}]}
    document = max(CORPUS, key=schema_module._entries)
    size = schema_module._entries(document)
    assert size > 1
    monkeypatch.setattr(schema_module._Walked, "entries", schema_module.WALK_ENTRIES - size)
    asked: list[Any] = []
    monkeypatch.setattr(schema_module, "passes_rust_check", asked.append)
    passes_fast_check(document)
    assert not asked
    assert schema_module._Walked.entries == schema_module.WALK_ENTRIES
    monkeypatch.setattr(schema_module._Walked, "entries", schema_module.WALK_ENTRIES - size + 1)
    passes_fast_check(document)  # one entry too many
    passes_fast_check(small)
    assert asked == [document, small]
