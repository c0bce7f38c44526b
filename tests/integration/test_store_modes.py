"""Which commands may create a store, and opening one read-only (issue 9, item 3).

A typo in --store must never create a new empty store: only init and apply create one; plan
against a missing store says so and plans creates, writing nothing; the commands that only read
fail with "no store at URL". A path or a URL with too few slashes is refused with the URL that
was meant. A read-only registry file or directory can still be planned, exported and verified.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.provider_servers import ProviderServer
from support.store_db import snapshot
from support.stores import OFFLINE, cli, cli_as_user, dump, listing, serial, write_state

NOTE = "The store {url} does not exist yet; apply will create it."


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMFORM_STORE", raising=False)
    write_state(tmp_path)
    return tmp_path


STORES = {
    "the default": (None, ".llmform/llmform.db"),
    "a typo in a new directory": ("sqlite:///typo/dir/registry.db", "typo/dir/registry.db"),
}

READERS = {
    "export": ["export"],
    "export -o": ["export", "-o", "exported.yaml"],
    "audit": ["audit"],
    "audit --json": ["audit", "--json"],
    "audit --verify": ["audit", "--verify"],
    "force-unlock": ["force-unlock", "3f2a9c1b7d4e"],
}


@pytest.mark.parametrize("store", STORES, ids=str)
@pytest.mark.parametrize("command", READERS, ids=str)
def test_commands_that_read_fail_on_a_missing_store_and_create_nothing(
    here: Path, capsys: pytest.CaptureFixture[str], command: str, store: str
) -> None:
    url, path = STORES[store]
    before = listing(here)
    args = [*READERS[command], *(["--store", url] if url else [])]
    code, _, err = cli(capsys, *args)
    shown = url or "sqlite:///.llmform/llmform.db"
    assert code == 1
    assert err.startswith(f"error: no store at {shown} (the file {path} does not exist"), err
    assert f"create it with: llmform init --store {shown}" in err
    assert listing(here) == before


@pytest.mark.parametrize("store", STORES, ids=str)
def test_destroy_creates_no_store_and_says_there_is_nothing_to_destroy(
    here: Path, capsys: pytest.CaptureFixture[str], store: str
) -> None:
    url, _ = STORES[store]
    before = listing(here)
    args = ["destroy", "--auto-approve", *(["--store", url] if url else [])]
    code, out, _ = cli(capsys, *args)
    shown = url or "sqlite:///.llmform/llmform.db"
    assert (code, out) == (0, f"Nothing to destroy: there is no store at {shown}.\n")
    assert listing(here) == before


EMPTY_FILE_IS_NO_STORE = {
    **READERS,
    "destroy": ["destroy", "--auto-approve"],
    "apply PLANFILE": ["apply", OFFLINE, "elsewhere.plan"],
    "plan": ["plan", OFFLINE],
}


@pytest.mark.parametrize("command", EMPTY_FILE_IS_NO_STORE, ids=str)
def test_an_empty_file_is_no_store_and_only_init_and_apply_make_it_one(
    here: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """A file made by ``touch`` (or a copy that failed) is an empty SQLite database: the
    commands that may not create a store must not turn it into one."""
    other = "sqlite:///elsewhere.db"
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", other)[0] == 0
    assert cli(capsys, "plan", OFFLINE, "-o", "elsewhere.plan", "--store", other)[0] == 0
    (here / "empty.db").touch()
    url = "sqlite:///empty.db"
    code, out, err = cli(capsys, *EMPTY_FILE_IS_NO_STORE[command], "--store", url)
    if command == "plan":
        assert code == 0 and NOTE.format(url=url) in out
    elif command == "destroy":
        assert (code, out) == (0, f"Nothing to destroy: there is no store at {url}.\n")
    else:
        assert code == 1
        assert f"no store at {url}" in err
    assert (here / "empty.db").stat().st_size == 0


@pytest.mark.parametrize("command", ["init", "apply"])
def test_init_and_apply_make_an_empty_file_a_store(
    here: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    (here / "empty.db").touch()
    args = ["init"] if command == "init" else ["apply", OFFLINE, "--auto-approve"]
    code, out, _ = cli(capsys, *args, "--store", "sqlite:///empty.db")
    assert code == 0
    if command == "init":  # it did change the file: not "exists already; nothing was changed"
        assert out == "Created the store sqlite:///empty.db (empty, serial 0).\n"
    assert serial(here / "empty.db") == (0 if command == "init" else 1)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
@pytest.mark.parametrize("store", STORES, ids=str)
def test_plan_against_a_missing_store_says_so_plans_creates_and_writes_nothing(
    here: Path, capsys: pytest.CaptureFixture[str], fmt: str, store: str
) -> None:
    url, _ = STORES[store]
    before = listing(here)
    args = [
        "plan",
        OFFLINE,
        "--format",
        fmt,
        "--detailed-exitcode",
        *(["--store", url] if url else []),
    ]
    code, out, _ = cli(capsys, *args)
    assert code == 2
    note = NOTE.format(url=url or "sqlite:///.llmform/llmform.db")
    if fmt == "json":
        document = json.loads(out)
        assert note in document["warnings"]
        assert [c["actions"] for c in document["changes"]] == [["create"]] * 3
    else:
        assert note in out
        assert "3 to add, 0 to change, 0 to destroy" in out
    assert listing(here) == before


def test_a_plan_against_a_missing_store_is_not_saved(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = listing(here)
    code, out, err = cli(capsys, "plan", OFFLINE, "-o", "new.plan")
    assert code == 1
    assert "Plan: 3 to add" in out  # shown, not saved
    assert "the plan was not saved: the store sqlite:///.llmform/llmform.db does not exist" in err
    assert "llmform init --store sqlite:///.llmform/llmform.db" in err
    assert listing(here) == before

    # after init it can be saved, and applied as saved
    assert cli(capsys, "init")[0] == 0
    assert cli(capsys, "plan", OFFLINE, "-o", "new.plan")[0] == 0
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "new.plan")[0] == 0
    assert serial(here / ".llmform/llmform.db") == 1


@pytest.fixture()
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077], indirect=True, ids=oct)
@pytest.mark.parametrize("command", ["apply", "init"])
def test_apply_and_init_create_the_store_owner_only_whatever_the_umask(
    here: Path, capsys: pytest.CaptureFixture[str], umask: int, command: str
) -> None:
    url = "sqlite:///deep/er/registry.db"
    args = ["apply", OFFLINE, "--auto-approve"] if command == "apply" else ["init"]
    code, out, _ = cli(capsys, *args, "--store", url)
    assert code == 0
    modes = {path: stat.S_IMODE(mode) for path, mode in listing(here).items()}
    assert modes == {
        "deep": 0o700,
        "deep/er": 0o700,
        "deep/er/registry.db": 0o600,
        "llmform.yaml": modes["llmform.yaml"],
    }
    assert serial(here / "deep/er/registry.db") == (1 if command == "apply" else 0)
    if command == "apply":
        assert NOTE.format(url=url) in out  # shown before the prompt a person would answer


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_cancelled_apply_creates_no_store(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = listing(here)
    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    code, out, err = cli(capsys, "apply", OFFLINE, "--store", "sqlite:///typo/registry.db")
    assert code == 1
    assert NOTE.format(url="sqlite:///typo/registry.db") in out
    assert "apply cancelled; nothing was changed" in err
    assert listing(here) == before


def test_a_failed_apply_creates_no_store(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "llmform.yaml").write_text(
        (here / "llmform.yaml")
        .read_text()
        .replace("factory: Ollama", "factory: DeepSeek\n    api_key: {env: LLMFORM_UNSET_KEY}")
    )
    before = listing(here)
    code, _, err = cli(capsys, "apply", OFFLINE, "--auto-approve")
    assert code == 1
    assert "cannot resolve secrets" in err
    assert listing(here) == before


def test_init_creates_an_empty_store_once(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "init")
    assert (code, out) == (
        0,
        "Created the store sqlite:///.llmform/llmform.db (empty, serial 0).\n",
    )
    db = here / ".llmform/llmform.db"
    assert cli(capsys, "audit", "--verify")[1].startswith("Audit trail empty")
    assert cli(capsys, "apply", OFFLINE, "--auto-approve")[0] == 0
    content = db.read_bytes()
    code, out, _ = cli(capsys, "init")
    assert code == 0
    assert out == (
        "The store sqlite:///.llmform/llmform.db exists already (serial 1); nothing was changed.\n"
    )
    assert db.read_bytes() == content


BAD_URLS = {
    "./my.db": "'./my.db' is a path, not a store URL; write 'sqlite:///./my.db'",
    "my.db": "'my.db' is a path, not a store URL; write 'sqlite:///my.db'",
    "/abs/my.db": "'/abs/my.db' is a path, not a store URL; write 'sqlite:////abs/my.db'",
    "sqlite://my.db": "'sqlite://my.db' is not a SQLite store URL: it needs three slashes before "
    "a relative path and four before an absolute one; write 'sqlite:///my.db'",
    "sqlite://./my.db": "write 'sqlite:///./my.db'",
    "sqlite:my.db": "write 'sqlite:///my.db'",
    "sqlite:/abs/my.db": "write 'sqlite:////abs/my.db'",
    "sqlite:///": "'sqlite:///' names no file",
    "sqlite:///:memory:": "'sqlite:///:memory:' does not name a file",
    "": "the store URL is empty",
    "mysql://db/llm": "unsupported store URL scheme 'mysql'",
    # a near miss of the scheme: the URL meant, not "unsupported scheme"
    "SQLite:///my.db": "'SQLite:///my.db' is not a store URL llmform reads; write "
    "'sqlite:///my.db'",
    "SQLITE://my.db": "write 'sqlite:///my.db'",
    "sqlite3:///my.db": "write 'sqlite:///my.db'",
    "sqlite+pysqlite:////abs/my.db": "write 'sqlite:////abs/my.db'",
    "file:///abs/my.db": "write 'sqlite:////abs/my.db'",
    "file:my.db": "write 'sqlite:///my.db'",
    # what would name another file than the one meant
    "sqlite:///my.db ": "the store URL 'sqlite:///my.db ' has spaces around it, which would "
    "name another file; write 'sqlite:///my.db'",
    "sqlite:///my.db?mode=ro": "'sqlite:///my.db?mode=ro': a store URL takes no query or "
    "fragment (llmform opens the file as it needs); write 'sqlite:///my.db'",
    "sqlite:///my.db#x": "write 'sqlite:///my.db'",
    "sqlite:///a\nerror: b.db": "the store URL 'sqlite:///a\\x0aerror: b.db' holds a line break "
    "or control character",
    "sqlite:///\x1b[2Jmy.db": "the store URL 'sqlite:///\\x1b[2Jmy.db' holds a line break",
    "sqlite:///~/my.db": "'sqlite:///~/my.db': '~' is not expanded in a store URL (it would "
    f"name a folder called '~'); write 'sqlite:///{os.path.expanduser('~/my.db')}'",
    # a database URL carries its password: never quoted back
    "mysql://llm:hunter2-CANARY@db/llm": "unsupported store URL scheme 'mysql' in "
    "(the URL, not shown: it may hold a password); use one of mlflow+http://, mlflow+https://, "
    "postgres://, postgresql://, sqlite://",
    # a PostgreSQL URL is shown without its password
    "postgresql://llm:hunter2-CANARY@db.invalid/llm": "postgresql://llm@db.invalid/llm: "
    "db.invalid:5432/llm: failed to resolve host",
    "sqlite://ci:hunter2-CANARY@/srv/llm.db": "(the URL, not shown: it may hold a password) is "
    "not a SQLite store URL",
    "sqlite:///srv/llm.db?password=hunter2-CANARY": "(the URL, not shown: it may hold a "
    "password): a store URL takes no query",
}

URL_COMMANDS = {
    "init": ["init"],
    "plan": ["plan", OFFLINE],
    "apply": ["apply", OFFLINE, "--auto-approve"],
    "export": ["export"],
    "audit": ["audit"],
    "audit --verify": ["audit", "--verify"],
    "force-unlock": ["force-unlock", "3f2a9c1b7d4e"],
    "destroy": ["destroy", "--auto-approve"],
}


@pytest.mark.parametrize("command", URL_COMMANDS)
@pytest.mark.parametrize(
    ("url", "how"),
    [
        (url, how)
        for url in BAD_URLS
        for how in ("--store", "LLMFORM_STORE")
        if url or how == "--store"  # an empty LLMFORM_STORE is an unset one
    ],
    ids=repr,
)
def test_a_store_url_that_is_not_one_is_refused_with_the_url_meant(
    here: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    how: str,
    command: str,
) -> None:
    before = listing(here)
    args_of_command = URL_COMMANDS[command]
    if how == "--store":
        code, _, err = cli(capsys, *args_of_command, "--store", url)
    else:
        monkeypatch.setenv("LLMFORM_STORE", url)
        code, _, err = cli(capsys, *args_of_command)
    assert code == 1
    assert BAD_URLS[url] in err and "CANARY" not in err
    assert listing(here) == before


def test_three_slashes_name_a_relative_path_and_the_error_says_so(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "export", "--store", "sqlite:///tmp")
    assert code == 1
    assert (
        f"(the file tmp does not exist, relative to {here}; for the absolute path /tmp write "
        in err
    )
    assert "sqlite:////tmp (four slashes)" in err


def _store_with_one_apply(here: Path, capsys: pytest.CaptureFixture[str], db: Path) -> None:
    db.parent.mkdir(exist_ok=True)
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", f"sqlite:///{db}")[0] == 0
    write_state(here, "second")  # so that plan and apply have a change to make


@pytest.mark.parametrize("read_only", ["file 0400", "directory 0555"])
def test_a_read_only_store_is_planned_exported_and_verified_and_apply_says_it_cannot_write(
    here: Path, capsys: pytest.CaptureFixture[str], read_only: str
) -> None:
    db = here / "shared" / "registry.db"
    _store_with_one_apply(here, capsys, db)
    url = f"sqlite:///{db}"
    assert cli(capsys, "plan", OFFLINE, "-o", "p.plan", "--store", url)[0] == 0
    locked = db if read_only.startswith("file") else db.parent
    locked.chmod(0o400 if locked == db else 0o555)
    try:
        content, before = db.read_bytes(), listing(here / "shared")

        code, out, err = cli_as_user(["plan", OFFLINE, "--store", url], here)
        assert (code, err) == (0, ""), err
        assert "Plan: 0 to add, 1 to change, 0 to destroy." in out
        code, out, err = cli_as_user(["export", "--store", url], here)
        assert code == 0 and "description: first" in out, err
        code, out, err = cli_as_user(["audit", "--verify", "--store", url], here)
        assert code == 0 and out.startswith("Audit chain intact: 5 event(s)"), err
        code, out, err = cli_as_user(["show", "p.plan", "--store", url], here)
        assert (code, err) == (0, "") and "Plan: 0 to add, 1 to change, 0 to destroy." in out

        code, out, err = cli_as_user(["apply", OFFLINE, "--auto-approve", "--store", url], here)
        assert code == 1
        if locked == db:
            reason = f"the file {db} is read-only for this user (mode 0400); make it writable "
            reason += f"with: chmod 600 {db}"
        else:
            reason = f"its directory {db.parent} is read-only for this user, and SQLite writes"
        assert f"error: cannot write to the store {url}: {reason}" in err
        assert err.rstrip().endswith("nothing was changed")

        code, _, err = cli_as_user(["force-unlock", "3f2a9c1b7d4e", "--store", url], here)
        assert code == 1 and "no lock '3f2a9c1b7d4e'" in err

        assert db.read_bytes() == content
        assert listing(here / "shared") == before
    finally:
        locked.chmod(0o700 if locked != db else 0o600)


def test_apply_cannot_create_a_store_in_a_read_only_directory(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "ro").mkdir()
    (here / "ro").chmod(0o555)
    try:
        for args in (["apply", OFFLINE, "--auto-approve"], ["init"]):
            code, _, err = cli_as_user([*args, "--store", "sqlite:///ro/new.db"], here)
            assert code == 1
            assert "cannot create the store sqlite:///ro/new.db" in err
            assert "Permission denied" in err
        assert list((here / "ro").iterdir()) == []
    finally:
        (here / "ro").chmod(0o700)


def test_plan_never_writes_an_existing_store(
    here: Path, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    """On each store (``store_url``): the file's bytes, or the database's rows."""
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", store_url)[0] == 0
    write_state(here, "second")  # so that plan has a change to make
    content, before = snapshot(store_url), listing(here)
    for fmt in ("text", "markdown", "json"):
        code, _, _ = cli(capsys, "plan", OFFLINE, "--format", fmt, "--store", store_url)
        assert code == 0
    assert (snapshot(store_url), listing(here)) == (content, before)


KILLED_MID_APPLY = r"""
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size = 2")  # spill the changed pages into the file before commit
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE meta SET value = '99' WHERE key = 'serial'")
for i in range(200):
    conn.execute("INSERT INTO workspaces (name, description) VALUES (?, ?)", (f"w{i}", "x" * 500))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_store_left_mid_apply_by_a_killed_run_is_read_as_it_was(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hot journal must be rolled back before the file can be read, which a read-only
    connection cannot do: the commands that read roll it back when they may write there, and
    otherwise say what to do."""
    db = here / "registry.db"
    _store_with_one_apply(here, capsys, db)
    url = f"sqlite:///{db}"
    rows = dump(db)
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_APPLY, str(db)], check=False)
    assert killed.returncode == -9 and Path(f"{db}-journal").exists()

    here.chmod(0o555)
    try:
        code, _, err = cli_as_user(["plan", OFFLINE, "--store", url], here)
    finally:
        here.chmod(0o755)
    assert code == 1
    assert f"the store {url} holds an unfinished transaction of a run that was killed" in err
    assert "run llmform again as a user who can write the store file and its directory" in err

    code, out, _ = cli(capsys, "plan", OFFLINE, "--store", url)
    assert code == 0 and "Plan: 0 to add, 1 to change, 0 to destroy." in out
    assert not Path(f"{db}-journal").exists()
    assert dump(db) == rows


CHECKED_STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_base: {api_base}
    api_key: {{env: LLMFORM_NEW_STORE_KEY}}
    models: [gpt-4o]
"""


def test_plans_of_a_store_that_does_not_exist_yet_share_cached_key_checks(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new store's fingerprint key is the same for every plan against its path (derived from
    a secret beside the key-check cache), so the plans, and the apply that creates the store,
    reuse the verdicts; the store keeps that key, so the next plan finds nothing changed."""
    with ProviderServer("openai", {"sk-new-store": "valid"}, models=["gpt-4o"]) as openai:
        monkeypatch.setenv("LLMFORM_TRUSTED_ENDPOINTS", openai.url)
        monkeypatch.setenv("LLMFORM_NEW_STORE_KEY", "sk-new-store")
        (here / "llmform.yaml").write_text(CHECKED_STATE.format(api_base=openai.api_base))
        before = listing(here)
        assert cli(capsys, "plan")[0] == 0
        asked = len(openai.requests)
        assert asked > 0
        code, out, _ = cli(capsys, "plan")
        assert code == 0 and "config.prod/main  api_key: valid (cached)" in out
        assert NOTE.format(url="sqlite:///.llmform/llmform.db") in out
        assert listing(here) == before
        assert cli(capsys, "apply", "--auto-approve")[0] == 0
        assert len(openai.requests) == asked  # the apply's checks came from the cache too
        code, out, _ = cli(capsys, "plan", "--detailed-exitcode", "--check-cache-ttl", "0")
        assert code == 0 and "No changes." in out
