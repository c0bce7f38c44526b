"""The cache of built files (desired/built_cache.py) and the config digests kept in it change
nothing but speed.

Against a store applied from the state and planned twice (so that every file's build and every
config's digest are kept), random edits to the files, random secret values and random edits of
the store behind llmform's back (rows updated or deleted) give the same plan, text and JSON,
and the same exit code with the cache as without it, through the CLI, and no secret value
reaches the cache; a factory changed, moved or overriding the catalog's rebuilds the files
whose configs use it; a warm plan digests no unchanged config, and one whose secret was rotated
is digested and diffed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.store_edits import STORE_EDITS, edit_row
from test_parsed_cache import (
    CANARY,
    ENV_NAMES,
    FILES,
    built_files,
    cache_bytes,
    edited,
    edits,
    plans,
    project,
    run,
    write_state,
)

from llmform.core import resources
from llmform.desired import parsed_cache
from llmform.desired.validate import validate_paths
from llmform.engine import plan_reads

__all__ = ["project"]  # the fixture


def applied(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, state: Path
) -> str:
    """A new store with ``FILES`` applied, and their builds and digests in the cache."""
    monkeypatch.delenv(parsed_cache.NO_CACHE_ENV, raising=False)
    for name in ENV_NAMES:
        monkeypatch.setenv(name, f"sk-applied-{name}-0123456789")
    write_state(state, FILES)
    store = f"sqlite:///{state.parent / f'registry-{secrets.token_hex(4)}.db'}"
    code, output = run(
        capsys, "--store", store, "apply", "--auto-approve", "--no-validate-keys", str(state)
    )
    assert code == 0, output
    for _ in range(2):  # kept on the second run in a row; the digests on the third
        assert run(capsys, "--store", store, "plan", "--no-validate-keys", str(state))[0] == 0
    return store


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    changes=edits,
    values=st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=40)), min_size=3, max_size=3),
    rows=st.lists(st.tuples(st.sampled_from(STORE_EDITS), st.integers(0, 20)), max_size=3),
)
def test_random_edits_and_store_edits_plan_alike_with_and_without_the_cache(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    changes: list[tuple[str, tuple[str, Any]]],
    values: list[str | None],
    rows: list[tuple[tuple[str, str], int]],
) -> None:
    store = applied(capsys, monkeypatch, project)
    for name, value in zip(ENV_NAMES, values, strict=True):
        if value is not None and "\0" not in value:  # None: the value it was applied with
            monkeypatch.setenv(name, value)
    for (table, change), position in rows:
        edit_row(Path(store.removeprefix("sqlite:///")), table, change, position)
    write_state(project, edited(FILES, changes))
    cold_or_warm = plans(capsys, monkeypatch, project, cache=True, store=store)
    again = plans(capsys, monkeypatch, project, cache=True, store=store)
    without = plans(capsys, monkeypatch, project, cache=False, store=store)
    assert cold_or_warm == without
    assert again == without
    found = cache_bytes(Path(os.environ["LLMFORM_CACHE_DIR"]))
    assert CANARY.encode() not in found
    assert not any(value.encode() in found for value in values if value and len(value) > 8)


def uncached(monkeypatch: pytest.MonkeyPatch, state: Path) -> Any:
    with monkeypatch.context() as patched:
        patched.setenv(parsed_cache.NO_CACHE_ENV, "1")
        return validate_paths([str(state)])


def test_a_changed_factory_rebuilds_the_files_that_use_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        validate_paths([str(project)])
    built = built_files(monkeypatch)
    # local.yaml declares Local and uses it: a model added changes its configs' factory
    extra = "      - {name: llama, type: chat}\n      - {name: qwen, type: chat}\n"
    local = FILES["local.yaml"].replace("      - {name: llama, type: chat}\n", extra)
    (project / "local.yaml").write_text(local)
    found = validate_paths([str(project)])
    assert built == ["local.yaml"]  # the other files use catalog factories only
    assert found == uncached(monkeypatch, project)
    assert found.state is not None
    assert [m.name for m in found.state.factories["Local"].models] == ["llama", "qwen"]
    # a factory moved to a file of its own: the file that uses it is built with it again
    factory, _, configs = local.partition("configs:\n")
    (project / "local.yaml").write_text("apiVersion: llmform/v1\nconfigs:\n" + configs)
    (project / "factory.yaml").write_text(factory)
    for _ in range(3):
        moved = validate_paths([str(project)])
        assert moved.state == found.state
        assert moved == uncached(monkeypatch, project)
    # the catalog's OpenAI overridden by a file after those that use it: built again with it
    (project / "zz-openai.yaml").write_text(
        "apiVersion: llmform/v1\nfactories:\n  - name: OpenAI\n    type: openai\n"
        "    api_base: https://proxy.example/v1\n    models:\n"
        "      - {name: gpt-4o, type: chat}\n"
        "      - {name: text-embedding-3-small, type: embedding}\n"
    )
    built.clear()
    overridden = validate_paths([str(project)])
    assert "configs.yaml" in built
    assert overridden == uncached(monkeypatch, project)
    assert overridden.state is not None
    assert overridden.state.configs["prod", "main"].api_base == "https://proxy.example/v1"


def test_a_warm_plan_digests_no_unchanged_config(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = applied(capsys, monkeypatch, project)
    digested: list[str] = []
    digest, config_digest = plan_reads.resource_digest, resources.config_digest

    def counting(resource: Any) -> str:
        digested.append(resource.address)
        return digest(resource)

    def counting_config(config: Any, *args: Any, **kwargs: Any) -> Any:
        digested.append(config.address)
        return config_digest(config, *args, **kwargs)

    monkeypatch.setattr(plan_reads, "resource_digest", counting)
    monkeypatch.setattr(resources, "config_digest", counting_config)
    code, output = run(capsys, "--store", store, "plan", "--no-validate-keys", str(project))
    assert code == 0
    assert not [address for address in digested if address.startswith("config.")]
    assert "No changes" in output
    monkeypatch.setenv("KEY_MAIN", "sk-rotated-0123456789")  # its fingerprint changed
    digested.clear()
    code, output = run(capsys, "--store", store, "plan", "--no-validate-keys", str(project))
    assert "config.prod/main" in digested and "config.dev/deep" not in digested
    assert "~ config.prod/main" in output


WS = "apiVersion: llmform/v1\nworkspaces:\n  - name: {name}\n{extra}"
CONFIG = (
    "apiVersion: llmform/v1\nconfigs:\n  - name: {name}\n    workspace: {workspace}\n"
    "    factory: {factory}\n    api_key: {{env: KEY_MAIN}}\n    models: [{model}]\n"
)
LOCAL = (
    "apiVersion: llmform/v1\nfactories:\n  - name: {name}\n    type: openai\n"
    "    api_base: http://10.0.0.1/v1\n    models:\n      - {{name: m1, type: chat}}\n"
)

# States of several files whose files are each fine alone: what only the checks across files
# can find (or find fine), file name -> text
ACROSS_FILES: dict[str, dict[str, str]] = {
    "a config's workspace in another file": {
        "a.yaml": CONFIG.format(name="c", workspace="w", factory="OpenAI", model="gpt-4o"),
        "b.yaml": WS.format(name="w", extra=""),
    },
    "an unknown workspace": {
        "a.yaml": CONFIG.format(name="c", workspace="nowhere", factory="OpenAI", model="gpt-4o"),
        "b.yaml": WS.format(name="w", extra=""),
    },
    "a workspace in two files": {
        "a.yaml": WS.format(name="w", extra=""),
        "b.yaml": WS.format(name="w", extra=""),
    },
    "a config in two files": {
        "a.yaml": CONFIG.format(name="c", workspace="w", factory="OpenAI", model="gpt-4o"),
        "b.yaml": CONFIG.format(name="c", workspace="w", factory="OpenAI", model="gpt-4o"),
        "c.yaml": WS.format(name="w", extra=""),
    },
    "a factory in two files": {
        "a.yaml": LOCAL.format(name="Local"),
        "b.yaml": LOCAL.format(name="Local"),
    },
    "a factory declared after the file that uses it": {
        "a.yaml": CONFIG.format(name="c", workspace="w", factory="Local", model="m1"),
        "b.yaml": WS.format(name="w", extra=""),
        "z.yaml": LOCAL.format(name="Local"),
    },
    "an unknown factory": {
        "a.yaml": CONFIG.format(name="c", workspace="w", factory="Nowhere", model="m1"),
        "b.yaml": WS.format(name="w", extra=""),
    },
    "a default naming a config of another file": {
        "a.yaml": CONFIG.format(name="c", workspace="w", factory="OpenAI", model="gpt-4o"),
        "b.yaml": WS.format(name="w", extra="    defaults: {chat: c/gpt-4o}\n"),
    },
    "a default naming a model the config lacks": {
        "a.yaml": CONFIG.format(name="c", workspace="w", factory="OpenAI", model="gpt-4o"),
        "b.yaml": WS.format(name="w", extra="    defaults: {chat: c/gpt-4o-mini}\n"),
    },
    "a default of the wrong type": {
        "a.yaml": CONFIG.format(name="c", workspace="w", factory="OpenAI", model="gpt-4o"),
        "b.yaml": WS.format(name="w", extra="    defaults: {embedding: c/gpt-4o}\n"),
    },
    "a default naming no config": {
        "a.yaml": CONFIG.format(name="c", workspace="w", factory="OpenAI", model="gpt-4o"),
        "b.yaml": WS.format(name="w", extra="    defaults: {chat: d/gpt-4o}\n"),
    },
}


@pytest.mark.parametrize("files", ACROSS_FILES.values(), ids=ACROSS_FILES)
def test_the_checks_across_files_find_what_the_whole_state_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]
) -> None:
    monkeypatch.setenv("LLMFORM_CACHE_DIR", str(tmp_path / "cache"))
    state = tmp_path / "state"
    state.mkdir()
    write_state(state, files)
    expected = uncached(monkeypatch, state)
    for _ in range(2):  # cold, then kept
        assert validate_paths([str(state)]) == expected
    built = built_files(monkeypatch)
    assert validate_paths([str(state)]) == expected
    if expected.ok:  # every file's build from the cache, the checks across files on them
        assert built == []
