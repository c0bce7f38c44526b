"""simpleyaml resolves a plain scalar's type without PyYAML: whatever value it gives (or a key
it takes as text) is what PyYAML's resolver and llmform's Constructor make of the same scalar
when composed, for every spelling of YAML 1.1's implicit types."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from llmform.desired import simpleyaml
from llmform.desired.composed import _LIBYAML
from llmform.desired.yamltree import Constructor, Unbuildable

_TAG = "tag:yaml.org,2002:"


PROBLEM = object()  # the Constructor reports one (an unsupported tag: '<<' as a value)


def composed(text: str) -> object:
    """The value of plain scalar ``text`` as a mapping's value, composed and built."""
    node = yaml.compose(f"k: {text}\n", Loader=_LIBYAML)
    ((_, value),) = node.value
    assert not value.style, text  # plain, as written
    constructor = Constructor("f.yaml")
    try:
        built = constructor.build(node)
    except Unbuildable:  # "0x_": an int to the resolver, a ValueError to int()
        return PROBLEM
    return PROBLEM if constructor.finish(built) else built["k"]


def plain(text: str) -> object:
    try:
        return simpleyaml._plain(text)
    except simpleyaml._Decline:
        return simpleyaml._Decline


def same(ours: object, theirs: object) -> bool:
    if theirs is PROBLEM:
        return False  # only declining is right
    if isinstance(ours, float) and isinstance(theirs, float) and math.isnan(ours):
        return math.isnan(theirs)
    return type(ours) is type(theirs) and ours == theirs


def test_every_first_character_pyyaml_resolves_is_one_simpleyaml_looks_at() -> None:
    resolvers = yaml.resolver.Resolver.yaml_implicit_resolvers
    assert set(resolvers) - {""} <= simpleyaml._RESOLVED_FIRST
    for first, found in resolvers.items():
        if first.isalpha():  # only whole-word spellings of bool and null
            assert {tag for tag, _ in found} <= {_TAG + "bool", _TAG + "null"}, first


SPELLINGS = [
    *(
        w
        for word in ("yes", "no", "true", "false", "on", "off", "y", "n")
        for w in (word, word.capitalize(), word.upper(), word + "s")
    ),
    "~",
    "null",
    "Null",
    "NULL",
    "nULL",
    "none",
    "None",
    "0",
    "-0",
    "+0",
    "7",
    "+7",
    "-7",
    "007",
    "0o7",
    "0x1F",
    "0b101",
    "1_000",
    "1:30",
    "190:20:30",
    "1.5",
    "-1.5",
    "1e3",
    "1.0e+3",
    "1.0e3",
    ".5",
    "5.",
    ".inf",
    "-.inf",
    ".NaN",
    ".nan",
    ".",
    "2024-10-21",
    "2001-12-14t21:59:43.10-05:00",
    "12345678901234567890123",
    "0x_",
    "0b_",
    "+0x_",
    "0_",
    "1:_",
    "<<",
    "<",
    "=",
    "==",
    "o1",
    "openai",
    "ollama",
    "nomic-embed-text",
    "text",
    "t0",
    "y2k",
    "gpt-4o",
    "1.2.3",
    "3 models",
    "+",
    "-",
    "_x",
    "Off-peak",
    "NaN",
    "inf",
]


@pytest.mark.parametrize("text", SPELLINGS)
def test_a_spelling_is_read_as_pyyaml_reads_it(text: str) -> None:
    try:
        theirs = composed(text)
    except yaml.YAMLError:
        return  # not a plain scalar there ("-" alone starts a sequence)
    ours = plain(text)
    assert ours is simpleyaml._Decline or same(ours, theirs), (text, ours, theirs)


@settings(max_examples=500, deadline=None)
@given(
    st.text(st.sampled_from("yYnNtTfFoO~-+0123456789.<=_:eExXbB aAlLsSuU"), min_size=1, max_size=8)
)
def test_any_plain_scalar_is_read_as_pyyaml_reads_it(text: str) -> None:
    text = text.strip(" ")
    if not text or text[0] in simpleyaml._PLAIN_START_REFUSED or ": " in text or "#" in text:
        return  # never handed to _plain
    try:
        theirs = composed(text)
    except yaml.YAMLError:
        return
    ours = plain(text)
    assert ours is simpleyaml._Decline or same(ours, theirs), (text, ours, theirs)


@pytest.mark.parametrize(
    "key", ["name", "on", "yes", "null", "1", "007", "1_0", "2024-10-21", "1.5"]
)
def test_a_key_taken_as_its_text_is_text_when_composed(key: str) -> None:
    node = yaml.compose(f"{key}: v\n", Loader=_LIBYAML)
    ((key_node, _),) = node.value
    plain_key = key_node.tag in {_TAG + n for n in ("str", "int", "float", "bool", "null")}
    assert simpleyaml._plain_key(key) == plain_key, key
