"""Answers a broken or hostile provider sends, written as they are made, and answers at the
bound: for the bounds on a key check's answer (llmform.checks.answers). A ``ProviderServer``
key whose behaviour is ``"streamed:<name>"`` gets the answer ``STREAMED[name]`` makes, on a
connection the server closes afterwards (or when the client hangs up: the endless ones end
only so).

Every body quotes the key it was asked with, as providers echo keys: nothing of it may reach
what a check shows.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

CAP = 8 * 1024 * 1024  # llmform.checks.answers.ANSWER_CAP, written out: the tests assert it
HEAD_CAP = 100 * 1024  # llmform.checks.answers.HEAD_CAP
DRIP_PAUSE = 0.05  # seconds between the bytes of a drip: far inside any read timeout


@dataclass(frozen=True)
class Streamed:
    """An answer as raw bytes (status line, head and body, framed by the maker), in pieces,
    ``pause`` seconds apart."""

    pieces: Iterator[bytes]
    pause: float = 0.0


def _head(*headers: str, status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode()


def _list_item(key: str) -> bytes:
    return json.dumps({"id": f"model-for-{key}", "object": "model"}).encode() + b","


def _forever(head: bytes, key: str, frame: Callable[[bytes], bytes] = bytes) -> Iterator[bytes]:
    """``head``, then a model list that never ends, each piece framed by ``frame``."""
    yield head
    yield frame(b'{"object": "list", "data": [')
    piece = frame(_list_item(key) * (64 * 1024 // len(_list_item(key))))
    while True:
        yield piece


def oversized(key: str) -> Streamed:
    """Announces a gigabyte, and sends it for as long as it is read."""
    head = _head("content-type: application/json", f"content-length: {1024**3}")
    return Streamed(_forever(head, key))


def endless(key: str) -> Streamed:
    """A chunked model list that never ends."""
    head = _head("content-type: application/json", "transfer-encoding: chunked")
    return Streamed(_forever(head, key, _chunk))


def unannounced(key: str) -> Streamed:
    """HTTP/1.0 style: no length, the body ends when the connection does: never."""
    head = b"HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n"
    return Streamed(_forever(head, key))


def drip(key: str) -> Streamed:
    """A valid model list of a few KiB, one byte every ``DRIP_PAUSE`` seconds."""
    body = json.dumps({"object": "list", "data": [{"id": key, "object": "model"}] * 100}).encode()

    def pieces() -> Iterator[bytes]:
        yield _head("content-type: application/json", f"content-length: {len(body)}")
        for i in range(len(body)):
            yield body[i : i + 1]

    return Streamed(pieces(), pause=DRIP_PAUSE)


@functools.cache
def _bomb(key: str) -> bytes:
    # one gzip member (a decoder stops at the end of the first): 64 MiB as 64 KiB, under the
    # cap as sent, 8x over it decompressed
    return gzip.compress(
        b'{"object": "list", "data": [' + _list_item(key) + b" " * (64 * 1024 * 1024),
        compresslevel=9,
    )


def _gzipped(body: bytes) -> Streamed:
    """``body`` (gzip already) in one piece, its length announced."""
    head = _head(
        "content-type: application/json", "content-encoding: gzip", f"content-length: {len(body)}"
    )
    return Streamed(iter((head, body)))


def gzip_bomb(key: str) -> Streamed:
    """A model list whose gzip is 64 KiB and whose content is 64 MiB, most of it spaces."""
    return _gzipped(_bomb(key))


def huge_head(key: str) -> Streamed:
    """A head that does not end: header lines of 1 KiB, each quoting the key."""

    def pieces() -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        line = f"x-echo: {key} {'x' * 1000}\r\n".encode()
        for n in itertools.count():
            yield line.replace(b"x-echo", b"x-echo-%d" % n)

    return Streamed(pieces())


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _full_list(last: str) -> bytes:
    """A model list of exactly ``CAP`` bytes whose last model is ``last``."""
    tail = json.dumps({"id": last, "object": "model"}).encode() + b"]}"
    head = b'{"object": "list", "data": ['
    item = json.dumps({"id": "m" * 100, "object": "model"}).encode() + b","
    count = (CAP - len(head) - len(tail)) // len(item)
    pad = CAP - len(head) - len(tail) - count * len(item)
    body = head + item * count + b" " * pad + tail
    assert len(body) == CAP
    return body


def full(key: str) -> Streamed:
    """A valid answer at the bound: a chunked model list of exactly ``CAP`` bytes, whose last
    model is named after the key."""
    body = _full_list(f"last-{key}")

    def pieces() -> Iterator[bytes]:
        yield _head("content-type: application/json", "transfer-encoding: chunked")
        for start in range(0, len(body), 60_000):
            yield _chunk(body[start : start + 60_000])
        yield b"0\r\n\r\n"

    return Streamed(pieces())


def full_gzip(key: str) -> Streamed:
    """``full``'s list gzipped: exactly ``CAP`` bytes decompressed."""
    return _gzipped(gzip.compress(_full_list(f"last-{key}")))


# By the name a behaviour gives: "streamed:<name>".
STREAMED: dict[str, Callable[[str], Streamed]] = {
    "oversized": oversized,
    "endless": endless,
    "unannounced": unannounced,
    "drip": drip,
    "gzip-bomb": gzip_bomb,
    "huge-head": huge_head,
    "full": full,
    "full-gzip": full_gzip,
}


def write(stream: Streamed, out: Callable[[bytes], object], flush: Callable[[], object]) -> None:
    """Send ``stream`` until it ends or the client hangs up."""
    try:
        for piece in stream.pieces:
            out(piece)
            flush()
            if stream.pause:
                time.sleep(stream.pause)
    except OSError:  # the client hung up: the end of every endless answer
        return
