"""max_tokens beyond what the store holds (a signed 64-bit INTEGER) never reaches a plan.

The schema's maximum refuses it in validate (tests/cases/validate/max-tokens-beyond-64-bits);
the semantic layer refuses it too, for whatever reaches the state without the schema, so that
the store never meets an integer it cannot hold.
"""

from __future__ import annotations

import pytest

from llmform.desired.items import MAX_TOKENS
from llmform.desired.loader import load_text
from llmform.desired.schema import schema
from llmform.desired.semantic import build_state

STATE = """\
apiVersion: llmform/v1
factories:
  - name: Big
    type: openai
    api_base: https://big.example/v1
    models: [{{name: m, type: chat, max_tokens: {factory}}}]
workspaces: [{{name: prod}}]
configs:
  - name: c
    workspace: prod
    factory: Big
    api_key: {{env: OPENAI_API_KEY}}
    models: [{{name: custom, type: chat, max_tokens: {custom}}}]
"""


def test_the_schema_and_the_semantic_layer_draw_the_same_line() -> None:
    model = schema()["$defs"]["model"]["properties"]["max_tokens"]
    assert model["maximum"] == MAX_TOKENS == 2**63 - 1


def _build(factory: object, custom: object) -> tuple[object, list[str]]:
    loaded = load_text("f.yaml", STATE.format(factory=factory, custom=custom))
    assert loaded.diagnostics == []
    state, diagnostics = build_state(loaded.documents, set(), {})  # no schema check first
    return state, [str(d) for d in diagnostics]


@pytest.mark.parametrize("value", [2**63, 2**64, 10**30, "1.0e+30", -1])
def test_out_of_range_is_refused_without_the_schema(value: object) -> None:
    _, problems = _build(value, value)
    message = (
        "must be a whole number from 0 to 9223372036854775807 (2^63 - 1, what the store holds)"
    )
    assert problems == [
        f"f.yaml:6:48: error: factories[0].models[0].max_tokens: {message}",
        f"f.yaml:13:53: error: configs[0].models[0].max_tokens: {message}",
    ]


def test_the_largest_value_and_a_whole_float_are_kept_as_integers() -> None:
    state, problems = _build(MAX_TOKENS, "8192.0")
    assert problems == []
    factory_model = state.factories["Big"].models[0]  # type: ignore[attr-defined]
    custom_model = state.configs["prod", "c"].models[0]  # type: ignore[attr-defined]
    assert factory_model.max_tokens == MAX_TOKENS
    assert custom_model.max_tokens == 8192 and isinstance(custom_model.max_tokens, int)
