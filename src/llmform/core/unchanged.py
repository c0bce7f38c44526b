"""What a plan compared and found unchanged, as a count and a digest rather than copies.

A plan at 100,000 configs where one changed holds one change: saved (``plan -o``) and as JSON it
is the size of its changes, not of the store. What it compared is still said, so that two plans
over the same resources can be told apart from two over different ones: how many were found
unchanged, and a digest of their addresses and ``resources.resource_digest`` s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .typed_json import Fields, count, matching, object_with


@dataclass(frozen=True)
class Unchanged:
    """How many resources a plan found unchanged and the digest of them (``unchanged_of``);
    ``digest`` is empty when ``count`` is 0."""

    count: int = 0
    digest: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "digest": self.digest}


def unchanged_of(digests: Mapping[str, str]) -> Unchanged:
    """``digests``: address -> ``resource_digest`` of each resource found unchanged. The digest
    is a sha256 over their sorted lines ``ADDRESS DIGEST``, so that plans that compared the same
    resources say so with the same value, however each recognised them as unchanged."""
    if not digests:
        return Unchanged()
    whole = hashlib.sha256()
    for line in sorted(f"{address} {digest}\n" for address, digest in digests.items()):
        whole.update(line.encode())  # line by line: no second copy of them all, joined
    return Unchanged(len(digests), "sha256:" + whole.hexdigest())


_DIGEST = matching(r"sha256:[0-9a-f]{64}", "'sha256:' and 64 hexadecimal digits")
_NO_DIGEST = matching(r"", "an empty digest where nothing was found unchanged")


def _unchanged(data: Fields) -> Unchanged:
    found = data.get("count", count)
    return Unchanged(found, data.get("digest", _DIGEST if found else _NO_DIGEST))


# The check of a saved plan's ``unchanged`` (``plan.plan_from_json``).
UNCHANGED = object_with(_unchanged)
