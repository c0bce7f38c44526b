"""Keys pasted into plain-text fields: refused, never quoted.

Every field of a document that is not a secret reference is stored as it is written and shown
in plans, saved plans, exports and audit events: a description, a label, a tag, a name, a
provider option, a model. An API key pasted into one would be printed everywhere, so validate
refuses any such field that holds one (``secret_shapes.holds_key``: a known key prefix with a
random run after it). References have their own check (``reference_secret``) and so does
``api_base`` (``url_secret``), each with a message of its own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from ..errors import Diagnostic, Location, error
from .loader import Document
from .secret_shapes import MIN_RANDOM_RUN, SECRET_FIELDS, format_path, holds_key

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any

CHECKED_ELSEWHERE = frozenset({*SECRET_FIELDS, "api_base"})
MESSAGE = (
    "what looks like an API key is written here as plain text (not shown); llmform stores and "
    "prints this field: remove it, and keep the key in api_key as a reference, e.g. {env: "
    "OPENAI_API_KEY}"
)


def keys_in_text(document: Document, reported: Collection[Location] = ()) -> Iterator[Diagnostic]:
    """An error for each plain-text field (a mapping key or a string) of ``document`` that
    holds an API key, unless a problem is ``reported`` at its place already (the schema's
    own message for a key-shaped value says "not shown" too)."""
    if document.keyless:
        return
    for path, key in _found(document.data):
        where = document.locate(path, key=key)
        if where not in reported:  # (format_path leaves a key-shaped name out of the path)
            yield error(where, format_path(path), MESSAGE)


Path = tuple[str | int, ...]


def _found(root: Any) -> Iterator[tuple[Path, bool]]:
    """(path, whether it is a mapping key) of each string under ``root`` that holds a key,
    except under the fields ``CHECKED_ELSEWHERE``."""
    stack: list[tuple[Any, Path]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if _keyish(node):
                yield path, False
        elif isinstance(node, dict):
            for name, value in node.items():
                if _keyish(name):
                    yield (*path, name), True
                if name not in CHECKED_ELSEWHERE:
                    stack.append((value, (*path, name)))
        elif isinstance(node, list):
            stack.extend((value, (*path, index)) for index, value in enumerate(node))


def _keyish(step: object) -> bool:
    return isinstance(step, str) and len(step) >= MIN_RANDOM_RUN and holds_key(step)
