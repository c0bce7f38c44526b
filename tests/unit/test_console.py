"""Console helpers: the progress line of long runs, and escaping what is printed."""

from __future__ import annotations

import io

import pytest

from llmform.console import Progress, printable


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
    now = [0.0]
    progress = Progress("Key checks", "config", stream, clock=lambda: now[0])
    for done, total in calls:
        progress(done, total)
        now[0] += 1.0  # slower than the redraws: every call is drawn
    assert stream.getvalue() == expected


def test_a_terminal_bar_is_redrawn_at_most_ten_times_a_second() -> None:
    """Thousands of configs finishing within a second are not thousands of redraws; the start
    and the end are always drawn."""
    stream, now = Terminal(), [0.0]
    progress = Progress("Key checks", "config", stream, clock=lambda: now[0])
    for done in range(1001):
        progress(done, 1000)
        now[0] += 0.001
    drawn = stream.getvalue().split("\r")[1:]
    assert drawn[0] == "Key checks [" + "-" * 24 + "] 0/1000 configs"
    assert drawn[-1] == "Key checks [" + "#" * 24 + "] 1000/1000 configs\n"
    assert len(drawn) == 2 + 9  # one each 0.1 s over the run's second, the last one at the end
    assert drawn[1] == "Key checks [##----------------------] 100/1000 configs"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text, é 中", "plain text, é 中"),
        ("two\nlines", "two\\x0alines"),
        ("cr\rover", "cr\\x0dover"),
        ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
        ("c1 \x9b2J", "c1 \\x9b2J"),
        ("bidi \u202eevil", "bidi \\u202eevil"),
        ("line sep \u2028", "line sep \\u2028"),
        ("tab\there", "tab\\x09here"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(shown) == shown  # already safe: left alone
