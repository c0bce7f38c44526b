"""The files llmform writes (issue 9, item 12): saved plans, audit copies, exports, converted
catalogs, the store and its directory.

Each is written without following a symlink planted at its path, atomically (a temporary file
beside it, renamed over it: another link to the old file keeps the old content, and a failed
write leaves the old file and no temporary behind), and owner-only where it holds anything
sensitive (plans, audit copies, the store: 0600; the store's directory: 0700) whatever the umask.
A store others can read, or owned by someone else, gets a warning.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.stores import OFFLINE, cli, cli_as_user, dump, listing, serial, write_state

RAGFLOW = {
    "factory_llm_infos": [
        {
            "name": "Acme",
            "tags": "LLM",
            "status": "1",
            "llm": [{"llm_name": "m1", "model_type": "chat"}],
        }
    ]
}
VICTIM_TEXT = "precious\n"


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMFORM_STORE", raising=False)
    write_state(tmp_path)
    (tmp_path / "llm_factories.json").write_text(json.dumps(RAGFLOW))
    return tmp_path


@pytest.fixture(params=[0o000, 0o022, 0o077], ids=oct)
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _plan(capsys: pytest.CaptureFixture[str], target: str) -> int:
    cli(capsys, "init")
    return cli(capsys, "plan", OFFLINE, "-o", target)[0]


def _export(capsys: pytest.CaptureFixture[str], target: str) -> int:
    cli(capsys, "init")
    return cli(capsys, "export", "-o", target)[0]


def _ragflow(capsys: pytest.CaptureFixture[str], target: str) -> int:
    return cli(capsys, "catalog", "import-ragflow", "llm_factories.json", "-o", target)[0]


# command, what the written file starts with, whether it is private (0600)
WRITERS: dict[str, tuple[Callable[[pytest.CaptureFixture[str], str], int], str, bool]] = {
    "plan -o": (_plan, '{\n "format": "llmform-plan/', True),
    "export -o": (_export, "# Exported by llmform", False),
    "catalog import-ragflow -o": (_ragflow, "# Converted", False),
}


@pytest.mark.parametrize("dangling", [False, True], ids=["to a file", "dangling"])
@pytest.mark.parametrize("writer", WRITERS)
def test_a_planted_symlink_does_not_redirect_a_write(
    here: Path, capsys: pytest.CaptureFixture[str], writer: str, dangling: bool
) -> None:
    write, start, _ = WRITERS[writer]
    victim = here / "victim.txt"
    if not dangling:
        victim.write_text(VICTIM_TEXT)
    (here / "out.file").symlink_to(victim)
    assert write(capsys, "out.file") == 0
    assert not (here / "out.file").is_symlink()
    assert (here / "out.file").read_text().startswith(start)
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_text() == VICTIM_TEXT


@pytest.mark.parametrize("writer", WRITERS)
def test_a_symlink_planted_at_a_temporary_name_does_not_redirect_a_write(
    here: Path, capsys: pytest.CaptureFixture[str], writer: str
) -> None:
    """The temporary file is created exclusively under a name no one can guess."""
    write, start, _ = WRITERS[writer]
    victim = here / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    for name in ("out.file.tmp", ".out.file.tmp", "out.file~", ".out.file.swp"):
        (here / name).symlink_to(victim)
    assert write(capsys, "out.file") == 0
    assert (here / "out.file").read_text().startswith(start)
    assert victim.read_text() == VICTIM_TEXT


@pytest.mark.parametrize("writer", WRITERS)
def test_written_files_get_their_mode_whatever_the_umask(
    here: Path, capsys: pytest.CaptureFixture[str], writer: str, umask: int
) -> None:
    write, _, private = WRITERS[writer]
    assert write(capsys, "out.file") == 0
    mode = stat.S_IMODE((here / "out.file").stat().st_mode)
    assert mode == (0o600 if private else 0o666 & ~umask)


@pytest.mark.parametrize("writer", WRITERS)
def test_a_file_is_replaced_whole_by_a_rename(
    here: Path, capsys: pytest.CaptureFixture[str], writer: str
) -> None:
    """A second name of the old file keeps the old content: the new file was written beside
    it and renamed over it, never written in place (where a crash would leave half)."""
    write, start, _ = WRITERS[writer]
    (here / "out.file").write_text(VICTIM_TEXT)
    os.link(here / "out.file", here / "other-name")
    assert write(capsys, "out.file") == 0
    assert (here / "out.file").read_text().startswith(start)
    assert (here / "other-name").read_text() == VICTIM_TEXT
    assert sorted(p.name for p in here.iterdir() if p.name.startswith(".out")) == []


@pytest.mark.parametrize("writer", WRITERS)
def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(
    here: Path, capsys: pytest.CaptureFixture[str], writer: str
) -> None:
    target = here / "locked" / "out.file"
    target.parent.mkdir()
    target.write_text(VICTIM_TEXT)
    args = {
        "plan -o": ["plan", OFFLINE, "-o", "locked/out.file"],
        "export -o": ["export", "-o", "locked/out.file"],
        "catalog import-ragflow -o": [
            "catalog",
            "import-ragflow",
            "llm_factories.json",
            "-o",
            "locked/out.file",
        ],
    }[writer]
    cli(capsys, "init")
    target.parent.chmod(0o555)
    try:
        code, _, err = cli_as_user(args, here)
    finally:
        target.parent.chmod(0o755)
    assert code == 1
    if writer == "plan -o":  # known before anything is planned
        assert (
            "error: cannot save the plan to locked/out.file: the folder locked is not "
            "writable; nothing was planned"
        ) in err
    else:
        assert "error: cannot write locked/out.file: Permission denied" in err
    assert target.read_text() == VICTIM_TEXT
    assert [p.name for p in target.parent.iterdir()] == ["out.file"]


def test_the_audit_copy_is_appended_owner_only_and_never_through_a_link(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = os.umask(0)  # nothing taken away: the mode is llmform's own
    try:
        assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--audit-file", "a.jsonl")[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((here / "a.jsonl").stat().st_mode) == 0o600
    first = (here / "a.jsonl").read_text()
    assert len(first.splitlines()) == 5

    write_state(here, "second")
    assert cli(capsys, "apply", OFFLINE, "--auto-approve", "--audit-file", "a.jsonl")[0] == 0
    text = (here / "a.jsonl").read_text()
    assert text.startswith(first) and len(text.splitlines()) == 8  # appended

    # a link planted at the audit file's path: refused before anything is applied
    victim = here / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    (here / "link.jsonl").symlink_to(victim)
    write_state(here, "third")
    db = here / ".llmform/llmform.db"
    rows = dump(db)
    code, _, err = cli(capsys, "apply", OFFLINE, "--auto-approve", "--audit-file", "link.jsonl")
    assert code == 1
    assert err == (
        "error: cannot write the audit copy to link.jsonl: it is a symbolic link, and llmform "
        "does not write through links; nothing was applied\n"
    )
    assert victim.read_text() == VICTIM_TEXT
    assert (dump(db), serial(db)) == (rows, 2)


def test_a_store_others_can_read_gets_a_warning_on_every_command(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "apply", OFFLINE, "--auto-approve")[0] == 0
    db = here / ".llmform/llmform.db"
    db.chmod(0o644)
    warning = (
        "warning: the store file .llmform/llmform.db is readable by group/others (mode 0644); "
        "it holds the registry and its audit trail: make it owner-only with: "
        "chmod 600 .llmform/llmform.db\n"
    )
    for args in (["plan", OFFLINE], ["export"], ["audit"], ["audit", "--verify"], ["init"]):
        code, _, err = cli(capsys, *args)
        assert (code, err) == (0, warning), args
    db.chmod(0o600)
    assert cli(capsys, "audit", "--verify")[2] == ""


def test_plan_saving_a_plan_warns_about_the_store_once(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the plan and the saved plan's key come from one opening of the store, one warning
    assert cli(capsys, "init")[0] == 0
    (here / ".llmform/llmform.db").chmod(0o644)
    code, _, err = cli(capsys, "plan", OFFLINE, "-o", "out.plan")
    assert code == 0
    assert err.count("warning: the store file .llmform/llmform.db is readable") == 1
    assert (here / "out.plan").is_file()


@pytest.mark.parametrize(("mode", "warned"), [(0o777, True), (0o770, True), (0o1777, False)])
def test_a_store_in_a_directory_others_can_write_gets_a_warning(
    here: Path, capsys: pytest.CaptureFixture[str], mode: int, warned: bool
) -> None:
    # others who may write the directory can rename a store of their own over this one,
    # unless the sticky bit (as on /tmp) keeps them from replacing files they do not own
    shared = here / "shared dir"
    shared.mkdir()
    store = f"--store=sqlite:///{shared.name}/registry.db"
    assert cli(capsys, "init", store)[0] == 0
    shared.chmod(mode)
    code, _, err = cli(capsys, "export", store)
    assert code == 0
    if warned:
        assert err == (
            f"warning: the store's directory shared dir is writable by group/others (mode "
            f"{mode:04o}): they can replace the store file with one of their own; make it "
            "owner-only with: chmod 700 'shared dir', or move the store\n"
        )
    else:
        assert err == ""


def test_the_fix_in_a_warning_is_a_command_that_works_on_a_path_with_spaces(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = "--store=sqlite:///my store.db"
    assert cli(capsys, "init", store)[0] == 0
    (here / "my store.db").chmod(0o640)
    err = cli(capsys, "export", store)[2]
    assert err.endswith("make it owner-only with: chmod 600 'my store.db'\n"), err


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_store_owned_by_someone_else_gets_a_warning(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "init")[0] == 0
    db = here / ".llmform/llmform.db"
    os.chown(db, 4321, -1)
    code, out, err = cli(capsys, "audit", "--verify")
    assert code == 0 and out.startswith("Audit trail empty"), out
    assert err.startswith("warning: the store file .llmform/llmform.db is owned by 4321 (uid 4321)")
    assert "take it over with: chown root .llmform/llmform.db" in err


def test_the_store_directory_is_created_owner_only(
    here: Path, capsys: pytest.CaptureFixture[str], umask: int
) -> None:
    assert cli(capsys, "apply", OFFLINE, "--auto-approve")[0] == 0
    modes = {path: stat.S_IMODE(mode) for path, mode in listing(here).items()}
    assert modes[".llmform"] == 0o700
    assert modes[".llmform/llmform.db"] == 0o600


@pytest.mark.parametrize("suffix", ["-journal", "-wal"])
@pytest.mark.parametrize("command", [["apply", OFFLINE, "--auto-approve"], ["plan", OFFLINE]])
def test_a_symlink_planted_at_the_journal_is_named_and_nothing_is_written_through_it(
    here: Path, capsys: pytest.CaptureFixture[str], suffix: str, command: list[str]
) -> None:
    assert cli(capsys, "init")[0] == 0
    db = here / ".llmform/llmform.db"
    rows = dump(db)
    victim = here / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    link = here / f".llmform/llmform.db{suffix}"
    link.symlink_to(victim)
    code, _, err = cli(capsys, *command)
    assert code == 1
    assert err.endswith(
        f"error: cannot open the store sqlite:///.llmform/llmform.db: .llmform/llmform.db{suffix}"
        " is a symbolic link, and SQLite opens no store whose journal is one (it could send a "
        "copy of the registry elsewhere); remove it once no run is applying: "
        f"rm .llmform/llmform.db{suffix}\n"
    ), err
    assert victim.read_text() == VICTIM_TEXT
    link.unlink()
    assert dump(db) == rows


@pytest.mark.parametrize("command", ["apply", "init"])
def test_a_planted_symlink_does_not_redirect_the_store(
    here: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """A link where the store file would go (dangling, so that it looks like no store) or in
    place of its directory: nothing is created through it."""
    elsewhere = here / "elsewhere"
    elsewhere.mkdir()
    args = ["apply", OFFLINE, "--auto-approve"] if command == "apply" else ["init"]

    (here / "store.db").symlink_to(elsewhere / "store.db")
    code, _, err = cli(capsys, *args, "--store", "sqlite:///store.db")
    assert code == 1
    assert "store.db is a symbolic link to a missing file" in err

    (here / ".llmform").symlink_to(elsewhere)
    code, _, err = cli(capsys, *args)
    assert code == 1
    assert "its directory .llmform is a symbolic link" in err
    assert list(elsewhere.iterdir()) == []
