"""Through the CLI: label keys and values, descriptions and a provider's error text written to
forge plan lines, drive the terminal or break the markdown comment reach stdout and stderr as
inert text, in every plan format and in validate's diagnostics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import cmarkgfm  # type: ignore[import-untyped]
import pytest
from cmarkgfm.cmark import Options  # type: ignore[import-untyped]
from support.provider_servers import ProviderServer, openai_error

from llmform.cli import main

# YAML double-quoted escapes, so that the file itself holds no control character
EVIL = r"x\n  + config.prod/evil {\e[2J\e]0;owned\a\u202e | ``` </details> @octocat"
PLAIN = "x"
EVIL_TEXT = "x\n  + config.prod/evil {\x1b[2J\x1b]0;owned\x07\u202e | ``` </details> @octocat"

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    description: "{s}"
    labels: {{"{s}": "{s}", team: "{s}"}}
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    description: "{s}"
    api_base: {api_base}
    api_key: {{env: KEY}}
    models: [gpt-4o]
"""

# A provider whose error text would forge a plan line and set the terminal's title
FORGING = openai_error(
    401,
    "bad key\n  config.prod/openai-main  api_key: valid\n\x1b]0;owned\x07\x1b[2J\u2028",
    "invalid_request_error",
    "invalid_api_key",
)


@pytest.fixture
def folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, ProviderServer]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0.01")
    monkeypatch.setenv("KEY", "sk-evil-provider-key")
    with ProviderServer("openai", {"sk-evil-provider-key": FORGING}, models=["gpt-4o"]) as s:
        monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", s.url)
        yield tmp_path, s


def plan(
    capsys: pytest.CaptureFixture[str], folder: Path, server: ProviderServer, s: str, fmt: str
) -> tuple[str, str]:
    (folder / "llmform.yaml").write_text(STATE.format(s=s, api_base=server.api_base))
    # the key fails; asked each time, so that both plans compared have the same notes
    argv = ["--no-color", "plan", "--check-cache-ttl", "0", "--format", fmt, "llmform.yaml"]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    return out, err


def _unprintable(text: str) -> set[str]:
    return {c for c in text if not (c.isprintable() or c == "\n")}


def test_the_values_really_are_hostile(folder: tuple[Path, ProviderServer]) -> None:
    from llmform.desired.validate import load_state

    path, _ = folder
    (path / "llmform.yaml").write_text(STATE.format(s=EVIL, api_base="http://127.0.0.1:1/v1"))
    state = load_state([str(path / "llmform.yaml")])
    assert state.workspaces["prod"].description == EVIL_TEXT


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_plan_output_keeps_its_shape(
    folder: tuple[Path, ProviderServer], capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    path, server = folder
    out, err = plan(capsys, path, server, EVIL, fmt)
    ref_out, ref_err = plan(capsys, path, server, PLAIN, fmt)
    assert not _unprintable(out + err), out + err
    assert out.count("\n") == ref_out.count("\n"), out
    assert err.count("\n") == ref_err.count("\n"), err
    if fmt == "text":
        # the provider's forged line is not a line of its own
        assert "\n  config.prod/openai-main  api_key: valid" not in out
        assert "\\x1b]0;owned\\x07" in out
    if fmt == "markdown":
        tags = re.compile(r"<(/?[a-z][a-z0-9]*)")
        html = cmarkgfm.github_flavored_markdown_to_html(out, options=Options.CMARK_OPT_UNSAFE)
        ref = cmarkgfm.github_flavored_markdown_to_html(ref_out, options=Options.CMARK_OPT_UNSAFE)
        assert tags.findall(html) == tags.findall(ref)
    if fmt == "json":
        data = json.loads(out)
        assert data["changes"][-1]["after"]["description"] == EVIL_TEXT  # kept exactly


def test_validate_diagnostics_are_inert(
    folder: tuple[Path, ProviderServer], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = folder
    text = STATE.format(s=PLAIN, api_base="http://127.0.0.1:1/v1").replace(
        "    models: [gpt-4o]\n", f'    models: [gpt-4o]\n    "{EVIL}": 1\n'
    )
    (path / "llmform.yaml").write_text(text)
    assert main(["--no-color", "validate", "llmform.yaml"]) == 1
    err = capsys.readouterr().err
    assert not _unprintable(err), err
    assert "\\x1b[2J" in err
    lines = err.splitlines()
    assert len(lines) == 2 and lines[1].startswith("1 error(s)"), err


def test_export_writes_hostile_strings_as_escapes_and_reads_them_back(
    folder: tuple[Path, ProviderServer], capsys: pytest.CaptureFixture[str]
) -> None:
    path, server = folder
    (path / "llmform.yaml").write_text(STATE.format(s=EVIL, api_base=server.api_base))
    assert main(["--no-color", "apply", "--auto-approve", "--no-validate-keys"]) == 0
    capsys.readouterr()
    assert main(["--no-color", "export"]) == 0
    exported = capsys.readouterr().out
    assert not _unprintable(exported), exported  # no ESC, BEL, C1 or bidi override raw
    assert "\\e]0;owned\\a\\u202E" in exported
    (path / "adopted").mkdir()
    (path / "adopted" / "llmform.yaml").write_text(exported)
    assert main(["--no-color", "plan", "--no-validate-keys", "adopted"]) == 0
    assert "No changes." in capsys.readouterr().out  # every string read back exactly
