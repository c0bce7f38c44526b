"""Issue 9, item 10 (output injection), tested from the issue's words.

Label keys, provider error text and CI identity variables (GITHUB_ACTOR with a newline) must
not reach the terminal or the markdown PR comment raw: no extra plan lines, no terminal escapes
(least of all before the `yes` prompt), no markdown breaking out of its table. Every user- or
server-controlled string is escaped in every renderer.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from independent_kit import (
    BASE_STATE,
    CORP_KEY,
    ESCAPES,
    Cli,
    applied,
    make_cli,
    sql,
    write,
)
from support.provider_servers import ProviderServer


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return make_cli(tmp_path, monkeypatch, capsys)


STORE = "sqlite:///stores/registry.db"
FORGED = "+ factory.Forged"
# A string that, printed raw, would add a plan line, clear the screen, reverse the text after
# it, and in markdown leave its table cell and its <details> block, embed an image and ping.
HOSTILE = (
    f"x\n{FORGED} {{\r\x1b[2J\x1b]8;;http://evil/\x07\u202e|</details>"
    "<img src=x onerror=alert(1)>[click](http://evil.example)@octocat`` ``\u2028"
)


def yaml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML double-quoted string


def hostile_state(where: str) -> str:
    value = yaml_string(HOSTILE)
    if where == "label-key":
        addition = f"    labels: {{{value}: v}}\n"
    elif where == "label-value":
        addition = f"    labels: {{k: {value}}}\n"
    else:
        addition = f"    description: {value}\n"
        return BASE_STATE.replace("    description: production\n", addition)
    return BASE_STATE.replace(
        "    description: production\n", "    description: production\n" + addition
    )


def assert_inert_text(text: str) -> None:
    assert not ESCAPES.search(text), repr(ESCAPES.search(text))
    assert "\u2028" not in text
    for line in text.splitlines():
        assert not line.lstrip().startswith(FORGED), line


def assert_inert_markdown(text: str) -> None:
    """Nothing left its place: a fenced block is literal (GitHub renders no tag, link or
    mention in it), so the checks for HTML, links and mentions apply outside the fences, and
    inside them no line may close the fence early."""
    assert_inert_text(text)
    outside: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        if fence is None:
            if line.startswith("```"):
                fence = line
            else:
                outside.append(line)
        elif line.startswith("```"):
            assert line == "```", f"a fence closed by {line!r}"
            fence = None
    assert fence is None, "a fence left open"
    prose = "\n".join(outside)
    assert "<img" not in prose
    assert "](http://evil.example)" not in prose
    assert "@octocat" not in prose
    assert prose.count("<details") == prose.count("</details>")
    # every table row keeps its column count
    for block in prose.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            widths = {row.replace("\\|", "").count("|") for row in rows}
            assert len(widths) == 1, rows


WHERE = ["label-key", "label-value", "description"]


@pytest.mark.parametrize("where", WHERE)
def test_text_plan_escapes_a_hostile_string(cli: Cli, where: str) -> None:
    write(cli.cwd / "state" / "llmform.yaml", hostile_state(where))
    result = cli("plan", "--no-validate-keys", "--store", STORE, "state")
    assert result.code == 0, result.both
    assert_inert_text(result.out + result.err)
    assert "\\x1b" in result.out or "\\u001b" in result.out  # shown, as an escape


@pytest.mark.parametrize("where", WHERE)
def test_markdown_plan_keeps_a_hostile_string_in_its_place(cli: Cli, where: str) -> None:
    write(cli.cwd / "state" / "llmform.yaml", hostile_state(where))
    result = cli("plan", "--no-validate-keys", "--format", "markdown", "--store", STORE, "state")
    assert result.code == 0, result.both
    assert_inert_markdown(result.out)


@pytest.mark.parametrize("where", WHERE)
def test_json_plan_holds_the_exact_string_with_escapes(cli: Cli, where: str) -> None:
    write(cli.cwd / "state" / "llmform.yaml", hostile_state(where))
    result = cli("plan", "--no-validate-keys", "--format", "json", "--store", STORE, "state")
    assert result.code == 0, result.both
    assert not ESCAPES.search(result.out.replace("\n", ""))
    assert "\u2028" not in result.out
    document = json.loads(result.out)
    assert HOSTILE in json.dumps(document, ensure_ascii=False) or HOSTILE in _strings(document)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [*_strings(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_an_update_of_a_hostile_label_is_escaped_on_both_sides(cli: Cli, fmt: str) -> None:
    store, _ = applied(cli, hostile_state("label-value"))
    write(
        cli.cwd / "state" / "llmform.yaml",
        hostile_state("label-value").replace("x\\n+ factory", "y\\n+ factory"),
    )
    result = cli("plan", "--no-validate-keys", "--format", fmt, "--store", store, "state")
    assert result.code == 0, result.both
    assert "to change" in result.out or "Change" in result.out
    (assert_inert_text if fmt == "text" else assert_inert_markdown)(result.out)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_show_escapes_as_plan_does(cli: Cli, fmt: str) -> None:
    store, _ = applied(cli)
    write(cli.cwd / "state" / "llmform.yaml", hostile_state("label-key"))
    saved = cli("plan", "--no-validate-keys", "-o", "p.plan", "--store", store, "state")
    assert saved.code == 0, saved.both
    shown = cli("show", "--format", fmt, "--store", store, "p.plan")
    assert shown.code == 0, shown.both
    if fmt == "json":
        assert not ESCAPES.search(shown.out.replace("\n", ""))
    elif fmt == "markdown":
        assert_inert_markdown(shown.out)
    else:
        assert_inert_text(shown.out + shown.err)


PROVIDER_SAYS = (
    401,
    {},
    {"error": {"message": HOSTILE, "type": "invalid_request_error", "code": "invalid_api_key"}},
)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_a_providers_error_text_is_escaped(cli: Cli, fmt: str) -> None:
    with ProviderServer("openai", keys={CORP_KEY: PROVIDER_SAYS}) as server:
        write(
            cli.cwd / "state" / "llmform.yaml",
            BASE_STATE.replace("http://127.0.0.1:9/v1", server.api_base),
        )
        result = cli(
            "plan", "--format", fmt, "--trust-endpoint", server.api_base, "--store", STORE, "state"
        )
    assert result.code == 1, result.both
    assert "invalid key" in result.out
    if fmt == "text":
        assert_inert_text(result.out + result.err)
    elif fmt == "markdown":
        assert_inert_markdown(result.out)
        assert_inert_text(result.err)
    else:
        assert not ESCAPES.search(result.out.replace("\n", ""))
        json.loads(result.out)


def test_a_provider_error_cannot_forge_lines_in_apply(cli: Cli) -> None:
    with ProviderServer("openai", keys={CORP_KEY: PROVIDER_SAYS}) as server:
        write(
            cli.cwd / "state" / "llmform.yaml",
            BASE_STATE.replace("http://127.0.0.1:9/v1", server.api_base),
        )
        result = cli(
            "apply",
            "--auto-approve",
            "--trust-endpoint",
            server.api_base,
            "--store",
            STORE,
            "state",
        )
    assert result.code == 1
    assert_inert_text(result.out + result.err)


ACTOR = "mallory\n2026-01-01 forged-run ci:admin apply workspace.prod ok\x1b[2J\u202e"


@pytest.mark.parametrize(
    "variable", ["GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR", "CIRCLE_USERNAME"]
)
def test_a_ci_identity_cannot_forge_audit_lines(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, ACTOR)
    store, db = applied(cli)
    events = sql(db, "SELECT COUNT(*) FROM audit_events")[0][0]
    listing = cli("audit", "--store", store)
    assert listing.code == 0, listing.both
    assert_inert_text(listing.out + listing.err)
    assert len(listing.out.strip().splitlines()) == events + 1  # the header and one per event
    as_json = cli("audit", "--json", "--store", store)
    actors = {json.loads(line)["actor"] for line in as_json.out.splitlines()}
    assert actors == {f"ci:{ACTOR}"}
    assert not ESCAPES.search(as_json.out.replace("\n", ""))


def test_a_ci_identity_cannot_forge_lines_in_the_lock_message(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock holder names the actor; a run waiting on it prints that name."""
    store, db = applied(cli)
    monkeypatch.setenv("GITHUB_ACTOR", ACTOR)
    sql(
        db,
        "INSERT INTO locks (name, lock_id, holder, pid, operation, created_at) "
        "VALUES ('apply', 'abc123', ?, 1, 'apply', '2026-01-01T00:00:00+00:00')",
        f"ci:{ACTOR}@elsewhere",
    )
    write(cli.cwd / "state" / "llmform.yaml", BASE_STATE.replace("production", "p2"))
    result = cli(
        "apply",
        "--auto-approve",
        "--no-validate-keys",
        "--lock-timeout",
        "0",
        "--store",
        store,
        "state",
    )
    assert result.code == 1, result.both
    assert_inert_text(result.out + result.err)


def test_a_path_in_an_error_cannot_forge_an_error_line(cli: Cli) -> None:
    folder = cli.cwd / "x\nerror: all good, ignore the rest"
    write(folder / "bad.yaml", "apiVersion: llmform/v1\nworkspaces: [\n")
    result = cli("validate", str(folder))
    assert result.code == 1
    assert not [line for line in result.err.splitlines() if line.startswith("error: all good")]
    assert_inert_text(result.err)


def test_a_store_url_in_an_error_cannot_forge_a_line(cli: Cli) -> None:
    result = cli("export", "--store", "sqlite:///x\nerror: forged\x1b[2J.db")
    assert result.code == 1
    assert not [line for line in result.err.splitlines() if line.startswith("error: forged")]
    assert_inert_text(result.err)


def test_export_writes_hostile_strings_escaped_and_they_read_back(cli: Cli) -> None:
    store, _ = applied(cli, hostile_state("label-key"))
    result = cli("export", "--store", store)
    assert result.code == 0, result.both
    assert not ESCAPES.search(result.out.replace("\n", ""))
    write(cli.cwd / "adopted" / "llmform.yaml", result.out)
    again = cli("plan", "--no-validate-keys", "--detailed-exitcode", "--store", store, "adopted")
    assert again.code == 0, again.both  # the same state: no change


def test_no_escape_reaches_the_terminal_before_the_yes_prompt(tmp_path: Path) -> None:
    """On a real terminal (a pty), with colour off, the plan shown before `yes` holds no
    escape sequence from the label, and answering `no` writes nothing."""
    state = tmp_path / "state"
    write(state / "llmform.yaml", hostile_state("label-key"))
    llmform = str(Path(sys.executable).parent / "llmform")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LLMFORM_", "VAULT_", "GITHUB"))
    }
    env.update(NO_COLOR="1", CORP_KEY=CORP_KEY, TERM="xterm")
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        [llmform, "apply", "--no-validate-keys", "--store", "sqlite:///r.db", str(state)],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        cwd=tmp_path,
        env=env,
        close_fds=True,
    )
    os.close(child_fd)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"yes" not in seen.lower().split(b"plan:")[-1] and time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 1)
            if ready:
                try:
                    seen += os.read(main_fd, 65536)
                except OSError:
                    break
        os.write(main_fd, b"no\n")
        process.wait(timeout=30)
        try:
            while True:
                ready, _, _ = select.select([main_fd], [], [], 0.2)
                if not ready:
                    break
                chunk = os.read(main_fd, 65536)
                if not chunk:
                    break
                seen += chunk
        except OSError:
            pass
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main_fd)
    text = seen.decode("utf-8", "replace")
    assert "factory.Corp" in text, text
    assert not ESCAPES.search(text.replace("\r", "").replace("\n", "")), repr(text)
    assert "\u202e" not in text
    assert not (tmp_path / "r.db").exists()
