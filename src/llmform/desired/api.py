"""What marks YAML as llmform's: the apiVersion key and value, and the cheap test of a file's
bytes that tells a file which cannot hold an llmform document (``identify`` decides on composed
nodes; this module needs no PyYAML, for the pre-commit hook's start-up)."""

from __future__ import annotations

import re

API_VERSION = "llmform/v1"
API_VERSION_KEY = "apiVersion"

# The cheap test of a file's bytes, for a caller handed files that are probably not ours (the
# pre-commit hook gets every staged YAML file): a file that matches neither cannot hold a
# document that identify() calls llmform's or a near miss, so it need not even be parsed.
_MAY_BE_OURS = re.compile(
    rb"(?i:l?lm[\W_]?f[or]{2}m)"
    rb"|(?im:(?:^|[{,])[ \t]*[\"']?(?:factor(?:y|ies)|workspaces?|configs?)[\"']?[ \t]*:)"
)


def may_be_llmform(raw: bytes) -> bool:
    return _MAY_BE_OURS.search(raw) is not None
