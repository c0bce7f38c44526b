"""The progress line of long runs: a bar redrawn in place on a terminal, one line in a log."""

from __future__ import annotations

import io

import pytest

from llmform.console import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "calls", "expected"),
    [
        (
            Terminal(),
            [(0, 4), (1, 4), (4, 4)],
            "\rKey checks [------------------------] 0/4 configs"
            "\rKey checks [######------------------] 1/4 configs"
            "\rKey checks [########################] 4/4 configs\n",
        ),
        (
            Terminal(),
            [(0, 1), (1, 1)],
            "\rKey checks [-" + "-" * 23 + "] 0/1 config"
            "\rKey checks [" + "#" * 24 + "] 1/1 config\n",
        ),
        (io.StringIO(), [(0, 4), (1, 4), (4, 4)], "Key checks: 4 configs...\n"),
        (Terminal(), [(0, 0)], ""),  # nothing to check: nothing to show
        (io.StringIO(), [(0, 0)], ""),
    ],
    ids=["terminal", "terminal-one", "log", "terminal-empty", "log-empty"],
)
def test_progress(stream: io.StringIO, calls: list[tuple[int, int]], expected: str) -> None:
    progress = Progress("Key checks", "config", stream)
    for done, total in calls:
        progress(done, total)
    assert stream.getvalue() == expected
