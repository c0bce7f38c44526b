"""read_simple's contract: for any text it returns either None (declined: the caller composes the
text) or exactly what the composed path builds, ``Constructor.build`` of each document libyaml
composes, with ``Constructor.finish`` reporting nothing. Exactly: the same values of the same
types (a bool is no int; nan, inf and -0.0 compared as such), keys in the same order, and the
same ``line``, ``column`` and ``marks`` on every MarkedDict and MarkedList, of each document
(a file may hold several). It must never accept text libyaml refuses, an empty document, or
text the Constructor has a problem with.
The comparison below is written here, from the composed path, not from the reader's code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmform.desired.composed import _LIBYAML
from llmform.desired.loader import decode
from llmform.desired.marked import MarkedDict, MarkedList
from llmform.desired.simpleyaml import read_simple
from llmform.desired.yamltree import Constructor, Unbuildable

REPO = Path(__file__).resolve().parents[2]


def composed(text: str, loader: Any = _LIBYAML) -> tuple[bool, Any]:
    """(True, what the composed path builds of each document) for documents built without a
    problem, none of them empty, else (False, why not)."""
    try:
        nodes = list(yaml.compose_all(text, Loader=loader))
    except yaml.YAMLError as exc:
        return False, f"libyaml refuses it: {str(exc).splitlines()[0]}"
    if not nodes:
        return False, "no document"
    documents = []
    for node in nodes:
        constructor = Constructor("f.yaml")
        try:
            built = constructor.build(node)
        except Unbuildable as exc:
            return False, f"unbuildable: {exc.args[1]}"
        problems = constructor.finish(built)
        if problems:
            return False, f"problems: {problems}"
        if not isinstance(built, MarkedDict):  # an empty document's None, a scalar, a list
            return False, f"a document of {type(built).__name__}"
        documents.append(built)
    return True, documents


def assert_same(fast: Any, slow: Any, path: str = "$") -> None:
    assert type(fast) is type(slow), f"{path}: {type(fast).__name__} != {type(slow).__name__}"
    if isinstance(slow, MarkedDict | MarkedList):
        where = (fast.line, fast.column), (slow.line, slow.column)
        assert where[0] == where[1], f"{path}: at {where[0]}, composed at {where[1]}"
    if isinstance(slow, MarkedDict):
        assert all(type(key) is str for key in fast), path
        assert list(fast) == list(slow), f"{path}: keys {list(fast)} != {list(slow)}"
        assert list(fast.marks.items()) == list(slow.marks.items()), f"{path}: marks"
        for key in slow:
            assert_same(fast[key], slow[key], f"{path}.{key}")
    elif isinstance(slow, MarkedList):
        assert len(fast) == len(slow), f"{path}: {len(fast)} items, composed {len(slow)}"
        assert fast.marks == slow.marks, f"{path}: marks {fast.marks} != {slow.marks}"
        for index, (mine, theirs) in enumerate(zip(fast, slow, strict=True)):
            assert_same(mine, theirs, f"{path}[{index}]")
    elif isinstance(slow, float):
        assert (math.isnan(fast) and math.isnan(slow)) or (
            fast == slow and math.copysign(1, fast) == math.copysign(1, slow)
        ), f"{path}: {fast!r} != {slow!r}"
    else:
        assert fast == slow, f"{path}: {fast!r} != {slow!r}"


def assert_same_or_declined(text: str, loaders: tuple[Any, ...] = (_LIBYAML,)) -> bool:
    """The contract for ``text``; whether read_simple accepted it. The tables also hold it to
    libyaml with PyYAML's own resolver (the loader's remembers tags through ``plain_tag``)."""
    fast = read_simple(text)
    if fast is None:
        return False
    for loader in loaders:
        ok, slow = composed(text, loader)
        assert ok, f"read_simple accepted {text!r}, which the composed path refuses: {slow}"
        assert len(fast) == len(slow), f"{len(fast)} documents, composed {len(slow)}"
        for index, (mine, theirs) in enumerate(zip(fast, slow, strict=True)):
            assert_same(mine, theirs, f"${index}")
    return True


BOTH = (_LIBYAML, yaml.CSafeLoader)


def nested(levels: int) -> str:
    return "".join(f"{'  ' * n}k{n}:\n" for n in range(levels)) + "  " * levels + "v: w\n"


# The shapes llmform files are written in: the fast path must take every one of them.
ACCEPTED = {
    "flat": "apiVersion: llmform/v1\nname: x\n",
    "nested mapping": "a:\n  b:\n    c: d\n  e: f\n",
    "sequence of mappings": "configs:\n  - name: a\n    factory: b\n  - name: c\n",
    "indentless sequence": "a:\n- x\n- y\nb: z\n",
    "indentless in a compact mapping": "k:\n- a:\n  - x\n  b: 1\n- c\n",
    "item spaced": "k:\n-   a: 1\n    b: 2\n",
    "flow sequence": "models: [gpt-4o, o1, text-embedding-3-small]\n",
    "flow mapping": "api_key: {env: OPENAI_API_KEY}\n",
    "nested flow": "m:\n  - {name: a, type: [chat, x], max_tokens: 8192, tools: true}\n",
    "flow spaces": "a: [ a ,b , c ]\nb: { x: 1 , y: [ ] }\n",
    "empty flow": "a: []\nb: {}\n",
    "quoted flow items": "a: ['x y', \"z, w\", 'it''s']\n",
    "comments everywhere": "# head\n--- # doc\na: # after key\n  # between\n  b: 1 # after\n"
    "\n   # odd\nc: [x] # after flow\n#end",
    "two documents": "apiVersion: llmform/v1\nw: [a]\n---\n# next\napiVersion: x\nc:\n- x\n",
    "three documents, marked": "---\na: 1\n--- # b\nb:\n  c: d\n---\ne: [f]\n",
    "single quotes": "a: 'it''s # not a comment'\nb: ''\nc: ''''\n",
    "double quotes": 'a: "x \'y\' # z"\nb: ""\n',
    "hash inside plain": "a: b#c\nb: x:#y\n",
    "url": "api_base: https://llm.example.com:8443/v1?x=1&y=2\n",
    "plain punctuation": "a: x'y\"z!w&v*u|t>s%r@q`p,o\nb: =x\nc: <x\nd: +x\ne: ;x\nf: .x\n",
    "typed values": "a: 1\nb: 0\nc: 017\nd: 0x1F\ne: 1_000\nf: 1:30\ng: 0b101\nh: +1\n",
    "floats": "a: 1.5\nb: .inf\nc: +.Inf\nd: .NaN\ne: 1.5e+3\nf: 3.\ng: 1:30.5\nh: +0.0\n",
    "bools and nulls": "a: yes\nb: No\nc: ON\nd: off\ne: True\nf: null\ng: Null\nh: y\n",
    "typed keys": "yes: 1\nnull: 2\n1: 3\n1.5: 4\n0x1F: 5\nTrue: 6\n0x_: 7\n",
    "key characters": "a.b: 1\na-b: 2\na/b: 3\n_x: 4\n9: 5\n",
    "no final newline": "a: 1\nb: [x]",
    "trailing spaces": "a: 1   \nb:   \n  c: 'x'  \n  \n",
    "long key": "k" * 1000 + ": v\n",
    "long value": "a: " + "v" * 5000 + "\n",
    "deep block": nested(30),
    "deep flow": "a: " + "[" * 30 + "]" * 30 + "\n",
    "nested under indentless": "a:\n- b:\n    c: [1]\n  d:\n  - {e: f}\n",
    "flow words": "tags: [LLM, TEXT EMBEDDING, TEXT RE-RANK]\nm: {a: b c}\n",
    "beyond ascii": "about: Größe, 日本語 😀 # ü\nb: ['é', \"😀\", x]\nc:\n- 'ü' # é\n- d: 😀\n",
}


def case(name: str, text: str, mismatch: str | None = None) -> Any:
    """A table row; a mismatch found stays here as a strict xfail, saying what differs, until
    simpleyaml declines it."""
    marks = [pytest.mark.xfail(strict=True, reason=mismatch)] if mismatch else []
    return pytest.param(text, id=name, marks=marks)


# Near the subset: the reader may take or leave each, but what it takes must be exact.
ADVERSARIAL = [
    case("empty", ""),
    case("only comments", "# a\n# b\n"),
    case("top sequence", "- a\n- b\n"),
    case("top scalar", "a\n"),
    case("indented top", "  a: 1\n  b: 2\n"),
    case("key without value at end", "a: 1\nb:\n"),
    case("key without value between", "a:\nb: 1\n"),
    case("key with comment no value", "a: # c\nb: 1\n"),
    case("empty item", "a:\n-\n- x\n"),
    case("item of item", "a:\n- - x\n"),
    case("item key without value", "a:\n- b:\n  c: 1\n"),
    case("uneven siblings", "a:\n  b: 1\n   c: 2\n"),
    case("dedent between levels", "a:\n    b: 1\n  c: 2\n"),
    case("dedent below sequence", "a:\n  - x\n - y\n"),
    case("sequence then key same indent", "a:\n  - x\n  b: 1\n"),
    case("entry where key expected", "a: 1\n- b\n"),
    case("key under sequence", "a:\n- x\n  b: 1\n"),
    case("continuation", "a: b\n  c\n"),
    case("continuation like a key", "a: b\n  c: d\n"),
    case("continuation after compact", "a:\n- b: x\n    y\n"),
    case("item then key deeper", "a:\n- x\n  - y\n"),
    case("entry under compact key", "a:\n- b: 1\n  - c\n"),
    case("hash without space", "a: 'x'#c\n"),
    case("hash after flow", "a: [x]#c\n"),
    case("plain colon space", "a: b: c\n"),
    case("plain trailing colon", "a: b:\n"),
    case("question key", "? a\n: b\n"),
    case("dash value", "a: -1\n"),
    case("space before colon", "a : b\n"),
    case("unclosed single", "a: 'x\n"),
    case("unclosed double", 'a: "x\n'),
    case("multi-line single", "a: 'x\n  y'\n"),
    case("text after quote", "a: 'x' y\n"),
    case("colon after quote", "a: 'x': y\n"),
    case("escaped double", 'a: "x\\"y"\n'),
    case("escape newline", 'a: "x\\ny"\n'),
    case("quoted key", "'a': 1\n\"b\": 2\n"),
    case("quoted key in item", "a:\n- 'b': 1\n"),
    case("doubled quote in double", "a: \"x''y\"\n"),
    case("yes no values", "a: [yes, No, on, OFF, ~, null, true]\n"),
    case("int bases", "a: [0b1, 017, 08, 0o17, 0x1f, 1_0, 0_, 00_, 1__]\n"),
    case("sexagesimal", "a: 190:20:30\nb: 1:60\nc: 1_:30\nd: 1:30._\n"),
    case("float forms", "a: [1e3, 1.e-2, .5, ._5, 1_.5, 1._e+1, +.inf, .NAN]\n"),
    case("hex underscore", "a: 0x_\n"),
    case("binary underscore in flow", "a: [0b_]\n"),
    case("signed hex underscore", "a: +0x__\n"),
    case("hex underscore in flow mapping", "a: {b: 0b_}\n"),
    case("negative numbers", "a: -1\nb: -0.0\nc: [-1, -.inf]\n"),
    case("timestamp value", "a: 2001-12-14\nb: [2001-12-14t21:59:43.10-05:00]\n"),
    case("timestamp key", "2001-12-14: a\n"),
    case("value tag", "a: =\n"),
    case("merge value", "a: <<\n"),
    case("merge key", "d: &d {x: 1}\na:\n  <<: *d\n"),
    case("long int", "a: " + "1" * 100 + "\n"),
    case("huge int", "a: " + "1" * 4400 + "\n"),
    case("int key huge", "1" * 900 + ": a\n"),
    case("flow trailing comma", "a: [x,]\nb: {c: 1,}\n"),
    case("flow no space", "a: {b:c}\n"),
    case("flow empty value", "a: {b: }\n"),
    case("flow pair in sequence", "a: [b: c]\n"),
    case("flow words", "a: [b c, d  e , f -g, h - i, j b#c]\nk: {l: m n }\n"),
    case("flow words typed", "a: [1 2, yes no, .5 x, 0x_ y, ~ z, 2001-12-14 x]\n"),
    case("flow words odd", "a: [b :c]\nd: [e ?f]\ng: [h !i]\nj: [k &l]\nm: [n *o]\n"),
    case("flow words comment", "a: [b #c]\nd: [e, f #g]\n"),
    case("flow word colon", "a: [b c: d]\ne: {f: g h: i}\n"),
    case("flow comment", "a: [b, #c\n  d]\n"),
    case("flow multi-line", "a: [b,\n  c]\n"),
    case("flow unclosed", "a: [b, [c]\n"),
    case("flow text after", "a: [b] c\n"),
    case("flow duplicate", "a: {b: 1, b: 2}\n"),
    case("flow hash in plain", "a: [b#c, d]\n"),
    case("flow tilde", "a: [~]\n"),
    case("flow in block plain", "a: x]\nb: y{\n"),
    case("flow as key", "[a]: 1\n"),
    case("duplicate key", "a: 1\na: 2\n"),
    case("duplicate key nested", "a:\n  b: 1\n  b: 2\n"),
    case("same key different levels", "a:\n  a: 1\n"),
    case("marker", "---\na: 1\n"),
    case("marker value", "--- a\n"),
    case("marker mapping", "--- a: 1\n"),
    case("two documents", "a: 1\n---\nb: 2\n"),
    case("trailing marker", "a: 1\n---\n"),
    case("document end", "a: 1\n...\n"),
    case("document end then more", "a: 1\n...\nb: 2\n"),
    case("four dashes", "----\na: 1\n"),
    case("directive", "%YAML 1.1\n---\na: 1\n"),
    case("anchor alias", "a: &x 1\nb: *x\n"),
    case("tags", "a: !!str 1\nb: !x y\n"),
    case("literal block", "a: |\n  x\n"),
    case("folded block", "a: >-\n  x\n  y\n"),
    case("long key 1024", "k" * 1024 + ": v\n"),
    case("long key 1025", "k" * 1025 + ": v\n"),
    case("long key item", "a:\n- " + "k" * 1100 + ":\n"),
    case("tab indent", "a:\n\tb: 1\n"),
    case("tab separator", "a:\tb\n"),
    case("crlf", "a: 1\r\nb: 2\r\n"),
    case("cr", "a: 1\rb: 2\r"),
    case("non-ascii key", "é: 1\nb: {ü: 2}\n"),
    case("non-ascii flow plain", "a: [é, b]\n"),
    case("astral then marks", "a: ['😀😀', {b: \"日本\"}, c]\nd:\n- 'ẞ' # ü\n- {e: '😀'}\n"),
    case("combining", "a: e\u0301 x\nb: ['e\u0301', \"\u0301\"]\n"),
    case("nbsp", "a: b\xa0#c\nb: \xa0\nc: x\xa0\nd: '\xa0'\n"),
    case("nbsp indent", "a:\n\xa0 b: 1\n"),
    case("fullwidth colon", "a\uff1a b\nc: d\uff1a e\n"),
    case("line separators", "a: 1\u2028b: 2\n"),
    case("paragraph separator in quotes", "a: 'x\u2029y'\n"),
    case("noncharacter", "a: \ufffe\n"),
    case("private use", "a: \ue000\nb: '\U0010fffd'\n"),
    case("bom", "\ufeffa: 1\n"),
    case("bom inside", "a: 1\n\ufeffb: 2\n"),
    case("nul", "a: \x00\n"),
    case("control", "a: \x7f\n"),
    case("nel", "a: 1\x85b: 2\n"),
    case("deep block 45", nested(45)),
    case("deep block 101", nested(101)),
    case("deep flow 50", "a: " + "[" * 50 + "]" * 50 + "\n"),
    case("deep flow 200", "a: " + "{b: " * 200 + "c" + "}" * 200 + "\n"),
    case("very deep flow", "a: " + "[" * 1100 + "]" * 1100 + "\n"),
    case("indicator starts", "a: @x\nb: `x\nc: %x\nd: ,x\n"),
    case("dash key", "-a: 1\n"),
    case("space dash", "a:\n -x\n"),
    case("item no space", "a:\n-x\n"),
    case("blank only spaces", "a:\n   \n  b: 1\n"),
    case("long flow line", "a: {b: " + "x" * 1100 + ", c: [" + "y, " * 400 + "z]}\n"),
    case("long flow key", "a: {" + "k" * 1000 + ": v, " + "j" * 1030 + ": w}\n"),
    case("long line in item", "a:\n- [" + "x, " * 600 + "y]\n- " + "z " * 600 + "\n"),
    case("quote inside flow plain", "a: [b'c, d\"e]\n"),
    case("hex underscore as key", "0x_: 1\nb: {0b_: 2}\n"),
    case("comment less indented", "a:\n  b: 1\n# c\n  c: 2\n"),
]


@pytest.mark.parametrize("text", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_ordinary_shapes_are_read_fast_and_exactly(text: str) -> None:
    assert assert_same_or_declined(text, BOTH), f"declined {text!r}"


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_near_the_subset_the_reader_is_exact_or_declines(text: str) -> None:
    assert_same_or_declined(text, BOTH)


def test_the_comparison_itself_catches_differences() -> None:
    """The deep comparison fails on what it must tell apart (a test that cannot fail is none)."""
    text = "a:\n  - {b: 1}\n"
    built = composed(text)[1][0]
    for other in ("a:\n- {b: 1}\n", "a:\n  - {b: true}\n", "a:\n  - {b: 1.0}\n", "a:\n  -  {b: 1}"):
        with pytest.raises(AssertionError):
            assert_same(built, composed(other)[1][0])
    with pytest.raises(AssertionError):
        assert_same(composed("a: .nan\nb: 0.0")[1][0], composed("a: .nan\nb: -0.0")[1][0])
    assert composed("a: 1\n---\n")[0] is False
    assert composed("a: 1\na: 2\n")[0] is False


# Tokens for generated documents: ordinary ones (most draws) and ones near the subset's edges.
KEYS = ["a", "b", "c", "d", "e", "name", "x1", "k.v", "k-v", "a/b", "yes", "null", "1", "1.5",
        "0x_", "True", "_"]  # fmt: skip
ODD_KEYS = ["~", "2001-12-14", "<<", "=", "'q'", '"q"', "a b", "? a", "-", "a:b", "[a]", "-a",
            "k" * 1030, "a#b", "é", "日本"]  # fmt: skip
SCALARS = ["v", "w", "two words", "b#c", "http://h:1/x", "x'y", "=x", "+1", "yes", "No", "off",
           "True", "null", "0", "017", "08", "0x1F", "1_000", "1:30", "1:60", "1e3", "1.5e+3",
           "3.", "._5", ".inf", ".NaN", "[a, b]", "[ a , b ]", "[]", "{}", "{a: 1}", "'s'", "''",
           "'it''s'", "'a #b'", '"d"', '""', '"a #b"', "[[a], [b, [c]]]", "{a: {b: [c]}}",
           "['x', \"y\"]", "[.nan, 1_0]", "{1: x, yes: y}", "[a#b]", "é", "日本 語", "'😀'",
           "[\"😀\", x]", "a\xa0#b", "e\u0301", "[a b, c  d ]", "{a: b c}",
           "[a -b, c - d]", "[1 2, yes no]"]  # fmt: skip
ODD_SCALARS = ["0x_", "0b_", "", "~", "-0", "-.Inf", "2001-12-14", "=", "<<", "1" * 120, "a: b",
               "a:b", "b:", ":", "?", "-", "- x", "#", "&x", "*x", "!t x", "|", ">", "%x", "@x",
               "`x", ",x", "[a,b]", "{a:1}", "{a: }", "{a: 1,}", "[a,]", "[a b:]", "[a: b]",
               "[a, b", "{a: 1, a: 2}", "[a #b]", "'unclosed", "'x' y", "'x'#c", '"a\\"b"', '"x" y',
               "\u2028", "a\tb", "x]", "x}", "b #c", "\x85", "\ufeff", "[é]", "\ufffe"]  # fmt: skip
COMMENTS = [""] * 6 + [" # c", "  #", " # a: b", "#c"]
NOISE = ["", "# c", "# c", "#", "---", "--- # c", "...", "%YAML 1.1", "- - x", "? a", ": b", "  ",
         "\t", "|", "  x", "-", "- ", "a:", "a: |", "  - z", *ODD_SCALARS]  # fmt: skip


def token(draw: st.DrawFn, ordinary: list[str], odd: list[str]) -> str:
    return draw(st.sampled_from(ordinary if draw(st.integers(0, 14)) else odd))


def mapping_lines(draw: st.DrawFn, indent: int, depth: int) -> list[str]:
    """A block mapping at ``indent``, perhaps with nested mappings and sequences."""
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        key, comment = token(draw, KEYS, ODD_KEYS), draw(st.sampled_from(COMMENTS))
        child = draw(st.sampled_from(["scalar", "scalar", "map", "seq"])) if depth < 4 else ""
        if child == "map":
            lines.append(f"{' ' * indent}{key}:{comment}")
            lines += mapping_lines(draw, indent + draw(st.sampled_from([1, 2, 2, 4])), depth + 1)
        elif child == "seq":
            lines.append(f"{' ' * indent}{key}:{comment}")
            lines += sequence_lines(draw, indent + draw(st.sampled_from([0, 2])), depth + 1)
        else:
            lines.append(f"{' ' * indent}{key}: {token(draw, SCALARS, ODD_SCALARS)}{comment}")
    return lines


def sequence_lines(draw: st.DrawFn, indent: int, depth: int) -> list[str]:
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            scalar, comment = token(draw, SCALARS, ODD_SCALARS), draw(st.sampled_from(COMMENTS))
            lines.append(f"{' ' * indent}- {scalar}{comment}")
        else:  # a compact mapping: its first line begins with the dash
            spaces = draw(st.sampled_from([1, 1, 2, 3]))
            inner = mapping_lines(draw, indent + 1 + spaces, depth + 1)
            inner[0] = f"{' ' * indent}-{' ' * spaces}{inner[0].lstrip(' ')}"
            lines += inner
    return lines


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A block document, then a few lines inserted, re-indented or removed."""
    lines = mapping_lines(draw, 0, 0)
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
        at = draw(st.integers(0, len(lines)))
        kind = draw(st.sampled_from(["noise", "noise", "indent", "drop"]))
        if kind == "noise":
            lines.insert(at, " " * draw(st.integers(0, 6)) + draw(st.sampled_from(NOISE)))
        elif lines and kind == "indent":
            line = lines[at % len(lines)]
            lines[at % len(lines)] = " " * draw(st.integers(0, 6)) + line.lstrip(" ")
        elif len(lines) > 1:
            del lines[at % len(lines)]
    head = draw(st.sampled_from([""] * 8 + ["---\n", "--- # c\n", "# c\n", "---#\n"]))
    end = draw(st.sampled_from(["\n"] * 6 + ["", "\n\n", "\n---\n", "\n...\n"]))
    return head + draw(st.sampled_from(["\n"] * 9 + ["\r\n"])).join(lines) + end


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_documents_are_read_exactly_or_declined(text: str) -> None:
    assert_same_or_declined(text)


def test_generated_documents_reach_the_fast_path() -> None:
    """The generator is no use if the reader declines all it makes."""
    taken = []

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(documents())
    def count(text: str) -> None:
        taken.append(read_simple(text) is not None)

    count()
    assert sum(taken) > len(taken) // 20


REPO_YAML = sorted(
    path
    for top in ("tests/cases", "examples")
    for path in (REPO / top).rglob("*.yaml")
    if decode(str(path), path.read_bytes())[0] is not None  # not UTF-8: never read as text
)


@pytest.mark.parametrize("path", REPO_YAML, ids=lambda path: str(path.relative_to(REPO)))
def test_repository_files_are_read_exactly_or_declined(path: Path) -> None:
    text = decode(str(path), path.read_bytes())[0]
    assert text is not None
    assert_same_or_declined(text)


def test_most_llmform_inputs_take_the_fast_path() -> None:
    """The fast path is alive on real files: most of them, and every quickstart example."""
    taken = [read_simple(decode(str(p), p.read_bytes())[0] or "") is not None for p in REPO_YAML]
    assert sum(taken) > len(taken) // 2
    quickstart = sorted((REPO / "examples" / "quickstart").glob("*.yaml"))
    assert quickstart
    for path in quickstart:
        assert read_simple(path.read_text(encoding="utf-8")) is not None, path
