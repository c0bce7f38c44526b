"""The command line: click commands that parse options, call one library function, print the
result and map errors to exit codes. ``main`` is the console script's entry point
(``llmform.cli:main``).
"""

from .main import main

__all__ = ["main"]
