"""Faults of the store and its files, each a clear message and never an internal error (issue 9,
item 11): damaged meta values and rows, a full disk during apply, an --audit-file that cannot be
written (before the apply: nothing changes; after its commit: say so, and how to recover the
copy from the store, where the events are kept). The damaged values and rows on each store
(``store_url``), each naming its own fix; SQLite keeps what only its loose column types let in,
its full disk and the audit copy's tests (about files, not the store).
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.store_db import snapshot, store_db
from support.stores import OFFLINE, cli, cli_as_user, dump, listing, serial, write_state

from llmform.targets import shown_url

RESTORE = "restore the store file from a backup, or correct the row with the sqlite3 shell"
PG_RESTORE = "restore the database from a backup, or correct the row with psql"


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", "sqlite:///registry.db")
    write_state(tmp_path)
    return tmp_path


@pytest.fixture()
def applied(here: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A store with one apply in it, and a configuration that changes it."""
    assert cli(capsys, "apply", OFFLINE, "--auto-approve")[0] == 0
    write_state(here, "second")
    return here / "registry.db"


@pytest.fixture()
def damaged_store(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    store_url: str,
) -> str:
    """``applied``, on each store: its URL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    write_state(tmp_path)
    assert cli(capsys, "apply", OFFLINE, "--auto-approve")[0] == 0
    write_state(tmp_path, "second")
    return store_url


def damage(url: str, *statements: str) -> None:
    with store_db(url) as db:
        for statement in statements:
            db.execute(statement)


# What PostgreSQL says where SQLite names its file, its shell or its kind of database.
PG_WORDING = {
    RESTORE: PG_RESTORE,
    "restore the store file from a backup": "restore the database from a backup",
    "is a SQLite database but not an llmform store (it has no meta table)": "holds a table "
    "named audit_events but no llmform registry (no meta table); give llmform a database",
}
# Damage only SQLite's loose column types let in: PostgreSQL refuses the statement itself.
SQLITE_ONLY = {
    "serial NULL",  # meta.value NOT NULL
    "description not text",  # PostgreSQL makes text of the bit string x'ff00'
    "a workspace without a name",  # workspaces.name NOT NULL
    "enabled not a flag",  # an integer column
    "max_tokens not a number",  # an integer column
}
STORES = ("sqlite", "postgresql")


def the_fix(url: str, message: str) -> str:
    """``message`` as the store says it: SQLite's, or in PostgreSQL's words."""
    if url.startswith("postgresql:"):
        for sqlite_words, postgres_words in PG_WORDING.items():
            message = message.replace(sqlite_words, postgres_words)
    return message


DAMAGED_META = {
    "serial not a number": (
        "UPDATE meta SET value = 'abc' WHERE key = 'serial'",
        "table meta, row 'serial': 'abc' is not a whole number; " + RESTORE,
    ),
    "serial negative": (
        "UPDATE meta SET value = '-1' WHERE key = 'serial'",
        "table meta, row 'serial': '-1' is not a whole number",
    ),
    "serial NULL": (
        "UPDATE meta SET value = NULL WHERE key = 'serial'",
        "table meta, row 'serial': its value is NULL; " + RESTORE,
    ),
    "lineage missing": (
        "DELETE FROM meta WHERE key = 'lineage'",
        "table meta, row 'lineage': it is missing; " + RESTORE,
    ),
    "fingerprint key not hex": (
        "UPDATE meta SET value = 'not-hex!' WHERE key = 'fingerprint_key'",
        "table meta, row 'fingerprint_key': the value is not a key (hexadecimal, 32 bytes); "
        "restore the store file from a backup",
    ),
    "fingerprint key empty": (
        "UPDATE meta SET value = '' WHERE key = 'fingerprint_key'",
        "table meta, row 'fingerprint_key': its value is ''",
    ),
    "schema version not a number": (
        "UPDATE meta SET value = 'v1' WHERE key = 'schema_version'",
        "table meta, row 'schema_version': 'v1' is not a schema version; " + RESTORE,
    ),
    "schema version 0": (
        "UPDATE meta SET value = '0' WHERE key = 'schema_version'",
        "table meta, row 'schema_version': '0' is not a schema version",
    ),
    "schema version missing": (
        "DELETE FROM meta WHERE key = 'schema_version'",
        "table meta, row 'schema_version': it is missing",
    ),
    "schema version from the future": (
        "UPDATE meta SET value = '999' WHERE key = 'schema_version'",
        "has schema version 999, newer than this llmform knows",
    ),
    "meta table gone": (
        "DROP TABLE meta",
        "is a SQLite database but not an llmform store (it has no meta table)",
    ),
}

COMMANDS = {
    "plan": ["plan", OFFLINE],
    "apply": ["apply", OFFLINE, "--auto-approve"],
    "export": ["export"],
}


@pytest.mark.parametrize(
    ("store_url", "case", "command"),
    [
        (store, case, command)
        for store in STORES
        for case in DAMAGED_META
        for command in COMMANDS
        if not (case.startswith("fingerprint key") and command == "export")  # needs no key
        and (store == "sqlite" or case not in SQLITE_ONLY)
    ],
    indirect=["store_url"],
)
def test_damaged_meta_values_are_named_with_the_fix(
    damaged_store: str, capsys: pytest.CaptureFixture[str], case: str, command: str
) -> None:
    statement, message = DAMAGED_META[case]
    damage(damaged_store, statement)
    rows = snapshot(damaged_store)
    code, _, err = cli(capsys, *COMMANDS[command])
    assert code == 1
    assert the_fix(damaged_store, message) in err
    assert snapshot(damaged_store) == rows


DAMAGED_ROWS = {
    "labels not JSON": (
        "UPDATE workspaces SET labels = '{bad' WHERE name = 'prod'",
        "table workspaces, row name='prod': labels must hold a JSON object of strings, not '{bad'",
    ),
    "labels a list": (
        "UPDATE workspaces SET labels = '[1, 2]'",
        "labels must hold a JSON object of strings, not '[1, 2]'",
    ),
    "a label that is not a string": (
        """UPDATE workspaces SET labels = '{"team": 5}'""",
        """labels must hold a JSON object of strings, not '{"team": 5}'""",
    ),
    "defaults null": (
        "UPDATE workspaces SET defaults = 'null'",
        "table workspaces, row name='prod': defaults must hold a JSON object of strings",
    ),
    "description not text": (
        "UPDATE workspaces SET description = x'ff00'",
        "description must hold text, not b'\\xff\\x00'",
    ),
    "a workspace without a name": (
        "INSERT INTO workspaces (name, managed) VALUES (NULL, 1)",
        "table workspaces, row name=None: name must hold text, not NULL",
    ),
    "options not JSON": (
        "UPDATE configs SET options = 'x=1'",
        "table configs, row workspace='prod', name='local': options must hold a JSON object "
        "of strings, not 'x=1'",
    ),
    "enabled not a flag": (
        "UPDATE configs SET enabled = 'yes'",
        "enabled must hold 0 or 1, not 'yes'",
    ),
    "model types not JSON": (
        "UPDATE factory_models SET types = 'chat' WHERE name = 'llama3.2'",
        "table factory_models, row factory='Ollama', name='llama3.2': types must hold a JSON "
        "list of strings, not 'chat'",
    ),
    "a custom model's types NULL": (
        "UPDATE config_models SET custom = 1, types = NULL",
        "table config_models, row workspace='prod', config='local', name='llama3.2': types "
        "must hold a JSON list of strings, not NULL",
    ),
    "max_tokens not a number": (
        "UPDATE factory_models SET max_tokens = 'lots'",
        "max_tokens must hold a whole number, not 'lots'",
    ),
    "tags a string": (
        """UPDATE factories SET tags = '"LLM"'""",
        """table factories, row name='Ollama': tags must hold a JSON list of strings""",
    ),
    **{
        f"a secret reference {name}": (
            "INSERT INTO config_secrets (workspace, config, slot, position, ref) "
            f"VALUES ('prod', 'local', 'api_key', 0, '{ref}')",
            "table config_secrets, row workspace='prod', config='local', slot='api_key': ref "
            "must hold a secret reference (env:NAME or vault:path#key; the value is not shown)",
        )
        for name, ref in (
            ("that is none", "garbage"),
            ("without a name", "env:"),
            ("with a name that is none", "env:A B"),
            ("that is a key", "sk-proj-4f9QeXb7Lm2Rt8Vy3Kp6Wd1Zc5Hn0Js"),
        )
    },
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("store_url", "case"),
    [
        (store, case)
        for store in STORES
        for case in DAMAGED_ROWS
        if store == "sqlite" or case not in SQLITE_ONLY
    ],
    indirect=["store_url"],
)
def test_damaged_rows_are_named_with_the_fix(
    damaged_store: str, capsys: pytest.CaptureFixture[str], case: str, command: str
) -> None:
    statement, message = DAMAGED_ROWS[case]
    damage(damaged_store, statement)
    rows = snapshot(damaged_store)
    code, _, err = cli(capsys, *COMMANDS[command])
    assert code == 1
    assert err.startswith(f"error: the store {shown_url(damaged_store)} is damaged: "), err
    assert message in err
    assert err.rstrip().endswith(the_fix(damaged_store, RESTORE))
    assert "sk-proj-" not in err  # a key stored where a reference belongs is not shown
    assert snapshot(damaged_store) == rows


# -- a full disk --------------------------------------------------------------------------


@pytest.fixture()
def small_disk(here: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a disk that really fills up."""
    disk = here / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the full-disk test: {mounted.stderr}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def _big_state(here: Path) -> None:
    lines = ["apiVersion: llmform/v1", "workspaces:", "  - {name: prod}", "configs:"]
    lines += [
        f"  - {{name: c{i}, workspace: prod, factory: Ollama, description: {'x' * 900}}}"
        for i in range(400)
    ]
    (here / "llmform.yaml").write_text("\n".join(lines) + "\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_disk_during_apply_rolls_back_and_says_so(
    here: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "sqlite:///disk/registry.db"
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", url)[0] == 0
    db = small_disk / "registry.db"
    _big_state(here)  # about 400 KB of changes
    stats = os.statvfs(small_disk)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - 64 * 1024))
    rows, before = dump(db), listing(small_disk)

    code, _, err = cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", url)
    assert code == 1
    assert err == (
        "error: apply failed and was rolled back, nothing changed: the disk holding "
        "disk/registry.db is full (database or disk is full); free some space and run again\n"
    )
    assert (dump(db), listing(small_disk)) == (rows, before)

    filler.unlink()  # room again: the same apply goes through, nothing half-done in its way
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--store", url)[0] == 0
    assert serial(db) == 2


# -- the audit copy ------------------------------------------------------------------------


AUDIT_FILES = {
    "in a missing directory": ("no/such/dir/audit.jsonl", "no directory no/such/dir"),
    "read-only": ("ro.jsonl", "Permission denied"),
    "in a read-only directory": ("rodir/audit.jsonl", "the directory rodir is not writable"),
}


@pytest.mark.parametrize("command", ["apply", "destroy"])
@pytest.mark.parametrize("case", AUDIT_FILES)
def test_an_audit_file_that_cannot_be_written_stops_the_apply_before_it_starts(
    applied: Path, case: str, command: str
) -> None:
    here = applied.parent
    path, reason = AUDIT_FILES[case]
    (here / "adir").mkdir()
    (here / "ro.jsonl").write_text("")
    (here / "ro.jsonl").chmod(0o400)
    (here / "rodir").mkdir()
    rows, before = dump(applied), listing(here)
    (here / "rodir").chmod(0o555)
    try:
        args = [command, "--auto-approve", "--audit-file", path]
        code, _, err = cli_as_user([*args, *([OFFLINE] if command == "apply" else [])], here)
    finally:
        (here / "rodir").chmod(0o755)
    assert code == 1
    consequence = "nothing was applied" if command == "apply" else "nothing was destroyed"
    assert err == f"error: cannot write the audit copy to {path}: {reason}; {consequence}\n"
    assert (dump(applied), listing(here)) == (rows, before)


def test_an_audit_copy_that_fails_after_the_commit_says_so_and_how_to_recover_it(
    applied: Path,
) -> None:
    """The file is checked before the apply, and the disk fills (here: the file size limit
    is reached) only while the committed events are written to it."""
    here = applied.parent
    limit = 1 << 20
    partial = here / "audit.jsonl"
    partial.write_bytes(b"x" * (limit - 10))

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args = ["apply", OFFLINE, "--auto-approve", "--audit-file", "audit.jsonl"]
    done = subprocess.run(
        [sys.executable, "-m", "llmform.cli", "--no-color", *args],
        cwd=here,
        capture_output=True,
        text=True,
        preexec_fn=limited,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert serial(applied) == 2  # committed
    match = re.fullmatch(
        r"error: the apply committed \(serial 2\), but its audit events could not be written to "
        r"audit.jsonl: File too large\. Nothing is lost: the events are in the store; write the "
        r"copy from there with: (llmform audit --json --store sqlite:///registry.db \| grep "
        r"'\"run_id\": \"[0-9a-f]+\"') >> audit.jsonl\n"
        r"Audit chain head: 8:sha256:[0-9a-f]{64}\n",
        done.stderr,
    )
    assert match, done.stderr

    # the command given writes exactly this run's events
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    recovered = subprocess.run(
        match.group(1), shell=True, cwd=here, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [line.split('"action": ')[1].split('"')[1] for line in recovered] == [
        "apply-start",
        "update",
        "apply-end",
    ]
