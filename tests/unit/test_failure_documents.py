"""The documents a failed ``plan --format markdown|json`` prints: the problems of each kind of
error, and their exact rendering. Through the CLI: tests/integration/test_cli_error_documents.py."""

from __future__ import annotations

import json

from llmform.core.problems import Problem, problems_of
from llmform.core.protect import ProtectedError, Refusal
from llmform.core.render.failure import render_failure_json, render_failure_markdown
from llmform.errors import InputError, LlmformError, Location, error, warning


def test_problems_of_input_errors_keep_their_places() -> None:
    exc = InputError(
        [
            error(Location("a.yaml", 4, 16), "configs[0].workspace", "unknown workspace 'x'"),
            warning(Location("a.yaml", 2, 3), "configs[0].api_base", "plain http"),
        ]
    )
    errors, warnings = problems_of(exc)
    assert errors == [Problem("unknown workspace 'x'", "a.yaml", 4, 16, "configs[0].workspace")]
    assert warnings == ["a.yaml:2:3: warning: configs[0].api_base: plain http"]


def test_failure_documents() -> None:
    errors = [
        Problem("unknown factory 'OpenAl'", "dir/a.yaml", 5, 14, "configs[0].factory"),
        Problem("the store is locked"),
        Problem("env:K: not set (used by config.p/c api_key)", "b.yaml", 7, 5, "", "config.p/c"),
    ]
    data = json.loads(render_failure_json(errors, ["w"]))
    assert list(data) == [
        "format_version",
        "llmform_version",
        "changes",
        "unchanged",
        "summary",
        "validation",
        "warnings",
        "errors",
        "policies",
        "policy_overrides",
    ]
    assert (data["changes"], data["summary"]) == ([], {"add": 0, "change": 0, "destroy": 0})
    assert data["unchanged"] == {"count": 0, "digest": ""}  # nothing was compared
    assert data["warnings"] == ["w"]
    assert data["errors"] == [
        {
            "message": "unknown factory 'OpenAl'",
            "file": "dir/a.yaml",
            "line": 5,
            "column": 14,
            "path": "configs[0].factory",
        },
        {"message": "the store is locked"},
        {
            "message": "env:K: not set (used by config.p/c api_key)",
            "file": "b.yaml",
            "line": 7,
            "column": 5,
            "address": "config.p/c",
        },
    ]
    assert render_failure_markdown(errors, []) == (
        "### llmform plan\n\n"
        "**Plan failed: 3 errors.** Nothing was planned; fix them and run the plan again.\n\n"
        "**Errors**\n\n"
        "- dir/a.yaml:5:14: `configs[0].factory`: unknown factory 'OpenAl'\n"
        "- the store is locked\n"
        "- b.yaml:7:5: env:K: not set (used by config.p/c api\\_key)\n"
    )


def test_markdown_failure_escapes_what_it_quotes() -> None:
    text = render_failure_markdown(
        [Problem("# x\n| a | <b>`y`</b> [l](http://e)", "we|rd_*.yaml", 1, 1, "a`b")], []
    )
    item = text.splitlines()[-1]
    assert item == (
        "- we\\|rd\\_\\*.yaml:1:1: ``a`b``: \\# x \\| a \\| &lt;b&gt;\\`y\\`&lt;/b&gt; "
        "\\[l\\](http\\://e)"
    )


def test_problems_of_other_errors() -> None:
    refused = ProtectedError([Refusal("workspace.p", "is protected")], "nothing was applied")
    assert problems_of(refused) == (
        [Problem("workspace.p is protected", address="workspace.p")],
        [],
    )
    assert problems_of(LlmformError("store locked")) == ([Problem("store locked")], [])
