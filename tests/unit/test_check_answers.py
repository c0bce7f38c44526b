"""The bounds on a key check's answer (llmform.checks.answers), on both senders, against a real
local server (tests/support/misbehaving.py) that announces a gigabyte, streams an endless
chunked or unframed body, sends a gzip bomb or a head that never ends, or drips a byte at a
time: each check ends with its fixed message, in bounded memory and time, and quotes nothing
of the answer (every body echoes the key). An answer at the bound, plain or compressed, is
read whole.
"""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore
import httpx
import pytest
from support import misbehaving
from support.checking import SENDERS, FakeClock, run, target
from support.provider_servers import ProviderServer

from llmform.checks import answers
from llmform.checks.providers import Outcome
from llmform.checks.run import RetryPolicy

KEY = "sk-answer-bound-0123456789abcdef"
BACKUP = "sk-answer-bound-backup-0123456789"
DEADLINE = 1.0
# What a bounded read holds at most: the cap, and the pieces on their way (about 9 MB measured).
MEMORY_BOUND = 2 * misbehaving.CAP


def test_the_bounds_are_the_documented_ones() -> None:
    """The figures the messages, the README and the test server name."""
    assert answers.ANSWER_CAP == misbehaving.CAP == 8 * 1024 * 1024
    assert answers.HEAD_CAP == misbehaving.HEAD_CAP == 100 * 1024
    assert answers.ANSWER_DEADLINE == 30.0
    # the httpx path's head bound is httpcore's, which wire's copies
    assert httpcore.AsyncHTTP11Connection.MAX_INCOMPLETE_EVENT_SIZE == answers.HEAD_CAP


@dataclass(frozen=True)
class Case:
    name: str  # the server's behaviour, "streamed:<name>"
    outcome: Outcome
    detail: str  # after "the answer from 127.0.0.1:PORT "
    seconds: float  # at most this long


CASES = [
    Case("oversized", Outcome.ERROR, "announced more than 8 MiB; llmform does not read it", 5),
    Case("endless", Outcome.ERROR, "passed 8 MiB; llmform stops reading there", 10),
    Case("unannounced", Outcome.ERROR, "passed 8 MiB; llmform stops reading there", 10),
    Case("gzip-bomb", Outcome.ERROR, "passed 8 MiB decompressed; llmform stops reading there", 10),
    Case(
        "huge-head",
        Outcome.ERROR,
        "sent a head (or a chunk's framing) over 100 KiB; llmform stops reading there",
        5,
    ),
    Case(
        "drip",
        Outcome.UNREACHABLE,
        f"did not end within {DEADLINE:g} s; llmform stops waiting there",
        DEADLINE + 4,
    ),
]


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of Python's allocations inside the block (every thread's, the server's too)."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_an_answer_past_a_bound_ends_the_check_with_a_fixed_message(
    sender: str, case: Case
) -> None:
    misbehaving._bomb(KEY)  # made before memory is counted: the server's 64 MiB, not ours
    keys = {KEY: f"streamed:{case.name}"}
    with ProviderServer("openai", keys) as server, peak_memory() as peak:
        started = time.monotonic()
        report = run(
            [target("openai", server.api_base, [KEY], models=["gpt-4o"])],
            sender=sender,
            retry=RetryPolicy(max_retries=0),
            deadline=DEADLINE,
        )
        took = time.monotonic() - started
    key = report.configs[0].keys[0]
    port = server.url.rsplit(":", 1)[1]
    assert (key.outcome, key.detail) == (
        case.outcome,
        f"the answer from 127.0.0.1:{port} {case.detail}",
    )
    assert key.attempts == 1 and report.requests == 1
    assert took < case.seconds, took
    assert peak[0] < MEMORY_BOUND, peak[0]
    assert KEY not in repr(report)


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("name", ["full", "full-gzip"])
def test_an_answer_at_the_bound_is_read_whole(sender: str, name: str) -> None:
    """A model list of exactly 8 MiB (decompressed, for the gzipped one) is a model list: the
    model named last in it is found."""
    with ProviderServer("openai", {KEY: f"streamed:{name}"}) as server:
        report = run(
            [target("openai", server.api_base, [KEY], models=[f"last-{KEY}"])],
            sender=sender,
            retry=RetryPolicy(max_retries=0),
        )
    key = report.configs[0].keys[0]
    assert (key.outcome, key.detail, key.missing_models) == (Outcome.VALID, "", ())


@pytest.mark.parametrize(
    ("name", "outcome"), [("endless", Outcome.ERROR), ("drip", Outcome.UNREACHABLE)]
)
def test_a_bound_passed_is_retried_like_a_transport_failure(name: str, outcome: Outcome) -> None:
    """Not a verdict on the key: the next attempt waits the backoff and goes to the next key
    (as after a connection that broke or an answer that cannot be decoded), and the first key,
    not refused, is not taken for a bad one."""
    clock = FakeClock()
    with ProviderServer("openai", {KEY: f"streamed:{name}", BACKUP: "valid"}) as server:
        report = run(
            [target("openai", server.api_base, [KEY, BACKUP])], clock=clock, deadline=DEADLINE
        )
    config = report.configs[0]
    assert [(a.position, a.outcome, a.waited) for a in config.attempts] == [
        (0, outcome, 0.0),
        (1, Outcome.VALID, 1.0),
    ]
    assert clock.sleeps == [1.0]
    assert [k.outcome for k in config.keys] == [outcome, Outcome.VALID]
    assert not report.passed


BODY = b'{"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}' * 200


@pytest.mark.parametrize(
    ("coding", "sent"),
    [
        ("", BODY),
        ("identity", BODY),
        ("gzip", gzip.compress(BODY)),
        ("deflate", zlib.compress(BODY)),  # zlib-wrapped, as RFC 9110 means it
        ("deflate", zlib.compress(BODY)[2:-4]),  # raw, as some servers send it
        ("gzip, deflate", zlib.compress(gzip.compress(BODY))),  # undone from the last
        ("br, gzip", gzip.compress(BODY)),  # a coding httpx does not know is skipped, as there
    ],
)
@pytest.mark.parametrize("piece", [1, 7, 64 * 1024])
def test_a_body_is_decoded_as_httpx_decodes_it_in_pieces_of_any_size(
    coding: str, sent: bytes, piece: int
) -> None:
    body = answers.AnswerBody(httpx.Headers({"content-encoding": coding} if coding else {}))
    for start in range(0, len(sent), piece):
        body.feed(sent[start : start + piece])
    assert body.finish() == BODY
    assert httpx.Response(200, headers={"content-encoding": coding}, content=sent).content == BODY


@pytest.mark.parametrize(
    ("coding", "sent"),
    [("gzip", b"not gzip at all"), ("gzip, gzip, gzip", gzip.compress(BODY))],
    ids=["broken", "three codings"],
)
def test_a_body_that_cannot_be_decoded_is_a_decoding_error(coding: str, sent: bytes) -> None:
    """Which ``transport`` words as "could not be decoded"."""
    with pytest.raises(httpx.DecodingError):
        answers.AnswerBody(httpx.Headers({"content-encoding": coding})).feed(sent)
