"""How long a retry waits: the server's Retry-After first, else capped exponential backoff."""

from __future__ import annotations

import asyncio
import email.utils

import httpx2
import openai
import pytest

from synthgen.llm.retry import Backoff, retry_after_seconds, retrying


@pytest.mark.parametrize("headers,seconds", [
    ({"retry-after-ms": "250"}, 0.25),
    ({"retry-after-ms": "junk", "retry-after": "3"}, 3.0),
    ({"retry-after": "1.5"}, 1.5),
    ({"retry-after": email.utils.formatdate(1_000_030, usegmt=True)}, 30.0),
    ({"retry-after": "not a date"}, None),
    ({}, None),
])
def test_retry_after(headers, seconds):
    assert retry_after_seconds(headers, now=lambda: 1_000_000) == seconds


class State:
    """What tenacity hands a wait strategy: the attempt number and its outcome."""

    def __init__(self, attempt_number: int, exc: BaseException) -> None:
        self.attempt_number = attempt_number
        self.outcome = self

        def exception():
            return exc

        self.exception = exception


def test_backoff_grows_with_jitter_up_to_its_cap():
    wait = Backoff(base=0.5, cap=4.0)
    waits = [wait(State(n, TimeoutError())) for n in range(1, 8)]
    assert 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0
    assert all(2.0 <= w <= 4.0 for w in waits[4:])  # capped, with jitter below the cap


def test_one_policy_for_chat_and_batch_calls_waits_out_retry_after():
    """`retrying` serves chat requests and the Batch API's file and batch calls alike: a 429's
    Retry-After is waited out, a 404 is not asked again."""
    def refusal(cls, status, headers):
        request = httpx2.Request("GET", "http://x/v1/files")
        response = httpx2.Response(status, headers=headers, request=request)
        return cls("refused", response=response, body=None)

    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    async def call(errors):
        async for attempt in retrying(3, sleep=sleep):
            with attempt:
                if errors:
                    raise errors.pop(0)
                return "ok"

    assert asyncio.run(call([refusal(openai.RateLimitError, 429, {"retry-after-ms": "1200"})])) == "ok"
    assert waits == [1.2]
    with pytest.raises(openai.NotFoundError):
        asyncio.run(call([refusal(openai.NotFoundError, 404, {})]))
    assert waits == [1.2]
