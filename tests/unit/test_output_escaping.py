"""No user- or server-controlled string can change the shape of what llmform prints.

One hostile string is put into every field of a plan a renderer shows (addresses, workspace
names, label keys and values, option names, default types, descriptions, api_base, model names
and fields, tags, field names, a replace's reason, warnings, scope, unmanaged addresses, every
part of a key check, the store URL, a catalog factory, a refused protected deletion, slots not
compared, resources changed or deleted outside llmform, also in a refresh-only plan), and the
plan is rendered in each format. Compared with the
same plan holding a harmless string: the text has the same lines and no character a terminal
acts on; the markdown, parsed by GitHub's own parser (cmark-gfm), has exactly the same HTML
structure (no cell, code span, fence, <details> or link more or less) and mentions no one; the
JSON holds the exact strings, with nothing unprintable written raw.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import cmarkgfm  # type: ignore[import-untyped]
import pytest
from cmarkgfm.cmark import Options  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmform.cli.guard import format_error
from llmform.console import format_diagnostic
from llmform.core.diff import CREATE, DELETE, REPLACE, UPDATE, Change, FieldChange
from llmform.core.plan import Plan
from llmform.core.render import render
from llmform.core.render.json import plan_json
from llmform.core.resources import Resource
from llmform.errors import Diagnostic, LlmformError, Location, Severity

HOSTILE = {
    "newline": "a\nb",
    "forged plan line": "x\n  + config.prod/evil {\nPlan: 0 to add, 0 to change, 0 to destroy.",
    "carriage return": "safe\rEVIL",
    "CSI colour": "\x1b[31mred\x1b[0m",
    "clear screen and title": "\x1b[2J\x1b]0;owned\x07",
    "C1 CSI": "\x9b31m",
    "bidi override": "admin\u202egnp.exe",
    "line separator": "a\u2028b\u2029c",
    "NUL and DEL": "a\x00b\x7f",
    "zero width": "a\u200bb\ufeff",
    "table pipe": "a | b | c",
    "backticks": "``` `x` ``",
    "fence": "\n```\n</details>\n# heading",
    "details breakout": "</summary></details><details open><summary>x",
    "html": "<img src=https://evil.example/x.png><script>alert(1)</script>",
    "html comment": "<!-- x",
    "link": "[click](https://evil.example) ![img](https://evil.example/p.png)",
    "autolink": "see https://evil.example and www.evil.example",
    "mention": "@octocat @org/team cc@example.com",
    # escaped for markdown first ("@\\_"), the "@" must still not be left before a name
    "mention of an escaped name": "@_x @-team @*y",
    "emphasis": "*bold* _it_ ~~strike~~ $x^2$",
    "entities": "&amp; &lt; &#x27;",
    "backslashes": "\\ \\| \\`",
    "heading and list": "# h\n- item\n> quote",
}


def resources(s: str) -> dict[str, Resource]:
    ws = f"w{s}"
    return {
        "factory": Resource(
            f"factory.F{s}",
            "factory",
            None,
            {
                "type": "openai",
                "api_base": s,
                "tags": [s, "LLM"],
                "models": [{"name": s, "type": ["chat", s], "max_tokens": 1, s: s}],
            },
        ),
        "workspace": Resource(
            f"workspace.{ws}",
            "workspace",
            ws,
            {"description": s, "labels": {s: s, "team": s}, "defaults": {s: s}},
        ),
        "config": Resource(
            f"config.{ws}/c{s}",
            "config",
            ws,
            {
                "factory": s,
                "api_base": s,
                "enabled": True,
                "description": s,
                "models": [{"name": s, "type": [s]}],
                "options": {s: s},
                "secrets": {s: f"env:{s}"},
            },
            {s: "fp:1"},
        ),
    }


def hostile_plan(s: str) -> Plan:
    r = resources(s)
    ws = f"w{s}"
    old = Resource(f"workspace.old{s}", "workspace", f"old{s}", {"description": s})
    kept = Resource(f"config.old{s}/k{s}", "config", f"old{s}", {"protect": True, "factory": s})
    catalog = Resource(
        f"factory.C{s}",
        "factory",
        None,
        {"type": "openai", "models": [{"name": s, "type": ["chat"]}]},
        catalog=True,
    )
    changes = (
        Change(old.address, "workspace", old.workspace, DELETE, old, None),
        Change(kept.address, "config", kept.workspace, DELETE, kept, None),  # refused
        Change(catalog.address, "factory", None, CREATE, None, catalog),
        *(Change(x.address, x.kind, x.workspace, CREATE, None, x) for x in r.values()),
        Change(
            f"config.{ws}/u{s}",
            "config",
            ws,
            UPDATE,
            r["config"],
            r["config"],
            (
                FieldChange(f"labels.{s}", s, s + "2"),
                FieldChange("description", None, s),
                FieldChange(s, s, None),
                FieldChange(
                    "models",
                    [{"name": s, "type": [s]}, {"name": "gone", "type": ["chat"]}],
                    [{"name": s, "type": ["chat"], s: s}, {"name": s + "new", "type": [s]}],
                ),
                FieldChange(f"secrets.{s}.value", "fp:1", "fp:2", True),
            ),
            unchanged=3,
        ),
        Change(
            f"config.{ws}/r{s}",
            "config",
            ws,
            REPLACE,
            r["config"],
            r["config"],
            (FieldChange("factory", s, s + "b"),),
            reason=s,
        ),
    )
    check: dict[str, Any] = {
        "address": f"config.{ws}/c{s}",
        "endpoint": f"openai {s}",
        "keys": [
            {"slot": s, "outcome": s, "detail": s, "passed": False, "cached": True},
            {"slot": "api_key", "outcome": "valid", "detail": s, "passed": True},
        ],
    }
    return Plan(
        changes=changes,
        store_url=s,
        lineage="lineage",
        serial=1,
        scope=(ws, "other"),
        unmanaged=(f"config.x/{s}", s),
        warnings=(s, f"about {s}"),
        key_checks=(check,),
        keys_checked=True,
        not_compared={f"config.{ws}/c{s}": (s, "api_key"), s: (s,)},
        drift=(
            Change(old.address, "workspace", old.workspace, DELETE, old, None),
            Change(
                r["config"].address,
                "config",
                ws,
                UPDATE,
                r["config"],
                r["config"],
                (
                    FieldChange(f"labels.{s}", s, s + "2"),
                    FieldChange(f"secrets.{s}.value", "a", "b", True),
                ),
                unchanged=2,
            ),
        ),
    )


_SGR = re.compile(r"\x1b\[[0-9;]*m")
_TAG = re.compile(r"<(/?[a-z][a-z0-9]*)")


def _unprintable(text: str) -> list[str]:
    return sorted({c for c in text if not (c.isprintable() or c == "\n")})


def _html(markdown: str) -> str:
    # UNSAFE keeps raw HTML: what GitHub would receive before its sanitiser
    html: str = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE
    )
    return html


def _outside_code(html: str) -> str:
    return re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.S)


def check(s: str, refresh_only: bool = False) -> None:
    plan, benign = hostile_plan(s), hostile_plan("x")
    assert plan.refusals and plan.not_compared  # the other packages' sections are shown too
    if refresh_only:
        plan, benign = (replace(p, changes=(), refresh_only=True) for p in (plan, benign))

    for color, verbose in ((False, False), (True, False), (False, True)):
        out, ref = render(plan, "text", color, verbose), render(benign, "text", color, verbose)
        assert out.count("\n") == ref.count("\n"), out
        assert not _unprintable(_SGR.sub("", out) if color else out), out
        assert sorted(_SGR.findall(out)) == sorted(_SGR.findall(ref))  # llmform's colours only

    for verbose in (False, True):
        md, md_ref = (
            render(plan, "markdown", verbose=verbose),
            render(benign, "markdown", verbose=verbose),
        )
        assert md.count("\n") == md_ref.count("\n"), md
        assert not _unprintable(md), md
        html, html_ref = _html(md), _html(md_ref)
        assert _TAG.findall(html) == _TAG.findall(html_ref), md
        assert not re.search(r"@[A-Za-z0-9_-]", _outside_code(html)), html
        assert "<a " not in html and "<img" not in html

    raw = render(plan, "json")
    assert not _unprintable(raw), raw
    assert raw.count("\n") == render(benign, "json").count("\n")
    assert json.loads(raw) == json.loads(json.dumps(plan_json(plan)))  # the exact strings


@pytest.mark.parametrize("s", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_string_in_every_field_changes_no_output_shape(s: str) -> None:
    check(s)


@pytest.mark.parametrize("s", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_string_changes_no_refresh_only_output_shape(s: str) -> None:
    check(s, refresh_only=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(sorted(HOSTILE.values())),
            st.text(st.characters(codec="utf-8"), min_size=1, max_size=12),
            st.sampled_from(list("\n\r\t\x1b\x9b\u202e\u2028|`<>&@[]()*_~$\\#!:.")),
        ),
        min_size=1,
        max_size=6,
    ).map("".join)
)
def test_any_string_in_every_field_changes_no_output_shape(s: str) -> None:
    check(s)


def test_markdown_keeps_the_text_readable() -> None:
    md = render(hostile_plan("a|b <i>x</i> @octocat https://e.example"), "markdown")
    html = _html(md)
    assert "a|b &lt;i&gt;x&lt;/i&gt; @\u200boctocat https://e.example" in html


def test_diagnostics_and_errors_are_one_line_each_and_inert() -> None:
    s = HOSTILE["forged plan line"] + HOSTILE["clear screen and title"]
    diagnostic = Diagnostic(Severity.ERROR, Location(f"in{s}.yaml", 3, 5), f"labels.{s}", s)
    for color in (False, True):
        line = format_diagnostic(diagnostic, color)
        assert "\n" not in line and not _unprintable(_SGR.sub("", line))
    # an error's own lines are its arguments; a line break inside one is data
    error = LlmformError(f"first line {s}", f"  second {s}")
    message = format_error(error.lines, color=False)
    assert message.count("\n") == 1 and not _unprintable(message)
    assert "\x1b" not in message and "\x07" not in message
    assert str(error) == f"first line {s}\n  second {s}"  # the error documents' message
    assert format_error(f"one {s}", color=False).count("\n") == 0


def _failure_documents(s: str) -> tuple[str, str]:
    from llmform.core.problems import Problem
    from llmform.core.render.failure import render_failure_json, render_failure_markdown

    errors = [
        Problem(s, f"dir/{s}.yaml", 3, 5, f"configs[0].{s}", f"config.p/{s}"),
        Problem(f"message {s}", address=f"config.p/{s}"),
    ]
    warnings = [s]
    return render_failure_markdown(errors, warnings), render_failure_json(errors, warnings)


@pytest.mark.parametrize("s", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_failure_documents_keep_their_shape(s: str) -> None:
    md, raw = _failure_documents(s)
    md_ref, raw_ref = _failure_documents("x")
    assert not _unprintable(md) and not _unprintable(raw)
    assert md.count("\n") == md_ref.count("\n")
    html = _html(md)
    assert _TAG.findall(html) == _TAG.findall(_html(md_ref)), md
    assert not re.search(r"@[A-Za-z0-9_-]", _outside_code(html)), html
    assert json.loads(raw)["errors"][0]["path"] == f"configs[0].{s}"
    assert raw.count("\n") == raw_ref.count("\n")
