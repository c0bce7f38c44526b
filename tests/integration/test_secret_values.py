"""A secret value no HTTP header can carry, or with whitespace around it (the newline of
``echo key | vault kv put``), is refused when it is resolved: from the environment and from a
real OpenBao, in every secret slot, in every plan format and in apply. The error names the
reference and the slot, never the value, and nothing is sent to a provider or written."""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from baoserver import BaoServer
from support.provider_servers import ProviderServer

from llmform.cli import main
from llmform.desired.model import VaultRef
from llmform.secrets.base import SecretValue
from llmform.secrets.settings import VaultSettings
from llmform.secrets.vault import VaultResolver

TOKEN = secrets.token_hex(8)
GOOD = f"gsk_{TOKEN}_good"
ACCESS, SECRET = f"AKIA{TOKEN.upper()}", f"wJalr{TOKEN}EXAMPLEKEY"

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    api_base: {openai}
    api_key: {{env: PRIMARY}}
    backup_keys: [{{env: BACKUP}}]
    models: [gpt-4o]
  - name: aws
    workspace: prod
    factory: Bedrock
    api_base: {bedrock}
    region: us-east-1
    api_key: {{env: ACCESS}}
    api_secret: {{env: SECRET}}
    models: [anthropic.claude-haiku-4-5-20251001-v1:0]
"""

# (what is wrong, the value with it, the words of the problem)
BAD_VALUES = [
    ("trailing newline", "\n", "ends with a line break (LF); store the value without it"),
    ("trailing CRLF", "\r\n", "ends with a line break (LF)"),
    ("trailing CR", "\r", "ends with a carriage return (CR)"),
    ("trailing space", " ", "ends with a space"),
    ("leading tab", "\t<", "starts with a tab"),
    ("inner newline", "\nX-Injected: 1", "holds a line break (CR or LF) inside it"),
    ("inner NUL", "\x00z", "holds a control character"),
    ("inner ESC", "\x1b[2Jz", "holds a control character"),
    ("DEL", "\x7fz", "holds a control character"),
    ("non-ASCII letter", "éz", "holds a non-ASCII character"),
    ("non-breaking space", "\u00a0z", "holds a non-ASCII character"),
    ("bidi override", "\u202ez", "holds a non-ASCII character"),
]
# An environment variable cannot hold NUL: that one is met in Vault only.
ENV_BAD_VALUES = [case for case in BAD_VALUES if "\x00" not in case[1]]
NOT_STRIPPED = (
    "llmform does not strip it, because the application reading the same reference would get it too"
)
NO_HEADER = "which no HTTP header can carry; store the key as plain ASCII"


def with_fault(fault: str) -> str:
    if fault.startswith(("\t", " ")) and fault != " ":
        return fault[0] + GOOD  # leading
    if fault.endswith("z"):
        return GOOD[:10] + fault[:-1] + GOOD[10:]  # inside
    return GOOD + fault  # trailing


@dataclass
class Repo:
    path: Path
    openai: ProviderServer
    bedrock: ProviderServer
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str) -> tuple[int, str, str]:
        code = main(["--no-color", *args])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Repo]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0.01")
    for name, value in (("PRIMARY", GOOD), ("BACKUP", GOOD), ("ACCESS", ACCESS)):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET", SECRET)
    with (
        ProviderServer("openai", {GOOD: "valid"}, models=["gpt-4o"]) as openai,
        ProviderServer(
            "bedrock", {ACCESS: "valid"}, models=["anthropic.claude-haiku-4-5-20251001-v1:0"]
        ) as aws,
    ):
        monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", f"{openai.url} {aws.url}")
        text = STATE.format(openai=openai.api_base, bedrock=aws.api_base)
        (tmp_path / "llmform.yaml").write_text(text)
        yield Repo(tmp_path, openai, aws, monkeypatch, capsys)


def test_good_values_pass(repo: Repo) -> None:
    code, out, err = repo.run("plan", "llmform.yaml")
    assert code == 0, err
    assert "Key checks: 3 keys of 2 configs, all passed." in out


@pytest.mark.parametrize(
    ("variable", "slot"),
    [
        ("PRIMARY", "config.prod/openai-main api_key"),
        ("BACKUP", "config.prod/openai-main backup_keys[0]"),
        ("ACCESS", "config.prod/aws api_key"),
        ("SECRET", "config.prod/aws api_secret"),
    ],
)
@pytest.mark.parametrize(
    ("fault", "words"),
    [case[1:] for case in ENV_BAD_VALUES],
    ids=[case[0] for case in ENV_BAD_VALUES],
)
def test_a_bad_value_is_refused_naming_reference_and_slot(
    repo: Repo, variable: str, slot: str, fault: str, words: str
) -> None:
    value = with_fault(fault)
    repo.monkeypatch.setenv(variable, value)
    code, out, err = repo.run("plan", "llmform.yaml")
    assert code == 1
    assert "internal error" not in err and "Traceback" not in err
    expected = f"  env:{variable}: environment variable {variable} {words}"
    assert expected in err, err
    assert err.rstrip().endswith(f"(used by {slot})"), err
    assert (NOT_STRIPPED if words.startswith(("ends", "starts")) else NO_HEADER) in err
    assert TOKEN not in out + err and TOKEN.upper() not in out + err
    assert repo.openai.requests == [] and repo.bedrock.requests == []  # nothing was sent


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_every_format_and_apply_refuse_it_and_write_nothing(
    repo: Repo, fmt: str, command: str
) -> None:
    repo.monkeypatch.setenv("PRIMARY", GOOD + "\n")
    args = ["--format", fmt] if command == "plan" else ["--auto-approve"]
    code, out, err = repo.run(command, *args, "llmform.yaml")
    assert code == 1
    assert "env:PRIMARY: environment variable PRIMARY ends with a line break (LF)" in err
    # the old failure: httpx's "Illegal header value b'Bearer …\n'" in the key check's detail
    assert "Illegal header" not in out + err and "LocalProtocolError" not in out + err
    assert TOKEN not in out + err
    assert repo.openai.requests == []
    if (repo.path / "store.db").exists():
        with sqlite3.connect(repo.path / "store.db") as conn:
            assert conn.execute("SELECT count(*) FROM configs").fetchone() == (0,)


def test_a_saved_plan_whose_secret_gained_a_newline_is_refused(repo: Repo) -> None:
    repo.run("init")  # a saved plan needs the store's key
    code, _, err = repo.run("plan", "-o", "p.plan", "llmform.yaml")
    assert code == 0, err
    repo.monkeypatch.setenv("BACKUP", GOOD + "\r\n")
    code, out, err = repo.run("apply", "--auto-approve", "p.plan")
    assert code == 1
    assert "env:BACKUP: environment variable BACKUP ends with a line break (LF)" in err
    assert TOKEN not in out + err and "internal error" not in err


# -- values from a real OpenBao -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "words"), [case[1:] for case in BAD_VALUES], ids=[case[0] for case in BAD_VALUES]
)
def test_a_bad_value_in_vault_is_refused(bao: BaoServer, fault: str, words: str) -> None:
    mount = bao.kv_mount(2)
    value = with_fault(fault)
    bao.put(mount, "llm/openai", {"api_key": value, "fine": GOOD})
    bad, fine = (VaultRef(path=f"{mount}/llm/openai", key=k) for k in ("api_key", "fine"))
    result = VaultResolver(VaultSettings(addr=bao.addr, token=SecretValue("root"))).resolve(
        [bad, fine]
    )
    assert result.values[fine].reveal() == GOOD
    (problem,) = result.problems
    assert problem.ref == bad
    assert problem.message.startswith(f"the value of key 'api_key' of {mount}/llm/openai {words}")
    assert TOKEN not in problem.message


def test_a_vault_value_with_a_newline_fails_the_plan_naming_the_slot(
    bao: BaoServer, repo: Repo
) -> None:
    mount = bao.kv_mount(2)
    bao.put(mount, "llm/openai", {"api_key": GOOD + "\n"})
    for name in list(os.environ):
        if name.startswith(("VAULT_", "LLMFORM_VAULT_")):
            repo.monkeypatch.delenv(name)
    repo.monkeypatch.setenv("HOME", str(repo.path))
    repo.monkeypatch.setenv("VAULT_ADDR", bao.addr)
    repo.monkeypatch.setenv("VAULT_TOKEN", "root")
    text = (repo.path / "llmform.yaml").read_text()
    text = text.replace(
        "backup_keys: [{env: BACKUP}]", f'backup_keys: [{{vault: "{mount}/llm/openai#api_key"}}]'
    )
    (repo.path / "llmform.yaml").write_text(text)
    code, out, err = repo.run("plan", "--format", "json", "llmform.yaml")
    assert code == 1
    assert (
        f"  vault:{mount}/llm/openai#api_key: the value of key 'api_key' of {mount}/llm/openai "
        "ends with a line break (LF)"
    ) in err
    assert err.rstrip().endswith("(used by config.prod/openai-main backup_keys[0])")
    assert TOKEN not in out + err
