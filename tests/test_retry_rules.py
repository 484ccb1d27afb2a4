"""How long a retry waits: the server's Retry-After first, else capped exponential backoff."""

from __future__ import annotations

import email.utils

import pytest

from synthgen.llm.retry import Backoff, retry_after_seconds


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
