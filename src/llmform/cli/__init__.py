"""The command line: click commands that parse options, call one library function, print the
result and map errors to exit codes. ``main`` is the console script's entry point
(``llmform.cli:main``, which runs the pre-commit hook's command line without importing click:
see entry.py); ``cli`` is the click group, for tools that read the commands' options.
"""

from __future__ import annotations

from .entry import main

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["cli", "main"]


def __getattr__(name: str) -> Any:
    if name == "cli":  # start-up time: click, imported by whoever asks for the group
        from .commands import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
