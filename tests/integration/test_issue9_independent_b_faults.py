"""Issue 9, item 11 (first half), from the issue's words: no internal error for a Vault 500, a
non-ASCII key, an unwritable --audit-file (the apply committed: say so, exit non-zero, lose no
event), a database in a read-only directory or on a full disk. Each case is a clear error and,
where nothing may change, the files are byte-for-byte as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from baoserver import BaoServer
from support.cli import run
from support.issue9b import LLMFORM, WITHOUT_ROOT_OVERRIDES, isolate, llmform, state, tree, url
from support.provider_servers import ProviderServer

KEY = "sk-valid-0123456789abcdefABCDEF"
TOKEN = "hvs.CAESIgoodtoken0123456789abcdefXYZ"


class FaultyVault:
    """An HTTP server at VAULT_ADDR that answers every request with one status and body (the
    body may quote the request's headers and body, as a careless proxy does). A real Vault
    cannot be made to answer 500 on demand."""

    def __init__(self, status: int, body: str, content_type: str = "application/json") -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                sent = self.rfile.read(length).decode(errors="replace")
                outer.requests.append(self.path)
                body = outer.body.replace("{headers}", json.dumps(dict(self.headers)))
                body = body.replace("{body}", json.dumps(sent))
                data = body.encode()
                self.send_response(outer.status)
                self.send_header("content-type", outer.content_type)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_LIST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultyVault:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


VAULT_STATE = (
    "apiVersion: llmform/v1\n"
    "workspaces: [{name: w}]\n"
    "configs:\n"
    "  - name: c\n"
    "    workspace: w\n"
    "    factory: OpenAI\n"
    '    api_key: {vault: "secret/llm/openai#api_key"}\n'
    "    models: [gpt-4o-mini]\n"
)

VAULT_500_BODIES = {
    "json": ('{"errors":["internal error"]}', "application/json"),
    "quoting": ('{"errors":["bad request, headers were {headers}"]}', "application/json"),
    "html": ("<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html"),
    "empty": ("", "text/plain"),
}


@pytest.fixture
def faulty_vault(request: pytest.FixtureRequest) -> Iterator[FaultyVault]:
    body, kind = VAULT_500_BODIES[request.param]
    with FaultyVault(500, body, kind) as vault:
        yield vault


@pytest.mark.parametrize("faulty_vault", sorted(VAULT_500_BODIES), indirect=True)
@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_vault_500_at_plan_is_a_clear_error(
    faulty_vault: FaultyVault,
    fmt: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("VAULT_ADDR", faulty_vault.addr)
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    monkeypatch.setenv("VAULT_MAX_RETRIES", "0")
    (tmp_path / "s.yaml").write_text(VAULT_STATE)
    code, out, err = run(capsys, "plan", "--format", fmt, "--no-validate-keys", "s.yaml")
    assert code == 1
    assert faulty_vault.requests, "Vault was never asked"
    assert TOKEN not in out + err and TOKEN[4:24] not in out + err
    said = err if fmt == "text" else out
    assert "500" in said and "vault" in said.lower(), said
    if fmt == "json":
        document = json.loads(out)
        assert document["changes"] == [] and document["errors"]
    if fmt == "markdown":
        assert "Plan failed" in out
    assert not (tmp_path / ".llmform").exists()


def test_vault_500_at_apply_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    (tmp_path / "s.yaml").write_text(VAULT_STATE)
    store = tmp_path / "reg.db"
    assert run(capsys, "init", "--store", url(store))[0] == 0
    before = tree(tmp_path)
    with FaultyVault(500, VAULT_500_BODIES["quoting"][0]) as vault:
        monkeypatch.setenv("VAULT_ADDR", vault.addr)
        monkeypatch.setenv("VAULT_TOKEN", TOKEN)
        code, out, err = run(capsys, "apply", "--auto-approve", "--store", url(store), "s.yaml")
    assert code == 1 and "500" in err
    assert TOKEN not in out + err
    assert tree(tmp_path) == before


def test_vault_500_to_an_approle_login_quoting_the_secret_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    secret_id = "9f1c2d3e-4b5a-6789-abcd-ef0123456789"
    with FaultyVault(500, '{"errors":["cannot log in with {body}"]}') as vault:
        monkeypatch.setenv("VAULT_ADDR", vault.addr)
        monkeypatch.setenv("LLMFORM_VAULT_AUTH", "approle")
        monkeypatch.setenv("LLMFORM_VAULT_ROLE_ID", "role-1")
        monkeypatch.setenv("LLMFORM_VAULT_SECRET_ID", secret_id)
        (tmp_path / "s.yaml").write_text(VAULT_STATE)
        code, out, err = run(capsys, "plan", "--no-validate-keys", "s.yaml")
    assert code == 1 and "500" in err
    assert secret_id not in out + err and secret_id[:18] not in out + err


# -- a key that is not ASCII ------------------------------------------------------------------

NON_ASCII = [
    "sk-tëst0123456789abcdefABCDEF",
    "sk-test0123456789abcdef\u00a0",
    "кей-0123456789abcdef",
]


@pytest.mark.parametrize("value", NON_ASCII)
@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_non_ascii_key_from_the_environment(
    value: str,
    fmt: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    with ProviderServer("openai-compatible", {value: "valid"}, models=["m1"]) as server:
        (tmp_path / "s.yaml").write_text(state(server.api_base))
        monkeypatch.setenv("LLMFORM_TEST_KEY", value)
        code, out, err = run(
            capsys, "plan", "--format", fmt, "--trust-endpoint", server.api_base, "s.yaml"
        )
    assert code == 1
    said = err if fmt == "text" else out
    if fmt == "markdown":
        said = said.replace("\\_", "_")
    assert "LLMFORM_TEST_KEY" in said and "api_key" in said, said
    assert re.search("ASCII|character|whitespace", said), said
    assert value[5:] not in out + err
    assert server.requests == []  # refused before anything is sent


def test_non_ascii_backup_key_is_named_by_its_slot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    extra = "    backup_keys: [{env: LLMFORM_BACKUP_KEY}]\n"
    (tmp_path / "s.yaml").write_text(state("http://127.0.0.1:9/v1", extra=extra))
    monkeypatch.setenv("LLMFORM_TEST_KEY", KEY)
    monkeypatch.setenv("LLMFORM_BACKUP_KEY", "sk-bäckup0123456789abcdef")
    code, out, err = run(capsys, "plan", "--no-validate-keys", "s.yaml")
    assert code == 1
    assert "LLMFORM_BACKUP_KEY" in err and "backup_keys[0]" in err
    assert "ckup0123456789abcdef" not in out + err


def test_non_ascii_key_at_apply_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    (tmp_path / "s.yaml").write_text(state("http://127.0.0.1:9/v1"))
    monkeypatch.setenv("LLMFORM_TEST_KEY", NON_ASCII[0])
    code, _out, err = run(capsys, "apply", "--auto-approve", "--no-validate-keys", "s.yaml")
    assert code == 1 and "LLMFORM_TEST_KEY" in err
    assert not (tmp_path / ".llmform").exists()


def test_non_ascii_key_from_vault(
    bao: BaoServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    mount = bao.kv_mount(2)
    bao.put(mount, "llm/openai", {"api_key": "sk-vaültkey0123456789abcdef"})
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    monkeypatch.setenv("VAULT_TOKEN", bao.token())
    (tmp_path / "s.yaml").write_text(VAULT_STATE.replace("secret/", f"{mount}/"))
    code, out, err = run(capsys, "plan", "--no-validate-keys", "s.yaml")
    assert code == 1
    assert f"vault:{mount}/llm/openai#api_key" in err or "llm/openai" in err
    assert "ltkey0123456789abcdef" not in out + err


@pytest.mark.parametrize("token", ["hvs.tökén0123456789", "hvs.token\u20ac0123456789"])
def test_non_ascii_vault_token_is_refused_by_name(
    token: str,
    bao: BaoServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    monkeypatch.setenv("VAULT_TOKEN", token)
    (tmp_path / "s.yaml").write_text(VAULT_STATE)
    code, out, err = run(capsys, "plan", "--no-validate-keys", "s.yaml")
    assert code == 1 and "VAULT_TOKEN" in err
    assert token[4:] not in out + err


# -- an --audit-file that cannot be written -----------------------------------------------------


def applied(tmp_path: Path, capsys: pytest.CaptureFixture[str], configs: int = 1) -> Path:
    """A store with one applied run of ``configs`` configs (keys from the environment, not
    checked), and the state file to change it: s.yaml."""
    store = tmp_path / "reg.db"
    os.environ["LLMFORM_TEST_KEY"] = KEY
    (tmp_path / "s.yaml").write_text(many_configs(configs))
    code, _out, err = run(
        capsys,
        "apply",
        "--auto-approve",
        "--no-validate-keys",
        "--store",
        url(store),
        str(tmp_path / "s.yaml"),
    )
    assert code == 0, err
    return store


def many_configs(n: int, description: str = "") -> str:
    configs = "".join(
        f"  - name: c{i}\n    workspace: w\n    factory: OpenAI\n"
        f"    description: '{description}'\n"
        "    api_key: {env: LLMFORM_TEST_KEY}\n    models: [gpt-4o-mini]\n"
        for i in range(n)
    )
    return f"apiVersion: llmform/v1\nworkspaces: [{{name: w}}]\nconfigs:\n{configs}"


@pytest.mark.parametrize("where", ["missing-dir", "a-directory", "dangling-link"])
def test_unwritable_audit_file_stops_apply_before_anything_changes(
    where: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    store = applied(tmp_path, capsys)
    target = {
        "missing-dir": tmp_path / "no" / "such" / "audit.jsonl",
        "a-directory": tmp_path / "adir",
        "dangling-link": tmp_path / "link.jsonl",
    }[where]
    if where == "a-directory":
        target.mkdir()
    if where == "dangling-link":
        target.symlink_to(tmp_path / "elsewhere.jsonl")
    (tmp_path / "s.yaml").write_text(many_configs(2))
    before = tree(tmp_path)
    code, _out, err = run(
        capsys,
        "apply",
        "--auto-approve",
        "--no-validate-keys",
        "--audit-file",
        str(target),
        "--store",
        url(store),
        "s.yaml",
    )
    assert code in (1, 2)  # 2: click's usage error for a directory
    assert target.name in err
    assert tree(tmp_path) == before


def test_unwritable_audit_file_in_a_read_only_directory(tmp_path: Path) -> None:
    os.environ["LLMFORM_TEST_KEY"] = KEY
    (tmp_path / "s.yaml").write_text(many_configs(1))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    store = tmp_path / "reg.db"
    result = llmform(
        "apply",
        "--auto-approve",
        "--no-validate-keys",
        "--audit-file",
        str(ro / "audit.jsonl"),
        "--store",
        url(store),
        "s.yaml",
        cwd=tmp_path,
        env={"LLMFORM_TEST_KEY": KEY},
        prefix=WITHOUT_ROOT_OVERRIDES,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "audit.jsonl" in result.stderr
    assert not store.exists() and list(ro.iterdir()) == []


def limit_file_size(size: int) -> None:
    """In the child: files may grow to ``size`` bytes and no further (EFBIG, as a full disk
    fails a write), without the signal that would kill the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def run_limited(args: list[str], cwd: Path, size: int) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "LLMFORM_AUDIT", "VAULT_"))
    }
    environment.update(LLMFORM_TEST_KEY=KEY, LLMFORM_CHECK_BACKOFF="0")
    result = subprocess.run(
        [LLMFORM, "--no-color", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: limit_file_size(size),
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in result.stdout + result.stderr
    return result


def test_audit_file_failing_after_the_commit_says_so_and_loses_no_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    store = applied(tmp_path, capsys, configs=3)
    copy = tmp_path / "audit.jsonl"
    # the copy already holds 2 MB of earlier events: the store (well under that) can still be
    # written, the copy cannot grow
    first = run(capsys, "audit", "--json", "--store", url(store))[1]
    padding = first * (2_000_000 // len(first) + 1)
    copy.write_text(padding)
    copy.chmod(0o600)
    (tmp_path / "s.yaml").write_text(many_configs(5))
    result = run_limited(
        [
            "apply",
            "--auto-approve",
            "--no-validate-keys",
            "--audit-file",
            str(copy),
            "--store",
            url(store),
            "s.yaml",
        ],
        tmp_path,
        size=len(padding.encode()) + 10,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr
    assert re.search(r"commit", err, re.I) and "serial 2" in err, err
    assert "llmform audit --json" in err, err
    # nothing half-written is left in the copy: every line is a whole event
    assert copy.read_text().startswith(padding)
    assert all(json.loads(line) for line in copy.read_text().splitlines())
    events = [
        json.loads(line)
        for line in run(capsys, "audit", "--json", "--store", url(store))[1].splitlines()
    ]
    runs = {e.get("run_id") or e.get("run") for e in events}
    assert len(runs) == 2 and len(events) == 7 + 4  # the second run's events are all kept
    # the command apply gave writes the missing events to the copy, from the store
    command = next(line.strip() for line in err.splitlines() if "llmform audit --json" in line)
    command = command[command.index("llmform audit --json") :].rstrip("`'\". ")
    subprocess.run(["bash", "-c", command.replace("llmform", LLMFORM, 1)], cwd=tmp_path, check=True)
    assert copy.read_text().count("\n") == padding.count("\n") + 4
    assert all(json.loads(line) for line in copy.read_text().splitlines())


def test_audit_file_on_a_full_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    store = applied(tmp_path, capsys)
    (tmp_path / "s.yaml").write_text(many_configs(2))
    before = store.read_bytes()
    code, _out, err = run(
        capsys,
        "apply",
        "--auto-approve",
        "--no-validate-keys",
        "--audit-file",
        "/dev/full",
        "--store",
        url(store),
        "s.yaml",
    )
    assert code == 1
    assert "/dev/full" in err
    if store.read_bytes() != before:  # written after the commit: said, and kept in the store
        assert re.search("commit", err, re.I) and "llmform audit --json" in err


def test_destroy_with_an_unwritable_audit_file_deletes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    store = applied(tmp_path, capsys)
    before = store.read_bytes()
    code, _out, err = run(
        capsys,
        "destroy",
        "--auto-approve",
        "--audit-file",
        str(tmp_path / "missing" / "audit.jsonl"),
        "--store",
        url(store),
    )
    assert code == 1 and "audit.jsonl" in err
    assert store.read_bytes() == before


# -- a database in a read-only directory, or on a full disk ------------------------------------


def test_store_in_a_read_only_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    store = applied(data, capsys)
    (data / "s.yaml").write_text(many_configs(2))
    data.chmod(0o555)
    before = tree(data)
    try:
        apply = llmform(
            "apply",
            "--auto-approve",
            "--no-validate-keys",
            "--store",
            url(store),
            "s.yaml",
            cwd=data,
            env={"LLMFORM_TEST_KEY": KEY},
            prefix=WITHOUT_ROOT_OVERRIDES,
        )
        assert apply.returncode == 1
        assert str(data) in apply.stderr or "reg.db" in apply.stderr
        assert re.search(r"nothing (was )?changed|unchanged|no change", apply.stderr, re.I)
        for command in (
            ["plan", "--no-validate-keys", "s.yaml"],
            ["export"],
            ["audit"],
            ["audit", "--verify"],
        ):
            result = llmform(
                *command,
                "--store",
                url(store),
                cwd=data,
                env={"LLMFORM_TEST_KEY": KEY},
                prefix=WITHOUT_ROOT_OVERRIDES,
            )
            assert result.returncode in (0, 2), (command, result.stderr)
        assert tree(data) == before
    finally:
        data.chmod(0o755)


def dump(store: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        return list(db.iterdump())


def test_new_store_in_a_read_only_directory_creates_nothing(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    (tmp_path / "s.yaml").write_text(many_configs(1))
    ro.chmod(0o555)
    for store in (ro / "reg.db", ro / "sub" / "reg.db"):
        result = llmform(
            "apply",
            "--auto-approve",
            "--no-validate-keys",
            "--store",
            url(store),
            "s.yaml",
            cwd=tmp_path,
            env={"LLMFORM_TEST_KEY": KEY},
            prefix=WITHOUT_ROOT_OVERRIDES,
        )
        assert result.returncode == 1
        assert str(ro) in result.stderr
        assert list(ro.iterdir()) == []


@pytest.mark.parametrize("configs", [50, 400])
def test_full_disk_during_apply_rolls_back_and_says_so(
    configs: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate(monkeypatch, tmp_path)
    store = applied(tmp_path, capsys)
    (tmp_path / "s.yaml").write_text(many_configs(configs, description="x" * 200))
    before = tree(tmp_path)
    dump_before = dump(store)
    result = run_limited(
        ["apply", "--auto-approve", "--no-validate-keys", "--store", url(store), "s.yaml"],
        tmp_path,
        size=store.stat().st_size + 4096,
    )
    assert result.returncode == 1, result.stdout
    assert re.search(r"disk|space|full|too large|write", result.stderr, re.I), result.stderr
    assert re.search(r"nothing (was )?changed|unchanged|rolled back", result.stderr, re.I)
    # the lock was taken (and released) before the transaction that failed, so the file's
    # header counters moved; what it holds is what it held
    assert set(tree(tmp_path)) == set(before)
    assert dump(store) == dump_before


def test_full_disk_while_creating_a_store_leaves_no_file(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(many_configs(300, description="y" * 300))
    before = tree(tmp_path)
    result = run_limited(
        [
            "apply",
            "--auto-approve",
            "--no-validate-keys",
            "--store",
            url(tmp_path / "new" / "reg.db"),
            "s.yaml",
        ],
        tmp_path,
        size=20_000,
    )
    assert result.returncode == 1
    assert tree(tmp_path) == before
