"""Saved plans: authenticated, type-checked, re-checked against the store, re-validated, and
applied without a prompt; ``llmform show`` renders them. On a real SQLite file, with key checks
against local servers speaking OpenAI's and Ollama's protocols.

Every refusal is checked to leave the store's file byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.provider_servers import ProviderServer

from llmform.cli import main
from llmform.core.diff import NOOP, diff
from llmform.core.plan import change_to_json, resource_to_json
from llmform.core.resources import Resource
from llmform.engine.saved_plans import mac_of, plan_mac_key

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    labels: {{team: platform}}
  - name: staging
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    api_base: {openai}
    api_key: {{env: LLMFORM_TEST_KEY}}
    models: [gpt-4o]
  - name: local
    workspace: staging
    factory: Ollama
    api_base: {ollama}
    models: [{{name: llama3.2, type: chat}}]
"""

KEYS = {"sk-test-primary": "valid"}
Data = dict[str, Any]


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The state applied (serial 1), an unmanaged workspace added by hand, then the YAML
    edited: openai-main updated, staging's config removed (so is the Ollama factory it
    used), workspace dev added. ``p.plan`` is that plan, saved."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_TEST_KEY", "sk-test-primary")
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0.01")
    with (
        ProviderServer("openai", KEYS, models=["gpt-4o"]) as openai,
        ProviderServer("ollama", {None: "valid"}, models=["llama3.2:latest"]) as ollama,
    ):
        monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", f"{openai.api_base} {ollama.api_base}")
        text = STATE.format(openai=openai.api_base, ollama=ollama.api_base)
        (tmp_path / "llmform.yaml").write_text(text)
        assert main(["apply", "--auto-approve", "llmform.yaml"]) == 0
        with sqlite3.connect(tmp_path / "store.db") as conn:
            conn.execute("INSERT INTO workspaces (name, managed) VALUES ('hand-made', 0)")
        edited = text.replace(
            "    models: [gpt-4o]\n", "    description: main\n    models: [gpt-4o]\n"
        )
        edited = edited[: edited.index("  - name: local")]
        edited = edited.replace("  - name: staging\n", "  - name: staging\n  - name: dev\n")
        (tmp_path / "llmform.yaml").write_text(edited)
        yield tmp_path


def save(capsys: pytest.CaptureFixture[str], *args: str, out: str = "p.plan") -> Path:
    code, _, err = run(capsys, "plan", "-o", out, *args, "llmform.yaml")
    assert code == 0, err
    return Path(out)


def load(path: Path) -> Data:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def dump(path: Path, data: Data) -> None:
    path.write_text(json.dumps(data, indent=1))


def store_bytes(repo: Path) -> bytes:
    return (repo / "store.db").read_bytes()


def change_at(data: Data, address: str) -> Data:
    """The change at ``address``; for a resource the plan found unchanged (a saved plan holds
    no copy of it), an update added from what the store holds, for a forger to edit."""
    found = next((c for c in data["changes"] if c["address"] == address), None)
    if found is None:
        held = resource_to_json(stored(address))
        found = {"address": address, "before": held, "after": json.loads(json.dumps(held))}
        data["changes"].append(found)
    return found


def stored(address: str) -> Resource:
    """The resource at ``address`` as the store (LLMFORM_STORE) holds it."""
    from llmform.targets import open_store

    store = open_store(os.environ["LLMFORM_STORE"])
    try:
        return store.read().resources[address]
    finally:
        store.close()


def resource(data: Data | None) -> Resource | None:
    return None if data is None else Resource(**data)


def rebuild(data: Data) -> None:
    """Recompute every change from its before and after, as llmform would, in its order:
    what a careful forger does so that only the MAC (or the checks behind it) can tell."""
    befores = {
        c["before"]["address"]: resource(c["before"]) for c in data["changes"] if c["before"]
    }
    afters = {c["after"]["address"]: resource(c["after"]) for c in data["changes"] if c["after"]}
    changes = [c for c in diff(afters, befores) if c.action != NOOP]  # type: ignore[arg-type]
    data["changes"] = [change_to_json(c) for c in changes]


def resign(repo: Path, path: Path) -> None:
    """Sign ``path`` again with the store's own key: an attacker who has the store."""
    with sqlite3.connect(repo / "store.db") as conn:
        (hex_key,) = conn.execute("SELECT value FROM meta WHERE key = 'fingerprint_key'").fetchone()
    data = load(path)
    data.pop("mac", None)
    data["mac"] = mac_of(plan_mac_key(bytes.fromhex(hex_key)), data)
    dump(path, data)


def refused(
    repo: Path, capsys: pytest.CaptureFixture[str], path: Path, *, show: int = 1
) -> tuple[str, str]:
    """Apply ``path``: refused, the store's bytes unchanged; show exits ``show`` and writes
    nothing either. The two commands' stderr."""
    before = store_bytes(repo)
    code, out, err = run(capsys, "apply", str(path))
    assert code == 1, out + err
    assert "Apply complete" not in out
    assert store_bytes(repo) == before
    show_code, _, show_err = run(capsys, "show", str(path))
    assert show_code == show
    assert store_bytes(repo) == before
    return err, show_err


# -- tampering: the MAC ------------------------------------------------------------------------


def _update_to_delete(data: Data) -> None:
    change = change_at(data, "config.prod/openai-main")
    change.update(action="delete", after=None, fields=[], unchanged=0)
    rebuild(data)


def _delete_unmanaged(data: Data) -> None:
    attrs = {"description": "", "labels": {}, "defaults": {}}
    hand_made = {"address": "workspace.hand-made", "kind": "workspace"}
    hand_made |= {"workspace": "hand-made", "attrs": attrs, "secrets": {}}
    data["changes"].insert(
        0, {**change_to_json(diff({}, {"workspace.hand-made": Resource(**hand_made)})[0])}
    )


def _moved(data: Data) -> None:
    change = change_at(data, "workspace.dev")
    change["address"] = change["after"]["address"] = "workspace.other"
    change["workspace"] = change["after"]["workspace"] = "other"


def _added(data: Data) -> None:
    attrs = {"description": "", "labels": {}, "defaults": {}}
    extra = Resource("workspace.extra", "workspace", "extra", attrs)
    data["changes"].append(change_to_json(diff({"workspace.extra": extra}, {})[0]))


def _bad_name(data: Data) -> None:
    change = change_at(data, "workspace.dev")
    change["address"] = change["after"]["address"] = "workspace.dev; DROP TABLE configs"
    change["workspace"] = change["after"]["workspace"] = "dev; DROP TABLE configs"


def _set(*path: str | int, value: Any) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        node: Any = data
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return edit


def _api_base(data: Data) -> None:
    change = change_at(data, "config.prod/openai-main")
    change["after"]["attrs"]["api_base"] = "https://collector.example/v1"
    rebuild(data)


TAMPERINGS: dict[str, Callable[[Data], None]] = {
    "a changed api_base": _api_base,
    "an update turned into a delete": _update_to_delete,
    "a deleted unmanaged row": _delete_unmanaged,
    "a stale serial edited": _set("store", "serial", value=2),
    "a new plan id": _set("plan_id", value="0" * 32),
    "names the schema forbids": _bad_name,
    "an edited fingerprint": lambda d: d["fingerprints"].update({"env:LLMFORM_TEST_KEY": "0" * 64}),
    "an edited scope": _set("scope", value=["prod"]),
    "an edited warning": _set("warnings", value=["all reviewed"]),
    "an edited key-check row": lambda d: d["key_checks"][0]["keys"][0].update(detail="ok"),
    "an edited created_at": _set("created_at", value="2020-01-01T00:00:00+00:00"),
    "an edited lineage": _set("store", "lineage", value="f" * 32),
    "an edited store url": _set("store", "url", value="sqlite:///elsewhere.db"),
    "an edited unmanaged list": _set("unmanaged", value=[]),
    "an edited version": _set("llmform_version", value="9.9.9"),
    "an added change": _added,
    "reordered changes": lambda d: d["changes"].reverse(),
    "a removed change": lambda d: d["changes"].pop(),
    "a change moved to another address": _moved,
    "another MAC": _set("mac", value="0" * 64),
    "secrets_compared turned off": _set("secrets_compared", value=False),
}


@pytest.mark.parametrize("edit", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_every_edit_is_refused_by_the_mac(
    repo: Path, capsys: pytest.CaptureFixture[str], edit: Callable[[Data], None]
) -> None:
    path = save(capsys)
    data = load(path)
    edit(data)
    assert data != load(path)
    dump(path, data)
    apply_err, show_err = refused(repo, capsys, path)
    url = f"sqlite:///{repo / 'store.db'}"
    named, fix = "", "Plan again"
    if data["store"]["url"] != url:  # the store the file names: perhaps the user's mistake
        named, fix = (
            f"; the file names the store {data['store']['url']}",
            "If that is its store, pass it with --store; else plan again",
        )
    expected = (
        f"error: {path}: refused: the file was modified after 'llmform plan' wrote it, or was "
        f"made for another store (its MAC does not verify with the key of {url}{named}); "
        f"nothing was done. {fix} against this store: llmform plan -o FILE\n"
    )
    assert apply_err == expected
    assert show_err == expected


@pytest.mark.parametrize(
    "edit",
    [lambda d: d.pop("mac"), lambda d: d.update(mac=d["mac"].upper()), _set("mac", value=5)],
    ids=["removed", "upper-case", "a number"],
)
def test_a_missing_mac_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str], edit: Callable[[Data], None]
) -> None:
    path = save(capsys)
    data = load(path)
    edit(data)
    dump(path, data)
    apply_err, show_err = refused(repo, capsys, path)
    assert apply_err == (
        f"error: {path}: refused: the file was modified after 'llmform plan' wrote it, or was "
        "made for another store (it has no valid MAC); nothing was done. Plan again against "
        "this store: llmform plan -o FILE\n"
    )
    assert show_err == apply_err


def test_a_forged_keys_checked_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save(capsys, "--no-validate-keys")
    data = load(path)
    data["keys_checked"] = True
    dump(path, data)
    apply_err, _ = refused(repo, capsys, path)
    assert "was modified after 'llmform plan' wrote it" in apply_err


def test_a_stale_plan_is_refused_edited_or_not(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lost update: plan A saved, then another change applied; A is refused as stale, and
    with its serial edited to the store's, as modified."""
    path = save(capsys)
    text = (repo / "llmform.yaml").read_text()
    (repo / "llmform.yaml").write_text(text.replace("team: platform", "team: ml"))
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0
    err, show_err = refused(repo, capsys, path, show=0)
    assert show_err == (
        "warning: the store changed since the plan was made (serial 1 -> 2); apply will "
        "refuse this plan\n"
    )
    assert "the store changed since the plan was made (serial 1 -> 2); run llmform plan" in err
    data = load(path)
    data["store"]["serial"] = 2
    dump(path, data)
    err, _ = refused(repo, capsys, path)
    assert "was modified after 'llmform plan' wrote it" in err


def test_an_applied_plan_is_not_replayed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save(capsys)
    assert run(capsys, "apply", str(path))[0] == 0
    err, _ = refused(repo, capsys, path, show=0)
    assert f"this plan ({load(path)['plan_id']}) was already applied; run llmform plan" in err
    data = load(path)
    data["plan_id"] = "1" * 32
    data["store"]["serial"] = 2
    dump(path, data)
    err, _ = refused(repo, capsys, path)
    assert "was modified after 'llmform plan' wrote it" in err


def test_a_plan_for_another_store_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = f"sqlite:///{repo / 'other.db'}"
    run(capsys, "init", "--store", other)  # a saved plan needs an existing store's key
    path = save(capsys, "--store", other)
    err, _ = refused(repo, capsys, path)
    assert "or was made for another store (its MAC does not verify" in err
    with sqlite3.connect(repo / "store.db") as conn:
        (lineage,) = conn.execute("SELECT value FROM meta WHERE key = 'lineage'").fetchone()
    data = load(path)
    data["store"]["lineage"] = lineage
    dump(path, data)
    err, _ = refused(repo, capsys, path)
    assert "or was made for another store (its MAC does not verify" in err
    # the store the file names, in case --store was forgotten or mistyped
    assert f"the file names the store {other}); nothing was done. If that is its store, " in err
    assert "pass it with --store; else plan again against this store" in err


# -- behind the MAC: what the store and the checks refuse even with a valid MAC ---------------


def test_a_row_changed_since_the_plan_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An application edits a managed row (the serial does not move): the plan's before no
    longer holds, and the plan is refused rather than overwriting the edit."""
    path = save(capsys)
    with sqlite3.connect(repo / "store.db") as conn:
        conn.execute("UPDATE configs SET description = 'edited' WHERE name = 'openai-main'")
        conn.execute("INSERT INTO workspaces (name, managed) VALUES ('dev', 1)")
    err, show_err = refused(repo, capsys, path, show=0)
    assert show_err == (
        "warning: the store does not hold what the plan expects (workspace.dev already exists "
        "in the store; config.prod/openai-main changed in the store since the plan was made); "
        "apply will refuse this plan\n"
    )
    assert err == (
        "error: the store does not hold what the plan expects, so nothing was applied:\n"
        "  workspace.dev already exists in the store\n"
        "  config.prod/openai-main changed in the store since the plan was made\n"
        "Run llmform plan again\n"
    )


def _forged(repo: Path, capsys: pytest.CaptureFixture[str], edit: Callable[[Data], None]) -> str:
    """``edit`` the saved plan, recompute its changes and sign it with the store's own key:
    the checks behind the MAC must refuse it."""
    path = save(capsys)
    data = load(path)
    edit(data)
    rebuild(data)
    dump(path, data)
    resign(repo, path)
    err, show_err = refused(repo, capsys, path, show=0)
    assert "error" not in show_err  # the MAC verifies: show prints what apply's checks refuse
    return err


def _after(data: Data, address: str) -> Data:
    return change_at(data, address)["after"]["attrs"]  # type: ignore[no-any-return]


FORGERIES: dict[str, tuple[Callable[[Data], None], str]] = {
    "a delete of an unmanaged row": (
        _delete_unmanaged,
        "workspace.hand-made is not managed by llmform (it was not created by llmform), and a "
        "plan never changes it",
    ),
    "a name the schema forbids": (
        _bad_name,
        'workspace.dev; DROP TABLE configs: name: "dev; DROP TABLE configs" is not valid',
    ),
    "an unknown factory": (
        lambda d: _after(d, "config.prod/openai-main").update(factory="OpenAl"),
        "config.prod/openai-main: factory: unknown factory 'OpenAl' (did you mean 'OpenAI'?)",
    ),
    "a config whose workspace will not exist": (
        lambda d: change_at(d, "workspace.prod").update(after=None),
        "config.prod/openai-main: workspace: unknown workspace 'prod'",
    ),
    "a value of the wrong type": (
        lambda d: _after(d, "config.prod/openai-main")["options"].update(region=5),
        "config.prod/openai-main: region: expected a string, got an integer",
    ),
    "credentials in an api_base": (
        lambda d: _after(d, "config.prod/openai-main").update(api_base="https://u:p@h.example"),
        "config.prod/openai-main: api_base: credentials do not belong in the URL",
    ),
    "an attribute llmform does not write": (
        lambda d: _after(d, "config.prod/openai-main").update(hook="https://h.example"),
        "config.prod/openai-main: not what llmform plans for its configuration (hook differ)",
    ),
    "a forged fingerprint": (
        lambda d: change_at(d, "config.prod/openai-main")["after"]["secrets"].update(
            api_key="0" * 64
        ),
        "config.prod/openai-main: not what llmform plans for its configuration (secret "
        "fingerprints differ)",
    ),
}


@pytest.mark.parametrize(("edit", "message"), FORGERIES.values(), ids=FORGERIES.keys())
def test_the_checks_behind_the_mac(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[Data], None],
    message: str,
) -> None:
    err = _forged(repo, capsys, edit)
    assert message in err, err


def test_the_store_checks_befores_inside_its_transaction(repo: Path) -> None:
    """Store.apply itself refuses a change whose before is not what it holds, and a change at
    an unmanaged address, writing nothing (whatever its caller checked before)."""
    from llmform.targets import open_store
    from llmform.targets.base import StalePlanError

    store = open_store(f"sqlite:///{repo / 'store.db'}")
    try:
        state = store.read()
        prod = state.resources["workspace.prod"]
        edited = Resource(prod.address, prod.kind, prod.workspace, {**prod.attrs, "labels": {}})
        hand_made = state.unmanaged["workspace.hand-made"]
        cases = [
            (diff({}, {prod.address: edited})[0], "workspace.prod changed in the store"),
            (diff({}, {hand_made.address: hand_made})[0], "workspace.hand-made is not managed"),
            (diff({prod.address: prod}, {})[0], "workspace.prod already exists in the store"),
        ]
        for change, message in cases:
            before = store_bytes(repo)
            with pytest.raises(StalePlanError, match=message):
                store.apply([change], (state.lineage, state.serial), [])
            assert store_bytes(repo) == before
    finally:
        store.close()


# -- damaged files, other formats --------------------------------------------------------------

DAMAGE: dict[str, tuple[Callable[[Data], None], str]] = {
    "serial a string": (_set("store", "serial", value="1"), "store.serial: expected an integer"),
    "serial negative": (_set("store", "serial", value=-1), "store.serial: expected a number of 0"),
    "keys_checked a string": (
        _set("keys_checked", value="yes"),
        "keys_checked: expected true or false, found a string",
    ),
    "changes an object": (_set("changes", value={}), "changes: expected a list, found an object"),
    "a change's kind": (
        lambda d: d["changes"][0].update(kind="table"),
        "changes[0].kind: expected one of factory, workspace, config",
    ),
    "a change's action": (
        lambda d: d["changes"][0].update(action="drop"),
        "changes[0].action: expected one of create, update, delete, replace, no-op",
    ),
    "an attribute's type": (
        lambda d: change_at(d, "config.prod/openai-main")["after"]["attrs"].update(enabled="yes"),
        ".after.attrs.enabled: expected true or false, found a string",
    ),
    "a missing attribute": (
        lambda d: change_at(d, "config.prod/openai-main")["after"]["attrs"].pop("models"),
        ".after.attrs.models: missing",
    ),
    "a model's type": (
        lambda d: change_at(d, "config.prod/openai-main")["after"]["attrs"]["models"].append(5),
        ".after.attrs.models[1]: expected an object, found a number",
    ),
    "a field change": (
        lambda d: change_at(d, "config.prod/openai-main")["fields"].append("x"),
        "expected a list [name, before, after, sensitive]",
    ),
    "fingerprints a list": (
        _set("fingerprints", value=[]),
        "fingerprints: expected an object, found a list",
    ),
    **{
        f"a fingerprint of {name}": (
            lambda d, ref=ref: d["fingerprints"].update({ref: "0" * 64}),
            "fingerprints: a key is not a secret reference (env:NAME or vault:path#key)",
        )
        for name, ref in (
            ("no reference", "garbage"),
            ("an unnamed variable", "env:"),
            ("no variable name", "env:A B"),
            ("a vault path without a key", "vault:secret/x"),
        )
    },
    "a secret reference": (
        lambda d: change_at(d, "config.prod/openai-main")["after"]["attrs"]["secrets"].update(
            api_key="sk-live-123"
        ),
        ".after.attrs.secrets.api_key: expected a secret reference (env:NAME or vault:path#key)",
    ),
    "a fingerprint a number": (
        lambda d: change_at(d, "config.prod/openai-main")["after"]["secrets"].update(api_key=5),
        ".after.secrets.api_key: expected a string, found a number",
    ),
    "plan_id a number": (_set("plan_id", value=5), "plan_id: expected a string, found a number"),
    "created_at not a time": (
        _set("created_at", value="yesterday"),
        "created_at: expected an ISO 8601 time",
    ),
    "a missing field": (lambda d: d.pop("scope"), "scope: missing"),
    "an unknown field": (
        _set("approved_by", value="me"),
        "approved_by: not a field of this format",
    ),
    "a key check's passed": (
        lambda d: d["key_checks"][0]["keys"][0].update(passed="true"),
        "key_checks[0].keys[0].passed: expected true or false, found a string",
    ),
    "an address that is not its kind's": (
        lambda d: change_at(d, "workspace.dev")["after"].update(address="config.dev"),
        ".after.address: expected 'workspace.NAME'",
    ),
    "a workspace not its address's": (
        lambda d: change_at(d, "config.prod/openai-main")["after"].update(workspace="staging"),
        ".after.address: expected 'config.WORKSPACE/NAME' naming its workspace",
    ),
}


@pytest.mark.parametrize(("edit", "message"), DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_field_is_named(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[Data], None],
    message: str,
) -> None:
    path = save(capsys)
    data = load(path)
    edit(data)
    dump(path, data)
    apply_err, show_err = refused(repo, capsys, path)
    assert apply_err.startswith(f"error: {path}: the plan file is damaged: ")
    assert message in apply_err
    assert apply_err.endswith("; plan again with this llmform: llmform plan -o FILE\n")
    assert show_err == apply_err


UNREADABLE: dict[str, tuple[bytes, str]] = {
    "not JSON": (b'{"format": ', "not JSON (Expecting value at line 1, column 12)"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "nested more than 32 levels deep"),
    "nested just too deep": (b'{"a":' * 40 + b"1" + b"}" * 40, "nested more than 32 levels deep"),
    "not UTF-8": (b'{"format": "\xff"}', "not UTF-8 text (byte 12)"),
    "a duplicate field": (b'{"mac": "a", "mac": "b"}', "an object has the same field twice"),
    "NaN": (b'{"serial": NaN}', "a number is not valid"),
    "an infinite number": (b'{"serial": 1e999}', "a number is too large"),
    "a huge integer": (b'{"serial": ' + b"9" * 5000 + b"}", "a number is not valid"),
    "a lone surrogate": (b'{"format": "\\ud800"}', "a string is not valid Unicode text"),
    "a list": (b"[]", "not a JSON object"),
    "no format": (b"{}", "(it has no format 'llmform-plan/N')"),
    "another tool's format": (b'{"format": "terraform"}', "(it has no format 'llmform-plan/N')"),
    "a format number with a zero": (
        b'{"format": "llmform-plan/02"}',
        "(it has no format 'llmform-plan/N')",
    ),
}


@pytest.mark.parametrize(("raw", "message"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_file_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str], raw: bytes, message: str
) -> None:
    path = repo / "bad.plan"
    path.write_bytes(raw)
    apply_err, show_err = refused(repo, capsys, path)
    assert apply_err.startswith(f"error: {path}: not an llmform plan file")
    assert message in apply_err
    assert show_err == apply_err


def test_a_huge_file_is_not_read_whole(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import llmform.engine.saved_plans

    monkeypatch.setattr(llmform.engine.saved_plans, "MAX_PLAN_BYTES", 1024 * 1024)
    path = repo / "big.plan"
    path.write_bytes(b" " * (1024 * 1024 + 1))
    apply_err, _ = refused(repo, capsys, path)
    assert apply_err == f"error: {path}: not an llmform plan file: larger than 1 MiB\n"
    code, _, err = run(capsys, "show", "/dev/zero")
    assert (code, err) == (1, "error: /dev/zero: not an llmform plan file: larger than 1 MiB\n")


@pytest.mark.parametrize(
    ("found", "by"),
    [("llmform-plan/1", "an older"), ("llmform-plan/2", "an older"), ("llmform-plan/4", "a newer")],
)
def test_another_format_version_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str], found: str, by: str
) -> None:
    path = save(capsys)
    data = load(path)
    data["format"] = found
    dump(path, data)
    apply_err, show_err = refused(repo, capsys, path)
    assert apply_err == (
        f"error: {path}: the plan file has format {found!r} (made by {by} llmform), but this "
        "llmform (0.1.0) reads only 'llmform-plan/3'; plan again with this llmform: "
        "llmform plan -o FILE\n"
    )
    assert show_err == apply_err


# -- a saved plan is the approval --------------------------------------------------------------


def _llmform(
    args: list[str] | str, cwd: Path, env: dict[str, str], shell: str = "/bin/sh"
) -> subprocess.CompletedProcess[str]:
    """A real llmform process with no terminal (stdin is /dev/null), as in CI; a string is run
    by ``shell``, exactly as written."""
    command = args if isinstance(args, str) else shlex.join(["llmform", *args])
    bin_dir = str(Path(sys.executable).parent)
    return subprocess.run(
        command,
        shell=True,
        executable=shell,
        cwd=cwd,
        env={**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


HINT = "; apply it with: "


@pytest.mark.parametrize(
    ("name", "plan_args", "store_from_env"),
    [
        ("p.plan", [], True),
        ("p.plan", ["--no-validate-keys"], True),
        ("it's a plan.json", [], False),
        ("sub dir/$HOME `x`.plan", ["--no-validate-keys"], False),
    ],
)
def test_the_printed_hint_applies_in_ci_as_printed(
    repo: Path, name: str, plan_args: list[str], store_from_env: bool
) -> None:
    """plan -o prints the command that applies the plan; a CI step runs it word for word,
    with no terminal and no --auto-approve."""
    (repo / "sub dir").mkdir()
    env = dict(os.environ)
    store = env.pop("LLMFORM_STORE")
    args = ["plan", "-o", name, *plan_args, "llmform.yaml"]
    if not store_from_env:
        args += ["--store", store]
    planned = _llmform(args, repo, {**env, "LLMFORM_STORE": store} if store_from_env else env)
    assert planned.returncode == 0, planned.stderr
    (line,) = [line for line in planned.stderr.splitlines() if HINT in line]
    command = line.split(HINT, 1)[1]
    assert ("--store" in command) is not store_from_env
    assert ("--no-validate-keys" in command) is bool(plan_args)
    applied = _llmform(command, repo, {**env, "LLMFORM_STORE": store} if store_from_env else env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete! Resources: 1 added, 1 changed, 2 destroyed." in applied.stdout
    assert "Apply these changes?" not in applied.stdout


def test_a_saved_plan_applies_without_a_prompt(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save(capsys)
    code, out, _ = run(capsys, "apply", str(path))
    assert code == 0
    assert "Apply these changes?" not in out
    assert (
        "\nApply complete! Resources: 1 added, 1 changed, 2 destroyed.\nAudit chain head: " in out
    )
    code, out, _ = run(capsys, "plan", "--detailed-exitcode", "llmform.yaml")
    assert code == 0, out


def test_a_saved_plan_needs_its_store(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save(capsys)
    code, _, err = run(capsys, "apply", "--store", f"sqlite:///{repo / 'typo.db'}", str(path))
    assert code == 1
    assert f"no store at sqlite:///{repo / 'typo.db'}; a saved plan applies" in err
    assert not (repo / "typo.db").exists()


# -- show --------------------------------------------------------------------------------------

SMALL = "apiVersion: llmform/v1\nworkspaces:\n  - name: dev\n    labels: {team: ml}\n"
SMALL_TEXT = """\
Workspace dev:

  # workspace.dev will be created
  + workspace.dev {
      + labels.team = "ml"
    }

Key checks were skipped (--no-validate-keys).

Plan: 1 to add, 0 to change, 0 to destroy.
"""


def test_show_prints_a_small_plan_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    (tmp_path / "llmform.yaml").write_text(SMALL)
    run(capsys, "init")  # a saved plan needs an existing store's key
    save(capsys, "--no-validate-keys")
    assert run(capsys, "show", "p.plan") == (0, SMALL_TEXT, "")


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["", "verbose"])
@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_show_renders_as_plan_did(
    repo: Path, capsys: pytest.CaptureFixture[str], fmt: str, verbose: list[str]
) -> None:
    code, planned, _ = run(
        capsys, "plan", "--format", fmt, *verbose, "-o", "p.plan", "llmform.yaml"
    )
    assert code == 0
    before = store_bytes(repo)
    assert run(capsys, "show", "--format", fmt, *verbose, "p.plan") == (0, planned, "")
    assert store_bytes(repo) == before
    if fmt == "json":
        assert json.loads(planned)["summary"] == {"add": 1, "change": 1, "destroy": 2}
        # factory.OpenAI, workspace.prod and workspace.staging: counted, not copied
        assert json.loads(planned)["unchanged"]["count"] == 3


def test_show_without_the_store_warns_that_it_is_unverified(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save(capsys)
    elsewhere = f"sqlite:///{repo / 'laptop' / 'none.db'}"
    code, out, err = run(capsys, "show", "--store", elsewhere, str(path))
    assert code == 0
    assert out.rstrip().endswith("Plan: 1 to add, 1 to change, 2 to destroy.")
    assert err == (
        f"warning: {path} is not verified: there is no store at {elsewhere} to check it "
        "against (pass --store); apply verifies it and refuses a modified plan\n"
    )
    assert not (repo / "laptop").exists()


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_an_unverified_show_says_so_in_the_document_too(
    repo: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    # a markdown or json document is pasted into a pull request without its stderr
    path = save(capsys)
    elsewhere = f"sqlite:///{repo / 'laptop' / 'none.db'}"
    code, out, err = run(capsys, "show", "--format", fmt, "--store", elsewhere, str(path))
    assert code == 0 and "is not verified" in err
    if fmt == "json":
        warnings = json.loads(out)["warnings"]
        assert any(w.startswith(f"{path} is not verified: there is no store") for w in warnings)
    else:
        assert "is not verified: there is no store at" in out


def test_show_of_a_stale_plan_says_apply_will_refuse_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save(capsys)
    assert run(capsys, "apply", str(path))[0] == 0
    code, out, err = run(capsys, "show", str(path))
    assert code == 0 and "Plan: 1 to add" in out
    plan_id = load(path)["plan_id"]
    assert err == (
        f"warning: this plan ({plan_id}) was already applied; apply will refuse this plan\n"
    )


def test_show_of_a_refused_file_prints_an_error_document(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As plan does with markdown and json: a pull-request comment says why."""
    path = save(capsys)
    data = load(path)
    data["keys_checked"] = False
    dump(path, data)
    code, out, err = run(capsys, "show", "--format", "json", str(path))
    assert code == 1
    (error,) = json.loads(out)["errors"]
    assert "was modified after 'llmform plan' wrote it" in error["message"]
    assert "was modified after 'llmform plan' wrote it" in err


def test_a_plan_with_values_not_read_applies(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A disabled config's key is not read when the store holds its fingerprint: the plan
    carries that fingerprint over, and re-validation plans it the same way."""
    text = (repo / "llmform.yaml").read_text()
    disabled = "    enabled: false\n    models: [gpt-4o]\n"
    (repo / "llmform.yaml").write_text(text.replace("    models: [gpt-4o]\n", disabled))
    path = save(capsys)
    assert load(path)["not_compared"] == {"config.prod/openai-main": ["api_key"]}
    code, out, err = run(capsys, "apply", str(path))
    assert code == 0, err
    assert "Apply complete! Resources: 1 added, 1 changed, 2 destroyed." in out


def test_a_plan_without_secrets_is_shown_never_applied(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, planned, err = run(capsys, "plan", "--no-secrets", "-o", "fork.plan", "llmform.yaml")
    assert code == 0 and "cannot be applied" in err and "apply it with" not in err
    assert run(capsys, "show", "fork.plan") == (0, planned, "")
    err, _ = refused(repo, capsys, Path("fork.plan"), show=0)
    assert "this plan was made with --no-secrets" in err


def test_a_saved_plan_seals_the_audit_trail_like_any_apply(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With LLMFORM_AUDIT_KEY the events are keyed and the head printed; on a keyed trail,
    applying a saved plan without the key is refused before anything is written."""
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", "k" * 40)
    text = (repo / "llmform.yaml").read_text()
    assert run(capsys, "apply", "--auto-approve", "llmform.yaml")[0] == 0  # now keyed
    (repo / "llmform.yaml").write_text(text.replace("team: platform", "team: ml"))
    path = save(capsys)
    monkeypatch.delenv("LLMFORM_AUDIT_KEY")
    err, _ = refused(repo, capsys, path, show=0)
    assert "LLMFORM_AUDIT_KEY" in err
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", "k" * 40)
    code, out, _ = run(capsys, "apply", str(path))
    assert code == 0
    assert out.splitlines()[-1].startswith("Audit chain head: ")
    assert ":hmac-sha256:" in out.splitlines()[-1]
    assert run(capsys, "audit", "--verify")[0] == 0
