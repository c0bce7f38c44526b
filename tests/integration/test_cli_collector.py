"""A command's run makes no pass of the cyclic garbage collector over what it loaded: the
desired state, the store's resources and the plan live until the command ends, and walking them
again and again was a large share of a big plan's CPU. The collector is counted through
``gc.callbacks`` while the CLI runs in this process, and is as it was once the command returns.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from llmform.cli import commands, entry, guard, main, validating

CONFIGS, WORKSPACES = 600, 20


def write_state(folder: Path) -> None:
    """Enough configs that a run allocates what would trigger full collections."""
    lines = ["apiVersion: llmform/v1", "workspaces:"]
    lines += [f"  - name: ws{w:02d}\n    labels: {{team: t{w % 3}}}" for w in range(WORKSPACES)]
    lines.append("configs:")
    for i in range(CONFIGS):
        lines += [
            f"  - name: c{i:04d}",
            f"    workspace: ws{i % WORKSPACES:02d}",
            "    factory: OpenAI",
            f"    api_key: {{env: COLLECTOR_KEY_{i % 5}}}",
            f"    models: [gpt-4o, text-embedding-3-small, {{name: ft-{i}, type: chat}}]",
        ]
    folder.mkdir()
    (folder / "llmform.yaml").write_text("\n".join(lines) + "\n")


@contextmanager
def collections_counted(monkeypatch: pytest.MonkeyPatch | None = None) -> Iterator[list[int]]:
    """The generation of each collection started while inside; with ``monkeypatch``, only
    those started while the command runs (``run_guarded``, through click or the fast path of
    validate), not the one the caller's collector may make once it is back."""
    started: list[int] = []
    running: list[bool] = []
    if monkeypatch is not None:
        command = guard.run_guarded

        def marked(*args: Any, **kwargs: Any) -> Any:
            running.append(True)
            try:
                return command(*args, **kwargs)
            finally:
                running.pop()

        monkeypatch.setattr(entry, "run_guarded", marked)
        monkeypatch.setattr(commands, "run_guarded", marked)

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and (running or monkeypatch is None):
            started.append(info["generation"])

    gc.collect()  # nothing pending from before
    gc.callbacks.append(count)
    try:
        yield started
    finally:
        gc.callbacks.remove(count)


@pytest.mark.parametrize(
    "command",
    [
        ["validate"],
        ["apply", "--auto-approve", "--no-validate-keys"],
        ["plan", "--no-validate-keys"],
        ["plan", "--no-validate-keys", "--format", "json"],
    ],
)
def test_a_run_makes_no_collection(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for k in range(5):
        monkeypatch.setenv(f"COLLECTOR_KEY_{k}", f"sk-collector-{k:04d}")
    write_state(tmp_path / "state")
    if command[0] == "plan":  # a plan over a store that holds the state: read, diffed, shown
        assert main(["--no-color", "apply", "--auto-approve", "--no-validate-keys", "state"]) == 0
    assert gc.isenabled()
    with collections_counted(monkeypatch) as started:
        code = main(["--no-color", *command, "state"])
    output = capsys.readouterr()
    assert code == 0, output.out + output.err
    assert started == [], f"collections of generations {sorted(set(started))}"
    assert gc.isenabled()  # an in-process caller keeps its collector


def test_the_counter_sees_collections_when_the_collector_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The test above cannot pass by counting nothing: a collection while the command runs is
    counted, one after it is not."""

    def collecting(*args: Any, **kwargs: Any) -> int:
        gc.collect(2)
        return 0

    monkeypatch.setattr(validating, "validate_command", collecting)
    with collections_counted(monkeypatch) as started:
        main(["validate"])
        gc.collect(1)
    assert started == [2]
