"""The persistent cache of parsed files (desired/parsed_cache.py) changes nothing but speed.

Random edits to a state's files (text, names, references, lines deleted or repeated, keys pasted
into plain text) and random secret values give the same plan, text and JSON, and the same exit
code with the cache as without it, through the CLI; a warm run parses only the files that
changed; a damaged, foreign, other user's or group-writable cache is passed over without a word;
a cache deleted between or during runs is no error; a key pasted into a file never reaches the
cache.
"""

from __future__ import annotations

import json
import marshal
import os
import secrets
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmform.cli import main
from llmform.desired import built_load, parsed_cache
from llmform.desired.validate import validate_paths

FILES = {
    "workspaces.yaml": """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    description: production
    labels: {team: search}
    defaults: {chat: main/gpt-4o}
  - name: dev
""",
    "configs.yaml": """\
apiVersion: llmform/v1
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    description: the main one
    api_key: {env: KEY_MAIN}
    backup_keys: [{env: KEY_BACKUP}]
    models: [gpt-4o, text-embedding-3-small]
  - name: deep
    workspace: dev
    factory: DeepSeek
    api_key: {env: KEY_DEEP}
    models: [deepseek-chat]
""",
    "local.yaml": """\
apiVersion: llmform/v1
factories:
  - name: Local
    type: openai
    api_base: http://10.1.2.3:8000/v1  # plain http: a warning, located, on every run
    models:
      - {name: llama, type: chat}
configs:
  - name: local
    workspace: dev
    factory: Local
    api_key: {env: KEY_DEEP}
    models: [llama]
""",
}
ENV_NAMES = ("KEY_MAIN", "KEY_BACKUP", "KEY_DEEP")
CANARY = f"sk-proj-CANARY{secrets.token_hex(12)}"


def write_state(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")


def normalised(output: str) -> str:
    """A JSON plan without what differs between any two runs (none today, but a plan id or a
    time may come); text as it is."""
    try:
        document = json.loads(output)
    except ValueError:
        return output

    def drop(value: Any) -> Any:
        if isinstance(value, dict):
            skipped = {"plan_id", "created_at", "generated_at"}
            return {k: drop(v) for k, v in value.items() if k not in skipped}
        if isinstance(value, list):
            return [drop(v) for v in value]
        return value

    return json.dumps(drop(document), sort_keys=True)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    state = tmp_path / "state"
    state.mkdir()
    write_state(state, FILES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_CACHE_DIR", str(tmp_path / "cache"))
    for name in ENV_NAMES:
        monkeypatch.setenv(name, f"sk-{secrets.token_hex(16)}")
    yield state


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--no-color", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def plans(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    state: Path,
    cache: bool,
    store: str | None = None,
) -> list[tuple[int, str]]:
    """Plans (text, JSON, one workspace's) and the validation of ``state``, with the caches
    or not, against ``store`` (None: the default, which does not exist)."""
    if cache:
        monkeypatch.delenv(parsed_cache.NO_CACHE_ENV, raising=False)
    else:
        monkeypatch.setenv(parsed_cache.NO_CACHE_ENV, "1")
    found = []
    where = ("--store", store) if store else ()
    for extra in ((), ("--format", "json"), ("-w", "prod")):
        code, output = run(capsys, *where, "plan", "--no-validate-keys", *extra, str(state))
        found.append((code, normalised(output)))
    found.append(run(capsys, "validate", str(state)))
    return found


def cache_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


# An edit: (file, what) where what is a new description, a line to delete, a line to repeat,
# a name to change, a key to paste, or the file's text shuffled
edits = st.lists(
    st.tuples(
        st.sampled_from(sorted(FILES)),
        st.one_of(
            st.tuples(st.just("describe"), st.text(max_size=20)),
            st.tuples(st.just("delete"), st.integers(0, 15)),
            st.tuples(st.just("repeat"), st.integers(0, 15)),
            st.tuples(st.just("rename"), st.sampled_from(["prod", "dev", "main", "gpt-4o"])),
            st.tuples(st.just("paste"), st.sampled_from(["description", "labels"])),
            st.tuples(st.just("swap"), st.integers(0, 15)),
        ),
    ),
    max_size=3,
)


def edited(files: dict[str, str], changes: list[tuple[str, tuple[str, Any]]]) -> dict[str, str]:
    out = dict(files)
    for name, (kind, arg) in changes:
        lines = out[name].split("\n")
        if kind == "describe":  # a comment keeps what was written after it
            out[name] = out[name].replace("description: ", f"description: {json.dumps(arg)} #", 1)
        elif kind == "delete" and arg < len(lines):
            out[name] = "\n".join(lines[:arg] + lines[arg + 1 :])
        elif kind == "repeat" and arg < len(lines):
            out[name] = "\n".join(lines[: arg + 1] + lines[arg:])
        elif kind == "swap" and arg + 1 < len(lines):
            lines[arg], lines[arg + 1] = lines[arg + 1], lines[arg]
            out[name] = "\n".join(lines)
        elif kind == "rename":
            out[name] = out[name].replace(arg, arg + "x", 1)
        elif kind == "paste":
            field = "description: " if arg == "description" else "labels: {team: "
            out[name] = out[name].replace(field, f"{field}{CANARY} ", 1)
    return out


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(changes=edits, values=st.lists(st.text(min_size=1, max_size=40), min_size=3, max_size=3))
def test_random_edits_plan_alike_with_and_without_the_cache(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    changes: list[tuple[str, tuple[str, Any]]],
    values: list[str],
) -> None:
    for name, value in zip(ENV_NAMES, values, strict=True):
        if "\0" not in value:
            monkeypatch.setenv(name, value)
    write_state(project, edited(FILES, changes))
    cold_or_warm = plans(capsys, monkeypatch, project, cache=True)
    again = plans(capsys, monkeypatch, project, cache=True)  # every file from the cache now
    without = plans(capsys, monkeypatch, project, cache=False)
    assert cold_or_warm == without
    assert again == without
    cache = Path(os.environ["LLMFORM_CACHE_DIR"])
    found = cache_bytes(cache)
    assert CANARY.encode() not in found
    assert not any(value.encode() in found for value in values if len(value) > 8)


def parsed_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files parsed (not taken from the cache) from now on, by name."""
    seen: list[str] = []
    load_bytes = parsed_cache.load_bytes

    def counting(file: str, raw: bytes, **options: Any) -> Any:
        seen.append(Path(file).name)
        return load_bytes(file, raw, **options)

    monkeypatch.setattr(parsed_cache, "load_bytes", counting)
    return seen


def diagnostics(state: Path) -> list[str]:
    return [str(d) for d in validate_paths([str(state)]).diagnostics]


def test_a_warm_run_parses_only_the_changed_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed, built = parsed_files(monkeypatch), built_files(monkeypatch)
    first = validate_paths([str(project)])
    assert first.state is not None, first.diagnostics
    assert sorted(parsed) == sorted(built) == sorted(FILES)
    parsed.clear(), built.clear()
    assert validate_paths([str(project)]).state == first.state
    assert sorted(parsed) == sorted(built) == sorted(FILES)  # seen unchanged: kept now
    parsed.clear(), built.clear()
    assert validate_paths([str(project)]).state == first.state
    assert parsed == built == []  # each file's build from the cache, not even its trees
    changed = FILES["configs.yaml"].replace("the main one", "the main one, changed")
    (project / "configs.yaml").write_text(changed)
    state = validate_paths([str(project)]).state
    assert parsed == built == ["configs.yaml"]
    assert state is not None and state.configs["prod", "main"].description.endswith("changed")
    assert validate_paths([str(project)]).state == state
    assert parsed == built == ["configs.yaml"] * 2
    parsed.clear(), built.clear()
    assert validate_paths([str(project)]).state == state
    assert parsed == built == []
    monkeypatch.setenv(parsed_cache.NO_CACHE_ENV, "1")
    assert validate_paths([str(project)]).state == state
    assert parsed == built == []  # turned off: load_bytes as before, not through the cache


def test_a_file_with_a_problem_is_parsed_every_time_and_never_kept(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pasted = FILES["configs.yaml"].replace("the main one", f"the main one {CANARY}")
    (project / "configs.yaml").write_text(pasted)
    (project / "broken.yaml").write_text("apiVersion: llmform/v1\nconfigs: {x: [\n")
    (project / "literal.yaml").write_text(
        "apiVersion: llmform/v1\nconfigs:\n  - name: lit\n    workspace: dev\n"
        f"    factory: OpenAI\n    api_key: {CANARY}\n    models: [gpt-4o]\n"
    )
    parsed = parsed_files(monkeypatch)
    first = diagnostics(project)
    assert any("what looks like an API key" in d for d in first)
    assert diagnostics(project) == first
    assert diagnostics(project) == first
    assert parsed.count("configs.yaml") == 3
    assert parsed.count("broken.yaml") == parsed.count("literal.yaml") == 3
    assert parsed.count("local.yaml") == 2  # clean: from the cache the third time
    assert CANARY.encode() not in cache_bytes(Path(os.environ["LLMFORM_CACHE_DIR"]))


def pack(cache: Path, kind: str = "parsed") -> Path:
    (found,) = (cache / kind).glob("*.pack")
    return found


def built_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files built (not taken from the cache of built files) from now on, by name."""
    seen: list[str] = []
    build_file = built_load.build_file

    def counting(file: str, *args: Any) -> Any:
        seen.append(Path(file).name)
        return build_file(file, *args)

    monkeypatch.setattr(built_load, "build_file", counting)
    return seen


@pytest.mark.parametrize("kind", ["parsed", "built"])
@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "flipped",
        "entries_flipped",
        "other_version",
        "not_marshal",
        "empty",
        "foreign_entry",
        "group_writable",
        "folder_world_writable",
        "other_owner",
        "a_link",
    ],
)
def test_a_damaged_or_untrusted_cache_is_passed_over(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    damage: str,
    kind: str,
) -> None:
    cache = Path(os.environ["LLMFORM_CACHE_DIR"])
    expected = diagnostics(project)
    code, output = run(capsys, "plan", "--no-validate-keys", str(project))  # kept now
    if kind == "parsed":  # the built files' cache gone: the parsed one is read
        shutil.rmtree(cache / "built")
    path = pack(cache, kind)
    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    tag, _, index_at = header.split(b"|")
    entries, index = body[: int(index_at)], marshal.loads(body[int(index_at) :])

    def forge(new_entries: bytes, new_index: bytes) -> None:  # a pack whose checksum holds
        checksum = b"%08x" % zlib.crc32(new_index)
        fields = [tag, checksum, b"%016d" % len(new_entries)]
        path.write_bytes(b"|".join(fields) + b"\n" + new_entries + new_index)

    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        path.write_bytes(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
    elif damage == "entries_flipped":  # the index holds, each entry's own checksum does not
        changed = bytearray(entries)
        for offset, length, _ in index.values():
            if length:
                changed[offset + length // 2] ^= 1
        forge(bytes(changed), body[int(index_at) :])
    elif damage == "other_version":
        forge(entries, marshal.dumps(index))
        forged = path.read_bytes()  # the tag is hex: its first digit changed is another tag
        path.write_bytes((b"1" if forged[:1] == b"0" else b"0") + forged[1:])
    elif damage == "not_marshal":
        forge(entries, b"\x00garbage")
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "foreign_entry":  # each entry under another file's key
        keys = list(index)
        forge(
            entries,
            marshal.dumps({k: index[keys[(i + 1) % len(keys)]] for i, k in enumerate(keys)}),
        )
    elif damage == "group_writable":
        path.chmod(0o620)
    elif damage == "folder_world_writable":
        path.parent.chmod(0o777)
    elif damage == "other_owner":
        uid = os.geteuid() + 1
        monkeypatch.setattr(os, "geteuid", lambda: uid)
    elif damage == "a_link":
        elsewhere = path.parent.parent / "elsewhere.pack"
        path.rename(elsewhere)
        path.symlink_to(elsewhere)
    parsed = parsed_files(monkeypatch) if kind == "parsed" else built_files(monkeypatch)
    assert diagnostics(project) == expected
    assert sorted(parsed) == sorted(FILES)  # nothing taken from it
    assert run(capsys, "plan", "--no-validate-keys", str(project)) == (code, output)
    if damage in ("folder_world_writable", "other_owner"):
        assert len(parsed) == 2 * len(FILES)
        return  # not written to either
    parsed.clear()
    assert diagnostics(project) == expected  # rewritten by the runs that passed it over
    parsed.clear()
    assert diagnostics(project) == expected
    assert parsed == []
    assert pack(cache, kind).stat().st_mode & 0o777 == 0o600
    assert not pack(cache, kind).is_symlink()


def test_a_cache_deleted_between_or_during_runs_is_no_error(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = Path(os.environ["LLMFORM_CACHE_DIR"])
    expected = run(capsys, "plan", "--no-validate-keys", str(project))
    shutil.rmtree(cache)
    assert run(capsys, "plan", "--no-validate-keys", str(project)) == expected
    load = parsed_cache.ParsedCache.load

    def deleting(self: parsed_cache.ParsedCache, *args: Any, **kwargs: Any) -> Any:
        shutil.rmtree(cache, ignore_errors=True)  # under the run's feet
        return load(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(parsed_cache.ParsedCache, "load", deleting)
        assert run(capsys, "plan", "--no-validate-keys", str(project)) == expected
    assert run(capsys, "plan", "--no-validate-keys", str(project)) == expected
    assert (cache / "parsed").stat().st_mode & 0o777 == 0o700


def test_the_cache_is_owner_only(project: Path) -> None:
    mask = os.umask(0o002)  # the widest usual one
    try:
        validate_paths([str(project)])
    finally:
        os.umask(mask)
    cache = Path(os.environ["LLMFORM_CACHE_DIR"])
    assert cache.stat().st_mode & 0o777 == 0o700
    assert (cache / "parsed").stat().st_mode & 0o777 == 0o700
    assert pack(cache).stat().st_mode & 0o777 == 0o600
    assert not list((cache / "parsed").glob(".*"))  # no temporary file left behind


def test_a_folder_whose_name_is_not_utf8_is_cached_like_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORM_CACHE_DIR", str(tmp_path / "cache"))
    folder = os.fsdecode(os.fsencode(tmp_path) + b"/state-\xff")  # a surrogate escape in it
    os.mkdir(folder)
    Path(folder, "a.yaml").write_text("apiVersion: llmform/v1\nworkspaces:\n  - name: w\n")
    parsed = parsed_files(monkeypatch)
    for _ in range(3):
        assert validate_paths([folder]).ok
    assert parsed == ["a.yaml", "a.yaml"]
