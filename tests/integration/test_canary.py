"""A canary secret goes through every command and appears nowhere it should not.

Primary and backup keys of two configs are env references whose values are canaries
(``sk-CANARY-<random>``), checked against local servers speaking OpenAI's and DeepSeek's
protocols. Every command that touches them runs: validate, plan in each format, plan -o, apply
of the saved plan with --audit-file, a key rotation applied from the files, export (stdout and
-o), audit (table, --json, --verify with the audit key, a known head and the audit file),
destroy, show of the saved plan in each format (verified, unverified, stale, tampered), and
error paths (a too-short audit key, two audit keys, a literal key in the YAML, also as markdown
and json error documents, a stale plan, a key the provider rejects with a message that quotes
the whole key). Then the canary, and its random part alone, is searched for in every stdout and
stderr, every log record, every file under the working directory (the plan file, the audit
file, the exported YAML, the key-check cache, the database file itself) and every value of
every table row.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.provider_servers import ProviderServer, openai_error

from llmform.cli import main

TOKEN = secrets.token_hex(8)
PRIMARY = f"sk-CANARY-{TOKEN}-primary"
BACKUP = f"sk-CANARY-{TOKEN}-backup"
ROTATED = f"sk-CANARY-{TOKEN}-rotated"
LITERAL = f"sk-CANARY-{TOKEN}-literal"
REJECTED = f"sk-CANARY-{TOKEN}-rejected"
AUDIT_KEY = f"audit-key-{TOKEN}-0123456789"  # seals the audit events; never shown either
SECRETS = (PRIMARY, BACKUP, ROTATED, LITERAL, REJECTED, AUDIT_KEY)


def _encodings(value: str) -> set[str]:
    """Forms an output could carry a secret in without quoting it: base64 (standard and
    URL-safe, at each of the three alignments it may start at inside a longer text, ends
    trimmed), hex, and UTF-16."""
    found = {value.encode().hex(), value.encode("utf-16-le").decode("latin-1")}
    for skip in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(value[skip:].encode()).decode()
            found.add(text[4:-4])
    return found


NEEDLES = (TOKEN, "sk-CANARY", *sorted(set().union(*map(_encodings, SECRETS))))

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    labels: {{team: platform}}
    defaults: {{chat: openai-main/gpt-4o}}
configs:
  - name: openai-main
    workspace: prod
    factory: OpenAI
    api_base: {openai}
    api_key: {{env: CANARY_PRIMARY}}
    backup_keys: [{{env: CANARY_BACKUP}}]
    models: [gpt-4o]
  - name: deepseek
    workspace: prod
    factory: DeepSeek
    api_base: {deepseek}
    api_key: {{env: CANARY_BACKUP}}
    backup_keys: [{{env: CANARY_PRIMARY}}]
    models: [deepseek-chat]
"""

# Policies over the canary's configs: their verdicts, messages, evaluation errors and an
# override's audit event must carry references only (a rule never sees a value).
POLICIES = """\
policies:
  - name: vault-only
    applies_to: {kind: config}
    rule: object.keys.all(k, has(k.vault))
    message: keys come from Vault
    level: soft
  - name: reaches-for-a-value
    applies_to: {kind: config}
    rule: object.api_key.value != ""
    message: there is no value to reach
    level: advisory
  - name: env-names
    applies_to: {kind: config}
    rule: object.keys.all(k, !has(k.env) || k.env.startsWith("CANARY_"))
    message: m
    level: hard
"""

REJECTED_STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: rejected
    workspace: prod
    factory: OpenAI
    api_base: {openai}
    api_key: {{env: CANARY_REJECTED}}
    models: [gpt-4o]
"""

LITERAL_STATE = f"""\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: leaky
    workspace: prod
    factory: OpenAI
    api_key: "{LITERAL}"
    backup_keys: ["{LITERAL}"]
    models: [gpt-4o]
"""

# Keys in the wrong place: an api_base query string, credentials in a URL, a key pasted where
# the variable's name goes.
WRONG_PLACE_STATE = f"""\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: in-the-url
    workspace: prod
    factory: OpenAI
    api_base: https://proxy.example/v1?api_key={LITERAL}
    api_key: {{env: CANARY_PRIMARY}}
    models: [gpt-4o]
  - name: in-the-userinfo
    workspace: prod
    factory: OpenAI
    api_base: https://user:{LITERAL}@proxy.example/v1
    api_key: {{env: CANARY_PRIMARY}}
    models: [gpt-4o]
  - name: as-the-name
    workspace: prod
    factory: OpenAI
    api_key: {{env: gsk_CANARY{TOKEN}literal}}
    models: [gpt-4o]
  - name: in-the-description
    workspace: prod
    factory: OpenAI
    description: "the key is {LITERAL}, rotate it soon"
    api_key: {{env: CANARY_PRIMARY}}
    labels_are_not_config_fields: {LITERAL}
    models: [gpt-4o]
"""


@dataclass
class Runs:
    """Every command run and everything it printed."""

    capsys: pytest.CaptureFixture[str]
    seen: list[tuple[str, int, str]] = field(default_factory=list)

    def __call__(self, *args: str, expect: int = 0) -> str:
        code = main(["--no-color", *args])
        captured = self.capsys.readouterr()
        output = captured.out + captured.err
        self.seen.append((" ".join(args), code, output))
        assert code == expect, f"llmform {' '.join(args)} -> {code}:\n{output}"
        return output


@pytest.fixture
def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Runs]:
    monkeypatch.chdir(tmp_path)  # the default store, .llmform/llmform.db, lands here
    monkeypatch.setenv("CANARY_PRIMARY", PRIMARY)
    monkeypatch.setenv("CANARY_BACKUP", BACKUP)
    monkeypatch.setenv("CANARY_REJECTED", REJECTED)
    monkeypatch.setenv("LLMFORM_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # searched like the rest
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0.01")
    monkeypatch.delenv("LLMFORM_STORE", raising=False)
    # A provider that quotes the whole rejected key back: llmform must not pass it on.
    quoting = openai_error(401, f"Incorrect API key provided: {REJECTED}.", None, "invalid_api_key")
    valid = {PRIMARY: "valid", BACKUP: "valid", ROTATED: "valid", REJECTED: quoting}
    with (
        ProviderServer("openai", valid, models=["gpt-4o"]) as openai,
        ProviderServer("deepseek", valid, models=["deepseek-chat"]) as deepseek,
    ):
        urls = {"openai": openai.api_base, "deepseek": deepseek.api_base}
        monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", " ".join(urls.values()))
        for name, text in (
            ("state", STATE.format(**urls)),
            ("policed", STATE.format(**urls) + POLICIES),
            ("leak", LITERAL_STATE),
            ("wrong-place", WRONG_PLACE_STATE),
            ("rejected", REJECTED_STATE.format(**urls)),
            ("untrusted", STATE.format(openai="http://127.0.0.1:9/v1", deepseek="http://[::1]:9")),
        ):
            (tmp_path / name).mkdir()
            (tmp_path / name / "llmform.yaml").write_text(text, encoding="utf-8")
        yield Runs(capsys)


def _leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


def _table_values(db: Path) -> Iterator[tuple[str, object]]:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"configs", "config_secrets", "audit_events", "meta", "locks"} <= set(tables)
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                for value in row:
                    yield table, value
    finally:
        conn.close()


def test_the_canary_appears_nowhere(
    run: Runs, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    run("validate", "state")
    planned = run("plan", "state")
    assert "(sensitive value)" in planned
    assert "Key checks: 4 keys of 2 configs, all passed." in planned
    run("plan", "--format", "markdown", "state")
    run("plan", "--format", "json", "state")
    run("init")
    run("plan", "-o", "prod.plan", "state")
    assert "(sensitive value)" in run("show", "prod.plan")  # a saved plan shown for review
    run("show", "--format", "markdown", "prod.plan")
    run("show", "--format", "json", "prod.plan")
    run("show", "--store", "sqlite:///nowhere/none.db", "prod.plan")  # unverified: warns
    run("apply", "--audit-file", "audit.jsonl", "prod.plan")  # a saved plan needs no approval
    assert "already applied" in run("apply", "--auto-approve", "prod.plan", expect=1)
    assert "already applied" in run("show", "prod.plan")  # shown, with apply's refusal ahead
    tampered = (tmp_path / "prod.plan").read_text().replace('"serial": 0', '"serial": 1')
    (tmp_path / "tampered.plan").write_text(tampered, encoding="utf-8")
    for command in (["apply"], ["show"], ["show", "--format", "json"]):
        assert "was modified" in run(*command, "tampered.plan", expect=1)

    # A rotated key: the plan says so without saying what either value is.
    os.environ["CANARY_PRIMARY"] = ROTATED  # restored by monkeypatch at teardown
    assert "(sensitive value changed)" in run("plan", "state")
    run("plan", "--format", "json", "state")
    run("plan", "--format", "markdown", "state")
    applied = run("apply", "--auto-approve", "--audit-file", "audit.jsonl", "state")
    head = applied.rpartition("Audit chain head: ")[2].split()[0]
    assert head.startswith("11:hmac-sha256:"), applied

    assert "env: CANARY_PRIMARY" in run("export")
    run("export", "-o", "exported.yaml")
    run("plan", "--detailed-exitcode", "exported.yaml")  # export -> plan: no changes
    run("audit")
    run("audit", "--json")
    run("audit", "--verify")
    assert "verified with it" in run(
        "audit", "--verify", "--head", head, "--audit-file", "audit.jsonl"
    )
    # An audit key too short, and two keys at once: refused without echoing either.
    os.environ["LLMFORM_AUDIT_KEY"] = TOKEN  # restored by monkeypatch at teardown
    assert "16 characters long" in run("apply", "--auto-approve", "state", expect=1)
    assert "16 characters long" in run("audit", "--verify", expect=1)
    os.environ["LLMFORM_AUDIT_KEY"] = AUDIT_KEY
    os.environ["LLMFORM_AUDIT_TRANSIT_KEY"] = f"transit-{TOKEN}"
    assert "not both" in run("audit", "--verify", expect=1)
    del os.environ["LLMFORM_AUDIT_TRANSIT_KEY"]

    # Without secret access (a fork's pull request): no value read, so none can be shown.
    for fmt in ("text", "markdown", "json"):
        assert "not compared" in run("plan", "--no-secrets", "--format", fmt, "state")
    run("plan", "--no-secrets", "-v", "-o", "fork.plan", "state")
    assert "--no-secrets" in run("apply", "--auto-approve", "fork.plan", expect=1)
    # Catalog factories at full length, and one vendor's catalog.
    run("plan", "--verbose", "--format", "markdown", "state")
    run("catalog", "OpenAI")

    # A store that does not exist yet is planned as new (its note, no file), a plan of it is
    # not saved, and a store others can read is warned about.
    assert "does not exist yet" in run("plan", "--store", "sqlite:///new/registry.db", "state")
    run("plan", "-o", "new.plan", "--store", "sqlite:///new/registry.db", "state", expect=1)
    assert not (tmp_path / "new").exists()
    (tmp_path / ".llmform" / "llmform.db").chmod(0o644)
    assert "chmod 600" in run("audit", "--verify")
    (tmp_path / ".llmform" / "llmform.db").chmod(0o600)

    # A key the provider rejects, quoting it: reported by slot, the quote redacted.
    for command in (["plan"], ["plan", "--format", "json"], ["apply", "--auto-approve"]):
        output = run(*command, "rejected", expect=1)
        assert "invalid key" in output, output

    # Endpoints nothing trusts: no key goes there, and what is said about them holds none.
    for command in (["plan"], ["plan", "--format", "markdown"], ["plan", "--format", "json"]):
        assert "not checked: endpoint not yet trusted" in run(*command, "untrusted")
    assert "not yet trusted" in run("apply", "--auto-approve", "untrusted", expect=1)

    # A literal key in the YAML is refused by every command, without being echoed; in markdown
    # and json the failed plan is still a document, listing the errors.
    for command in (
        ["validate"],
        ["plan"],
        ["plan", "--format", "json"],
        ["plan", "--format", "markdown"],
        ["apply", "--auto-approve"],
    ):
        output = run(*command, "leak", expect=1)
        assert "api_key" in output, output
    for command in (
        ["validate"],
        ["validate", "--format", "json"],
        ["plan"],
        ["plan", "--format", "json"],
        ["plan", "--format", "markdown"],
        ["apply", "--auto-approve"],
    ):
        output = run(*command, "wrong-place", expect=1)
        assert "(not shown)" in output, output

    # Settings that carry a key by mistake: refused, named, never quoted.
    trust = f"https://ci:{LITERAL}@llm.corp/v1"
    for command in (
        ["plan", "--trust-endpoint", trust, "state"],
        ["apply", "--auto-approve", "--trust-endpoint", trust, "state"],
    ):
        assert "(not shown: it may hold a secret)" in run(*command, expect=1)
    # a PostgreSQL URL is shown without its password
    assert "cannot open the store postgresql://llm@db.invalid/x: db.invalid:5432/x: " in run(
        "export", "--store", f"postgresql://llm:{LITERAL}@db.invalid/x", expect=1
    )

    # Policies judging the canary's configs: verdicts, evaluation errors, an override.
    assert "vault-only" in run("validate", "policed")
    for fmt in ("text", "markdown", "json"):
        assert "vault-only" in run("plan", "--format", fmt, "policed", expect=1)
    overridden = run(
        "apply",
        "--auto-approve",
        "--override-policy",
        "vault-only",
        "--reason",
        "canary",
        "policed",
    )
    assert "no field or key 'value'" in overridden
    run("audit", "--json")

    assert len(run.seen) >= 20
    for command, _, output in run.seen:
        assert not _leaks(output), f"llmform {command} printed the canary:\n{output}"
    for record in caplog.records:
        assert not _leaks(record.getMessage()), record
        assert not _leaks(repr(record.args)), record

    inputs = ("leak", "wrong-place")
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file() and p.parent.name not in inputs)
    names = {p.name for p in written}
    assert {"prod.plan", "fork.plan", "audit.jsonl", "exported.yaml", "llmform.db"} <= names
    assert "key-checks.json" in names
    assert '"mac": "' in (tmp_path / "prod.plan").read_text()
    for path in written:
        data = path.read_bytes()
        for needle in NEEDLES:
            assert needle.encode() not in data, f"{path} holds the canary"
            assert needle.encode("utf-16-le") not in data, f"{path} holds the canary (utf-16)"

    db = tmp_path / ".llmform" / "llmform.db"
    values = list(_table_values(db))
    assert any(table == "config_secrets" for table, _ in values)
    for table, value in values:
        text = value.hex() if isinstance(value, bytes) else str(value)
        assert not _leaks(text) and TOKEN.encode().hex() not in text, f"{table}: {value!r}"

    # destroy last (it empties the tables searched above): its plan, its audit events
    output = run("destroy", "--auto-approve", "--audit-file", "audit.jsonl")
    # the 5 resources of the state, and the 3 policies the policed apply put in force
    assert "Destroy complete! Resources: 8 destroyed." in output
    assert not _leaks(output) and not _leaks((tmp_path / "audit.jsonl").read_text())


def test_a_real_process_prints_no_canary_even_when_it_fails(run: Runs, tmp_path: Path) -> None:
    """The same through a real ``llmform`` process: its whole stdout and stderr, on success,
    on a literal key and on a secret that cannot be resolved."""
    env = {**os.environ, "NO_COLOR": "1", "LLMFORM_DEBUG": "1"}
    cases = [
        (["plan", "--format", "json", "state"], 0),
        (["apply", "--auto-approve", "state"], 0),
        (["plan", "--check-cache-ttl", "0", "rejected"], 1),
        (["plan", "leak"], 1),
        (["plan", "--format", "json", "leak"], 1),
        (["validate", "leak"], 1),
    ]
    for args, expected in cases:
        done = subprocess.run(
            [sys.executable, "-m", "llmform.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == expected, (args, done.stdout, done.stderr)
        assert not _leaks(done.stdout + done.stderr), (args, done.stdout, done.stderr)

    # One key missing: the error names the reference and the configs using it, not the others'
    # values.
    del env["CANARY_BACKUP"]
    done = subprocess.run(
        [sys.executable, "-m", "llmform.cli", "plan", "state"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "CANARY_BACKUP" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not _leaks(done.stdout + done.stderr), done.stderr
    for fmt in ("json", "markdown"):  # the error document names it too, and nothing else
        done = subprocess.run(
            [sys.executable, "-m", "llmform.cli", "plan", "--format", fmt, "state"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1
        assert "CANARY" in done.stdout and "Traceback" not in done.stderr, done.stdout
        assert not _leaks(done.stdout + done.stderr), done.stdout


# -- a key with a trailing newline, a provider that echoes, a Vault that echoes ----------------

ECHOED = f"gsk_CANARY_{TOKEN}_echoed"  # no heuristic for key-looking words catches this one
NEWLINE = f"sk-CANARY-{TOKEN}-newline\n"
SECRET_ID = f"sid-CANARY-{TOKEN}"
# the random part, whole and in every 8 characters of it, and the marker
PIECES = (*NEEDLES, "CANARY", *(TOKEN[i : i + 8] for i in range(len(TOKEN) - 7)))

ECHO_STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: echoed
    workspace: prod
    factory: OpenAI
    api_base: {openai}
    api_key: {{env: ECHOED_KEY}}
    models: [gpt-4o]
"""

NEWLINE_STATE = ECHO_STATE.replace("ECHOED_KEY", "NEWLINE_KEY")
VAULT_STATE = ECHO_STATE.replace("{{env: ECHOED_KEY}}", '{{vault: "secret/llm#api_key"}}')


def _pieces(text: str) -> list[str]:
    return [piece for piece in PIECES if piece in text]


def test_the_canary_survives_echoes_newlines_and_vault(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from support.fake_vault import echo, fake_vault

    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LLMFORM_CHECK_BACKOFF", "0.01")
    monkeypatch.delenv("LLMFORM_STORE", raising=False)
    monkeypatch.setenv("ECHOED_KEY", ECHOED)
    monkeypatch.setenv("NEWLINE_KEY", NEWLINE)
    run = Runs(capsys)
    with (
        ProviderServer("openai", {ECHOED: "echo"}, models=["gpt-4o"]) as openai,
        fake_vault() as vault,
    ):
        monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", openai.url)
        for name, text in (
            ("echo", ECHO_STATE),
            ("newline", NEWLINE_STATE),
            ("vault", VAULT_STATE),
        ):
            (tmp_path / name).mkdir()
            (tmp_path / name / "llmform.yaml").write_text(text.format(openai=openai.api_base))

        # A provider quoting the key every way (whole, escaped, base64, in pieces, past the
        # 300th character): every format, a refused plan -o, a refused apply.
        for fmt in ("text", "markdown", "json"):
            assert "invalid key" in run("plan", "--format", fmt, "echo", expect=1)
        run("plan", "--check-cache-ttl", "0", "-o", "echo.plan", "echo", expect=1)
        run("apply", "--auto-approve", "--audit-file", "audit.jsonl", "echo", expect=1)
        # applied without checks, so that the store and the audit trail hold its traces
        run("apply", "--auto-approve", "--no-validate-keys", "--audit-file", "audit.jsonl", "echo")
        run("audit")
        run("audit", "--json")
        run("plan", "-o", "later.plan", "--no-validate-keys", "echo")

        # A key with a trailing newline: refused when resolved, in every command.
        for command in (["plan"], ["plan", "--format", "json"], ["apply", "--auto-approve"]):
            output = run(*command, "newline", expect=1)
            assert "environment variable NEWLINE_KEY ends with a line break (LF)" in output

        # A Vault that quotes the AppRole login request, secret_id and all.
        monkeypatch.setenv("VAULT_ADDR", vault.url)
        monkeypatch.setenv("LLMFORM_VAULT_AUTH", "approle")
        monkeypatch.setenv("LLMFORM_VAULT_ROLE_ID", "role-1")
        monkeypatch.setenv("LLMFORM_VAULT_SECRET_ID", SECRET_ID)
        vault.route("/v1/auth/approle/login", echo(400))
        for fmt in ("text", "json"):
            output = run("plan", "--format", fmt, "vault", expect=1)
            assert "Vault refused the approle login at auth/approle: invalid request" in output
        vault.route("/v1/auth/approle/login", echo(500))
        assert "HTTP 500" in run("plan", "vault", expect=1)
        # A credential pasted into VAULT_ADDR, which every Vault message names: refused.
        monkeypatch.setenv("VAULT_ADDR", vault.url.replace("://", f"://ci:{SECRET_ID}@"))
        assert "VAULT_ADDR must be the server's address only" in run("plan", "vault", expect=1)

    assert [r for r in openai.requests if r.key == ECHOED]  # the echo really happened
    for command, _, output in run.seen:
        assert not _pieces(output), f"llmform {command} printed the canary:\n{output}"
    for record in caplog.records:
        assert not _pieces(record.getMessage() + repr(record.args)), record
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".yaml"]
    names = {p.name for p in written}
    assert {"later.plan", "audit.jsonl", "llmform.db", "key-checks.json"} <= names
    assert "echo.plan" not in names  # a plan whose key failed is not saved
    for path in written:
        data = path.read_bytes().decode("utf-8", "replace")
        assert not _pieces(data), f"{path} holds the canary"
    for table, value in _table_values(tmp_path / ".llmform" / "llmform.db"):
        text = value.hex() if isinstance(value, bytes) else str(value)
        assert not _pieces(text), f"{table}: {value!r}"


def test_a_debug_traceback_masks_the_secrets_the_run_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """LLMFORM_DEBUG=1 prints an internal error's traceback, and an exception's text may quote
    a request (httpx's "Illegal header value b'Bearer sk-...'"): masked like any output."""
    from llmform.engine import plan_run
    from llmform.secrets.base import SecretValue

    held = SecretValue(PRIMARY)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"Illegal header value b'Bearer {held.reveal()}'")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_DEBUG", "1")
    monkeypatch.setattr(plan_run, "loading_state", crash)
    assert main(["plan", "."]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "Illegal header value b'Bearer [key]'" in err, err
    assert "internal error (RuntimeError)" in err and not _leaks(err), err
