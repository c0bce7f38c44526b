"""``llmform show`` of a plan file that crossed machines: every string in it is the file
writer's, so hostile text in any field (names, labels, descriptions, models, tags, api_base,
warnings, scope, unmanaged addresses, key checks, the store URL, llmform_version, field names
the file adds) is shown escaped in every format, whether the file is verified against its store
or shown unverified (no store: a CI artifact on a laptop). Compared with the same file holding
a harmless string: the text has as many lines and no character a terminal acts on, the markdown
parses (cmark-gfm, GitHub's parser) to the same HTML structure and mentions no one, and the
JSON holds the exact strings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_saved_plans import dump, load, rebuild, repo, resign, run, save
from unit.test_output_escaping import HOSTILE, _html

from llmform.core.diff import diff
from llmform.core.plan import change_to_json
from llmform.core.resources import Resource

__all__ = ["repo"]  # the fixture, imported to be used here

_TAG = re.compile(r"<(/?[a-z][a-z0-9]*)")
_SHOWN = ("warnings", "unmanaged", "scope", "llmform_version", "key_checks", "store")


def _hostile(data: dict[str, Any], s: str) -> None:
    """``s`` in every string of the file a renderer shows, the changes still consistent (what
    llmform computes from their before and after), so that the file is read and shown."""
    ws = f"w{s}"
    empty = {"description": "", "labels": {}, "defaults": {}}
    old = Resource(f"workspace.{ws}", "workspace", ws, empty)
    new = Resource(
        old.address,
        "workspace",
        ws,
        {"description": s, "labels": {s: s, "team": s}, "defaults": {s: s}, s: [s]},
    )
    factory = Resource(
        f"factory.F{s}",
        "factory",
        None,
        {"type": s, "api_base": s, "tags": [s], "models": [{"name": s, "type": [s, "chat"]}]},
    )
    gone = Resource(f"workspace.gone{s}", "workspace", f"gone{s}", {**empty, "description": s})
    changes = diff(
        {new.address: new, factory.address: factory}, {old.address: old, **{gone.address: gone}}
    )
    data["changes"] += [change_to_json(c) for c in changes]
    rebuild(data)  # in llmform's order
    data["warnings"] = [s, f"about {s}"]
    data["unmanaged"] = [f"config.x/{s}", s]
    data["scope"] = [ws]
    data["llmform_version"] = s
    data["store"]["url"] = s
    data["not_compared"] = {f"config.{ws}/c": ["api_key"]}
    data["keys_checked"] = True
    data["key_checks"] = [
        {
            "address": f"config.{ws}/c{s}",
            "endpoint": s,
            "keys": [{"slot": s, "outcome": s, "detail": s, "passed": False, "cached": True}],
        }
    ]


def _unprintable(text: str) -> list[str]:
    return sorted({c for c in text if not (c.isprintable() or c == "\n")})


def _shown(
    repo: Path, capsys: pytest.CaptureFixture[str], s: str, verified: bool
) -> dict[str, str]:
    """The saved plan made hostile with ``s``, shown in each format."""
    path = repo / "p.plan"
    data = load(path)
    data.pop("mac")
    _hostile(data, s)
    hostile = repo / f"h-{verified}.plan"
    dump(hostile, data)
    store: list[str] = []
    if verified:
        resign(repo, hostile)  # signed with the store's key: show verifies it
    else:
        store = ["--store", f"sqlite:///{repo / 'nowhere.db'}"]
    shown = {}
    for fmt in ("text", "markdown", "json"):
        code, out, err = run(capsys, "show", *store, "--format", fmt, str(hostile))
        assert code == 0, err
        assert not _unprintable(err), err
        shown[fmt] = out
    return shown


@pytest.mark.parametrize("verified", [True, False], ids=["verified", "unverified"])
@pytest.mark.parametrize("s", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_plan_file_is_shown_escaped(
    repo: Path, capsys: pytest.CaptureFixture[str], s: str, verified: bool
) -> None:
    save(capsys)
    out, ref = _shown(repo, capsys, s, verified), _shown(repo, capsys, "x", verified)

    assert out["text"].count("\n") == ref["text"].count("\n"), out["text"]
    assert not _unprintable(out["text"]), out["text"]

    md, md_ref = out["markdown"], ref["markdown"]
    assert md.count("\n") == md_ref.count("\n"), md
    assert not _unprintable(md), md
    html = _html(md)
    assert _TAG.findall(html) == _TAG.findall(_html(md_ref)), md
    assert not re.search(r"@[A-Za-z0-9_-]", re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.S))
    assert "<a " not in html and "<img" not in html

    assert not _unprintable(out["json"])
    shown = json.loads(out["json"])
    assert shown["llmform_version"] == s
    assert shown["warnings"][:2] == [s, f"about {s}"]
    workspace = next(c for c in shown["changes"] if c["address"] == f"workspace.w{s}")
    assert workspace["after"]["labels"] == {s: s, "team": s}
