"""Escaping for every string a renderer emits, one set of functions per output format.

Plans carry strings that users and servers control: label keys, option names, descriptions,
model names, addresses of rows another tool wrote, a provider's error text. Printed raw, a
newline forges plan lines, an escape sequence drives the terminal right before the ``yes``
prompt, a ``|`` or a backtick breaks a pull-request comment out of its table or code block.

Each renderer passes every such string through its format's function at the point where it
is placed (``text``/``value`` for the terminal, ``md_text``/``md_code``/``md_html`` for
markdown, JSON through ``json_dumps``), and joins its lines with ``text_lines`` or
``md_lines``, which escape whatever else is not printable on a line: a string a renderer
forgot cannot add a line or a control character, whatever it holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from ...console import printable

# -- the terminal ----------------------------------------------------------------------------

_SGR = re.compile(r"\x1b\[[0-9;]*m")  # the colour codes console.paint writes


def text(value: object) -> str:
    """A name, an address or prose, on one line, with nothing a terminal would act on."""
    return printable(str(value))


def value(data: object) -> str:
    """A value as JSON text (quoted, ``\\n`` and ``"`` escaped), with nothing a terminal would
    act on (JSON leaves C1 controls, bidi overrides and line separators raw)."""
    return printable(json.dumps(data, ensure_ascii=False))


def text_lines(lines: Iterable[str], color: bool = False) -> str:
    """``lines`` joined by newlines, each line escaped but for the colour codes ``paint``
    added (with ``color``): a newline or a control character inside a line is data."""
    return "\n".join(_safe_line(line, color) for line in lines)


def _safe_line(line: str, color: bool) -> str:
    if line.isprintable():
        return line
    if not color:
        return printable(line)
    parts = _SGR.split(line)
    codes = _SGR.findall(line)
    out = [printable(parts[0])]
    for code, part in zip(codes, parts[1:], strict=True):
        out += [code, printable(part)]
    return "".join(out)


# -- markdown (a GitHub pull-request comment) ------------------------------------------------

# Characters with a meaning inside a markdown line (emphasis, code, links and images, table
# cells, strikethrough, math; "(" and "!" mean something only next to a "["); a backslash
# makes each literal (CommonMark: any ASCII punctuation may be backslash-escaped). &, < and >
# become entities, so no HTML tag (``</details>``, ``<img>``) can open or close.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")
# "@name" in a comment notifies that user or team; a zero-width space after the "@" (as an
# entity, visible in the source) keeps the text and drops the notification.
# It runs after the backslash escapes: "@\_x" renders as "@_x", so a backslash may come between.
_MENTION = re.compile(r"@(?=\\?[A-Za-z0-9_-])")
_NO_MENTION = "@&#8203;"
# What starts a block when it starts a line, or a list item's text: a heading, a quote, a list,
# a setext underline, an ordered list's "1." (escaped at its "."), indentation (a code block).
_BLOCK_START = re.compile(r"^(?:([#>+=-])|(\d{1,9})([.)])| )")
# GitHub turns "https://…" and "www.…" in text into links: a server's message could plant one.
# A backslash before the ":" or the "." keeps the text and drops the link (emails are broken
# up by the "@" above).
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp)(:)(?=//)|\b(www)(\.)")


def md_text(value: object) -> str:
    """Literal text in a markdown paragraph, list item or table cell."""
    escaped = _MD_SPECIAL.sub(r"\\\1", _html(printable(str(value))))
    escaped = _AUTOLINK.sub(lambda m: f"{m[1] or m[3]}\\{m[2] or m[4]}", escaped)
    escaped = _BLOCK_START.sub(_inert_start, escaped, count=1)
    return _MENTION.sub(_NO_MENTION, escaped)


def _inert_start(match: re.Match[str]) -> str:
    if match[1]:
        return "\\" + match[1]
    if match[2]:
        return f"{match[2]}\\{match[3]}"
    return "&#32;"  # a space that is text, not indentation


def md_html(value: object) -> str:
    """Literal text inside an HTML element (``<summary>``)."""
    return _MENTION.sub(_NO_MENTION, _html(printable(str(value))))


def md_code(value: object, table: bool = False) -> str:
    """A code span holding ``value`` literally: delimited by more backticks than any run in
    it, and in a table cell with ``|`` escaped (GFM splits cells before reading code)."""
    body = printable(str(value))
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith(("`", " ")) or body.endswith(("`", " ")):
        body = f" {body} "
    if table:
        body = body.replace("|", "\\|")
    return f"{fence}{body}{fence}"


def md_fence(body: Iterable[str]) -> str:
    """A code fence longer than any run of backticks in ``body`` (a value may hold some)."""
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def md_lines(lines: Iterable[str]) -> str:
    """``lines`` joined by newlines, each escaped: a newline inside a line is data."""
    return "\n".join(printable(line) for line in lines)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- JSON ------------------------------------------------------------------------------------


def json_dumps(document: Any) -> str:
    """``document`` as indented JSON, non-ASCII text kept readable, but every character that is
    not printable written as a ``\\u`` escape: ``ensure_ascii=False`` would leave C1 controls,
    bidi overrides and U+2028/2029 raw, and a terminal or a JavaScript reader acts on them."""
    dumped = json.dumps(document, indent=2, ensure_ascii=False)
    if dumped.replace("\n", "").isprintable():
        return dumped
    # Inside JSON strings json.dumps has escaped every newline: the raw ones are its layout.
    return "".join(c if c.isprintable() or c == "\n" else _u_escape(c) for c in dumped)


def _u_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
