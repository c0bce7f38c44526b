"""Bounds on a key check's answer, which both senders (``wire``, and httpx's client in ``pools``)
read through: its body, its head, and (in ``run``) the time the whole exchange may take.

An endpoint is trusted before a key is sent to it, but a trusted endpoint can still be broken
or hostile: a body of gigabytes, an endless chunked stream, a gzip bomb (a few hundred KiB that
decompress to gigabytes), a head that never ends, or one byte a second (each read is within
the timeout, the answer never is). A key check needs a status and a small JSON body, so it reads
at most ``ANSWER_CAP`` bytes, decompressed and as sent, and refuses an answer that announces
more before reading it.

The figure: the largest answers a check reads are model lists, not errors. OpenAI's, Gemini's
(one page of up to 1000) and Bedrock's are tens to a hundred-odd KiB; the largest catalogues
an ``openai-compatible`` endpoint may list (OpenRouter's, Hugging Face's router: hundreds of
models with descriptions and prices) are about a MiB and growing. 8 MiB leaves those room
several times over, and bounds what a run holds of answers to ``parallelism`` x 8 MiB (80 MiB
at the default 10).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping

import httpx

ANSWER_CAP = 8 * 1024 * 1024
# A head (status line and headers), or one line of a chunked body's framing, that does not end
# within this many bytes. httpcore's own bound (``AsyncHTTP11Connection
# .MAX_INCOMPLETE_EVENT_SIZE``), which the httpx path cannot change: the same here, so that
# both senders refuse the same heads.
HEAD_CAP = 100 * 1024
# The whole exchange of one request (connecting, sending, and reading the answer to its last
# byte), beside the per-step timeout of each connect, write and read (10 s): one byte every
# few seconds passes each step's timeout, never this.
ANSWER_DEADLINE = 30.0

# What zlib hands over at a time: a gzip bomb inflates 1000-fold, so the output is taken in
# pieces counted against the cap, never a whole input chunk's worth at once.
_PIECE = 64 * 1024
# More codings than this on one answer are refused (as not decodable): each is a decompressor,
# and a head of 100 KiB can name thousands ("gzip, gzip, ...").
_MAX_CODINGS = 2


def size_text(size: int) -> str:
    """``8 MiB``, ``100 KiB``: the bounds as the messages name them."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


class AnswerTooLarge(Exception):
    """The answer passed a bound; ``cause`` says which (``CAUSES``). It carries no text from the
    answer: ``transport`` turns it into fixed words."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


# Each cause's words, after "the answer from HOST" (``transport.transport_reply``).
CAUSES = {
    "announced": f"announced more than {size_text(ANSWER_CAP)}; llmform does not read it",
    "body": f"passed {size_text(ANSWER_CAP)}; llmform stops reading there",
    "decoded": f"passed {size_text(ANSWER_CAP)} decompressed; llmform stops reading there",
    "head": f"sent a head (or a chunk's framing) over {size_text(HEAD_CAP)}; llmform stops "
    "reading there",
}


class _Inflate:
    """One gzip or deflate layer, decompressed in pieces of at most ``_PIECE`` bytes. Deflate
    as httpx reads it: zlib-wrapped, or raw when the first two bytes are no zlib header
    (servers send both)."""

    def __init__(self, coding: bytes) -> None:
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16) if coding == b"gzip" else None
        self._head = b""  # a deflate body's first bytes, until they tell which it is

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            self._head += data
            if len(self._head) < 2 and data:
                return
            data, self._head = self._head, b""
            self._zlib = zlib.decompressobj(
                zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS
            )
        try:
            while True:
                piece = self._zlib.decompress(data, _PIECE)
                data = self._zlib.unconsumed_tail
                if piece:
                    yield piece
                # a full piece may leave output behind even when no input is left
                if len(piece) < _PIECE and not data:
                    return
        except zlib.error:
            raise httpx.DecodingError("the answer's compression is broken") from None


def _zlib_header(data: bytes) -> bool:
    """Whether ``data`` begins with a zlib header (RFC 1950: deflate, a multiple of 31)."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


class AnswerBody:
    """An answer's body as it arrives, decoded and counted: ``AnswerTooLarge`` once the bytes
    as sent or the bytes decoded pass ``ANSWER_CAP``. It decodes what httpx would (gzip and
    deflate, in the reverse order of Content-Encoding, other codings skipped), so that
    httpx, given the decoded body, decodes nothing again (``answer_response``)."""

    def __init__(self, headers: httpx.Headers) -> None:
        codings: list[bytes] = []
        for name, value in headers.raw:  # one pass: this is on every check's way
            name = name.lower()
            if name == b"content-length":
                if value.strip().isdigit() and int(value) > ANSWER_CAP:
                    raise AnswerTooLarge("announced")
            elif name == b"content-encoding":
                codings += (c.strip().lower() for c in value.split(b","))
        self.encoded = bool(codings)  # whether the headers name a coding, known or not
        self._layers = [_Inflate(c) for c in reversed(codings) if c in (b"gzip", b"deflate")]
        if len(self._layers) > _MAX_CODINGS:
            raise httpx.DecodingError("too many content codings")
        self._received = 0
        self._size = 0
        self._parts: list[bytes] = []

    @property
    def decoded(self) -> bool:
        """Whether the body was decoded (its length as sent is not its length)."""
        return bool(self._layers)

    def feed(self, data: bytes) -> None:
        self._received += len(data)
        if self._received > ANSWER_CAP:
            raise AnswerTooLarge("body")
        if self._layers:
            self._keep(self._through(0, data))
        else:  # as sent: counted above
            self._parts.append(data)

    def finish(self) -> bytes:
        """The whole decoded body, once the answer has ended."""
        for depth in range(len(self._layers)):
            # what the layer still holds, through the layers after it
            self._keep(
                piece
                for held in self._layers[depth].feed(b"")
                for piece in self._through(depth + 1, held)
            )
        return b"".join(self._parts)

    def _through(self, depth: int, data: bytes) -> Iterator[bytes]:
        if depth == len(self._layers):
            yield data
            return
        for piece in self._layers[depth].feed(data):
            yield from self._through(depth + 1, piece)

    def _keep(self, pieces: Iterator[bytes]) -> None:
        for piece in pieces:
            self._size += len(piece)
            if self._size > ANSWER_CAP:
                raise AnswerTooLarge("decoded")
            self._parts.append(piece)


def answer_response(
    request: httpx.Request,
    status: int,
    headers: httpx.Headers,
    body: AnswerBody,
    extensions: Mapping[str, object],
) -> httpx.Response:
    """The answer as the adapters read it. Its body is decoded already, so its headers name no
    coding (httpx would decode it again, unbounded; a body in a coding httpx does not know
    either stays as sent) and, once decoded, not the length as sent."""
    content = body.finish()
    if body.encoded:
        dropped = (
            (b"content-encoding", b"content-length") if body.decoded else (b"content-encoding",)
        )
        headers = httpx.Headers([(k, v) for k, v in headers.raw if k.lower() not in dropped])
    response = httpx.Response(
        status,
        headers=headers,
        stream=httpx.ByteStream(content),
        request=request,
        extensions=extensions,
    )
    response.read()  # the stream is the bytes above: nothing to decode, only to keep
    return response
