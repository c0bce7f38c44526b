"""Nesting past MAX_DEPTH is found where the text is composed as it is (libyaml refuses more
than 1,000 levels itself, so its composer cannot recurse deep enough to crash): the error and
its place are those of the strict count of the event stream, which runs only where the
composer has no limit of its own, or the composer failed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmform.desired.yamltext as yamltext
from llmform.desired.composed import _Loader
from llmform.desired.loader import load_text
from llmform.desired.yamltree import MAX_DEPTH

D = MAX_DEPTH + 1
HEAD = "apiVersion: llmform/v1\n"

CASES = {
    "flow sequences": "x: " + "[" * D + "]" * D,
    "flow mappings": "x: " + "{a: " * D + "1" + "}" * D,
    "block sequences": "x:\n" + "".join("  " * i + "-\n" for i in range(D)) + "  " * D + "- 1",
    "block mappings": "".join("  " * i + "k:\n" for i in range(D)) + "  " * D + "v: 1",
    "in a complex key": "? " + "[" * D + "]" * D + "\n: 1",
    "deep then a syntax error": "x: " + "[" * D + "]" * D + "\ny: [",
    "in a later document": "a: 1\n---\n" + HEAD + "x: " + "[" * D + "]" * D,
    "behind a tag": "x: !foo " + "[" * D + "]" * D,
    "after a NUL": 'n: "\\0"\nx: ' + "[" * D + "]" * D,
    "before a duplicate key": "x: " + "[" * D + "]" * D + "\nx: 1",
    "just inside": "x: " + "[" * (D - 2) + "]" * (D - 2),
    "aliased, not deep as written": f"a: &x {'[' * 60}{']' * 60}\nb: {'[' * 50}*x{']' * 50}",
}


def diagnostics(text: str, monkeypatch: pytest.MonkeyPatch, *, strict: bool) -> list[str]:
    with monkeypatch.context() as patched:
        if strict:  # as for a libyaml without a limit: every text's depth counted first
            patched.setattr(yamltext, "composer_limits_nesting", lambda loader: False)
            patched.setattr(yamltext, "COMPOSE_SAFE_DEPTH", 0)
        return [str(d) for d in load_text("f.yaml", HEAD + text).diagnostics]


def test_the_bundled_libyaml_limits_nesting() -> None:
    assert yamltext.composer_limits_nesting(_Loader)


@pytest.mark.parametrize("text", CASES.values(), ids=list(CASES))
def test_composed_as_it_is_says_what_the_strict_count_says(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert diagnostics(text, monkeypatch, strict=False) == diagnostics(
        text, monkeypatch, strict=True
    )


def test_a_large_file_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    walks: list[str] = []
    monkeypatch.setattr(yamltext, "_first_too_deep", lambda text, loader: walks.append(text))
    configs = "".join(f"  - {{name: c{i}, models: [[a], {{b: [c]}}]}}\n" for i in range(3000))
    assert load_text("big.yaml", f"{HEAD}configs:\n{configs}").diagnostics == []
    assert walks == []


# one level of nesting around ``inner``: flow sequence, mapping, sequence after an item, key
LEVELS = ("[{}]", "{{k: {}}}", "[1, {}]", "{{? {} : 1}}")


def nested(depth: int) -> st.SearchStrategy[str]:
    """A value nested ``depth`` levels deep, each level one of LEVELS."""

    def wrap(kinds: list[str]) -> str:
        text = "1"
        for kind in kinds:
            text = kind.format(text)
        return text

    return st.lists(st.sampled_from(LEVELS), min_size=depth, max_size=depth).map(wrap)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(MAX_DEPTH - 3, MAX_DEPTH + 3), data=st.data())
def test_any_nesting_is_judged_as_the_strict_count_judges_it(
    depth: int, data: st.DataObject
) -> None:
    value = data.draw(nested(depth))
    text = data.draw(st.sampled_from([f"x: {value}", f"? {value}\n: 1", f"x:\n  - {value}"]))
    with pytest.MonkeyPatch.context() as monkeypatch:
        composed = diagnostics(text, monkeypatch, strict=False)
        strict = diagnostics(text, monkeypatch, strict=True)
    assert composed == strict
