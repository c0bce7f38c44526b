"""One redaction function for every text that may quote a secret: a provider's error message,
Vault's error text, an exception's text on its way to output.

Servers quote what they were sent in many shapes, so each secret the process holds (every live
``SecretValue``: keys, Vault tokens, secret_ids, passwords, JWTs) is looked for in each of them:

- the value itself, and any run of ``GRAM`` or more of its characters (a provider that echoes
  ``sk-abc…xyz`` or the first 20 characters, a message cut in the middle of the key);
- its escaped and quoted forms: JSON (``\\"``, ``\\/``, ``\\uXXXX``), Python ``repr`` of the
  str and of its bytes, backslash escapes, URL encoding (``%2F`` and ``%2f``, ``+`` for space,
  or every byte escaped), HTML entities, hex;
- base64 (standard or URL-safe, at any alignment) whose decoded bytes hold the value or a run
  of it, such as Basic auth's ``user:key``.

Each stretch found becomes ``[key]``. Redact before cutting a text short: a cut can leave a
piece of a secret too short to be recognised.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from ..console import printable
from .base import generation, live_values

MASK = "[key]"
GRAM = 8  # a run this long of a secret (in any form) is redacted wherever it appears
SHORTEST = 5  # values shorter than this are not looked for whole (they would match words)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")


def forms(value: str) -> set[str]:
    """The shapes in which ``value`` may come back quoted."""
    out = {value}
    dumped = json.dumps(value)[1:-1]
    out |= {dumped, dumped.replace("/", "\\/"), json.dumps(value, ensure_ascii=False)[1:-1]}
    out |= {repr(value)[1:-1], repr(value.encode("utf-8", "replace"))[2:-1]}
    out.add(value.encode("unicode_escape").decode("ascii"))
    for encoded in (quote(value, safe=""), quote(value), quote_plus(value)):
        out |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)}
    out.add(html.escape(value))
    raw = value.encode("utf-8", "surrogatepass")
    out |= {raw.hex(), raw.hex().upper()}  # a dump of the request's bytes
    every = "".join(f"%{byte:02X}" for byte in raw)  # every byte escaped, not just the unsafe
    out |= {every, every.lower()}
    return {f for f in out if f}


class _Index:
    """Every form of every secret, as whole values and as runs of ``GRAM`` characters."""

    def __init__(self, values: Iterable[str]) -> None:
        self.grams: set[str] = set()
        self.whole: set[str] = set()
        for value in values:
            if len(value) < SHORTEST:
                continue
            for form in forms(value):
                if len(form) < GRAM:
                    self.whole.add(form)
                for i in range(len(form) - GRAM + 1):
                    self.grams.add(form[i : i + GRAM])

    def __bool__(self) -> bool:
        return bool(self.grams or self.whole)

    def marks(self, text: str) -> bytearray:
        """1 for each character of ``text`` that belongs to a secret's form."""
        marked = bytearray(len(text))
        grams = self.grams
        for i in range(len(text) - GRAM + 1):
            if text[i : i + GRAM] in grams:
                marked[i : i + GRAM] = b"\1" * GRAM
        for form in self.whole:
            start = text.find(form)
            while start >= 0:
                marked[start : start + len(form)] = b"\1" * len(form)
                start = text.find(form, start + 1)
        return marked

    def holds(self, text: str) -> bool:
        return any(self.marks(text))


_cache: tuple[int, _Index] | None = None
_cache_lock = threading.Lock()


def _index() -> _Index:
    global _cache
    with _cache_lock:
        if _cache is None or _cache[0] != generation():
            made_at, values = live_values()
            _cache = (made_at, _Index(values))
        return _cache[1]


def redact(text: str, extra: Iterable[str] = (), keep: int | None = None) -> str:
    """``text`` with every secret the process holds, in every form above, replaced by
    ``[key]``; ``extra`` adds values that are not (or no longer) in a ``SecretValue``.
    ``keep``: only the first ``keep`` characters of ``text`` are returned (redacted), the rest
    serving as context, so that a secret running past ``keep`` is still recognised."""
    if not text:
        return text
    keep = len(text) if keep is None else keep
    extras = [e for e in extra if e]
    found = [_marks(i, text) for i in (_index(), _Index(extras) if extras else None) if i]
    if not any(any(marked) for marked in found):
        return text[:keep]
    marked = found[0]
    for other in found[1:]:  # rare: values given as well as held
        marked = bytearray(a | b for a, b in zip(marked, other, strict=True))
    return _masked(text, marked, keep)


# How much of a server's text is read, and how much shown by default. The cut at READ_LIMIT
# comes before redaction, so the secret it may split leaves a head too short to be
# recognised (under GRAM characters, or a few base64 characters of one), and masks shorten
# the text before it (a key quoted a hundred times in a row becomes one "[key]"), which
# could bring that head into view. So the CUT_MARGIN characters before such a cut are read,
# as the context that recognises a secret running into them, but never shown.
READ_LIMIT = 4000
SHOWN_LIMIT = 300
CUT_MARGIN = 2 * GRAM


def shown(text: str, limit: int = SHOWN_LIMIT, mask: re.Pattern[str] | None = None) -> str:
    """What of a server's (or an exception's) text may be shown: redacted, with ``mask``'s
    matches masked too, on one printable line, and only then cut to ``limit`` characters."""
    if len(text) > READ_LIMIT:
        text = redact(text[:READ_LIMIT], keep=READ_LIMIT - CUT_MARGIN)
    else:
        text = redact(text)
    if mask is not None:
        text = mask.sub(MASK, text)
    return printable(" ".join(text.split()))[:limit]


def _marks(index: _Index, text: str) -> bytearray:
    marked = index.marks(text)
    for match in _BASE64.finditer(text):
        if _decodes_to_secret(index, match.group(0)):
            marked[match.start() : match.end()] = b"\1" * (match.end() - match.start())
    return marked


def _masked(text: str, marked: bytearray, keep: int) -> str:
    """``text[:keep]`` with each run of marked characters replaced by one ``MASK``."""
    out: list[str] = []
    i = 0
    while i < keep:
        if marked[i]:
            while i < keep and marked[i]:
                i += 1
            out.append(MASK)
        else:
            j = i
            while j < keep and not marked[j]:
                j += 1
            out.append(text[i:j])
            i = j
    return "".join(out)


def _decodes_to_secret(index: _Index, run: str) -> bool:
    body = run.rstrip("=")
    for skip in range(4):  # the run may start inside a base64 quantum of a longer text
        chunk = body[skip:]
        chunk = chunk[: len(chunk) - len(chunk) % 4]
        if len(chunk) < 8:
            continue
        for alphabet in (b"+/", b"-_"):
            try:
                raw = base64.b64decode(chunk, altchars=alphabet, validate=True)
            except (binascii.Error, ValueError):
                continue
            if index.holds(raw.decode("latin-1")):
                return True
    return False
