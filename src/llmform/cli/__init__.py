"""The command line: click commands that parse options, call one library function, print the
result and map errors to exit codes. ``main`` is the console script's entry point
(``llmform.cli:main``); ``cli`` is the click group, for tools that read the commands' options.
"""

from .main import cli, main

__all__ = ["cli", "main"]
