"""Request and token budgets: paced, not bursty; prompt wake-ups; server headers tighten them."""

from __future__ import annotations

import asyncio
import time

import pytest

from synthgen.llm.ratelimit import RateLimiter, parse_duration


def run(coro):
    return asyncio.run(coro)


async def _admit_times(limiter: RateLimiter, n: int, tokens: int = 0) -> list[float]:
    start = time.monotonic()
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire(tokens)
        times.append(time.monotonic() - start)

    await asyncio.gather(*(one() for _ in range(n)))
    return sorted(times)


def test_unlimited_is_free() -> None:
    async def main() -> float:
        limiter = RateLimiter(None, None)
        t = time.perf_counter()
        for _ in range(20000):
            limiter.settle(await limiter.acquire(1000), 10)
        return time.perf_counter() - t

    assert run(main()) < 0.2


def test_rpm_spreads_requests_after_a_small_burst() -> None:
    # rpm=600 is 10/s; burst_s=1 allows 10 at once, then one every 100 ms
    times = run(_admit_times(RateLimiter(600, None, burst_s=1.0), 25))
    assert times[9] < 0.05, "the first second's quota may start at once"
    assert times[10] > 0.07, "but not more than that"
    steady = (times[24] - times[9]) / 15
    assert steady == pytest.approx(0.1, rel=0.1)


def test_tpm_paces_by_reserved_tokens() -> None:
    # tpm=60000 is 1000 tokens/s; 200-token requests -> 5 requests/s after the burst
    times = run(_admit_times(RateLimiter(None, 60000, burst_s=1.0), 12, tokens=200))
    assert times[4] < 0.05
    steady = (times[11] - times[4]) / 7
    assert steady == pytest.approx(0.2, rel=0.1)


def test_both_budgets_must_allow() -> None:
    # the request budget (5/s) is tighter than the token budget here
    times = run(_admit_times(RateLimiter(300, 600000, burst_s=1.0), 10, tokens=10))
    assert (times[9] - times[4]) / 5 == pytest.approx(0.2, rel=0.1)


def test_refund_wakes_a_waiter_at_once() -> None:
    async def main() -> tuple[float, float]:
        limiter = RateLimiter(None, 600, burst_s=1.0)  # 10 tokens/s, capacity 10
        first = await limiter.acquire(10)
        assert first == 10
        assert limiter.delay_for(10) == pytest.approx(1.0, rel=0.05)
        start = time.monotonic()
        waiter = asyncio.ensure_future(limiter.acquire(10))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        limiter.settle(first, 0)  # the server used nothing: give it all back
        await waiter
        return time.monotonic() - start, limiter.delay_for(10)

    waited, after = run(main())
    assert waited < 0.2
    assert after > 0.5  # the waiter took what the refund gave back


def test_settle_charges_overuse_as_debt() -> None:
    async def main() -> float:
        limiter = RateLimiter(None, 6000, burst_s=1.0)  # 100 tokens/s, capacity 100
        reserved = await limiter.acquire(50)
        limiter.settle(reserved, 150)  # used 100 more than reserved: 100 - 50 - 100 = -50 left
        start = time.monotonic()
        await limiter.acquire(50)  # without the charge this would start at once
        return time.monotonic() - start

    assert run(main()) == pytest.approx(1.0, rel=0.1)


def test_oversized_request_runs_when_bucket_is_full() -> None:
    async def main() -> tuple[float, float]:
        limiter = RateLimiter(None, 6000, burst_s=1.0)  # capacity 100 tokens
        start = time.monotonic()
        await limiter.acquire(200)  # larger than capacity: admitted because the bucket is full
        first = time.monotonic() - start
        await limiter.acquire(10)  # the debt of 100 plus 10 refills at 100/s
        return first, time.monotonic() - start

    first, second = run(main())
    assert first < 0.05
    assert second == pytest.approx(1.1, rel=0.1)


def test_big_request_is_not_starved_by_small_ones() -> None:
    async def main() -> list[str]:
        limiter = RateLimiter(None, 6000, burst_s=1.0)
        await limiter.acquire(100)  # empty the bucket
        order: list[str] = []

        async def req(name: str, tokens: int) -> None:
            await limiter.acquire(tokens)
            order.append(name)

        tasks = [asyncio.ensure_future(req("big", 100))]
        await asyncio.sleep(0)
        tasks += [asyncio.ensure_future(req(f"small{i}", 5)) for i in range(3)]
        await asyncio.gather(*tasks)
        return order

    assert run(main())[0] == "big"


def test_waiting_does_not_busy_loop() -> None:
    async def main() -> None:
        limiter = RateLimiter(60, None, burst_s=1.0)  # 1/s
        await limiter.acquire()
        await limiter.acquire()  # waits a full second for the next request

    cpu, wall = time.process_time(), time.monotonic()
    run(main())
    assert time.monotonic() - wall == pytest.approx(1.0, rel=0.1)
    assert time.process_time() - cpu < 0.1


def test_pause_holds_everyone_then_restarts_paced() -> None:
    async def main() -> list[float]:
        limiter = RateLimiter(600, None, burst_s=1.0)
        limiter.pause_until(time.monotonic() + 0.3)
        return await _admit_times(limiter, 5)

    times = run(main())
    assert times[0] == pytest.approx(0.3, abs=0.05)
    # no burst after the pause: one at once, then the steady 10/s
    assert times[4] - times[0] == pytest.approx(0.4, rel=0.15)


def test_pause_applies_without_limits() -> None:
    async def main() -> float:
        limiter = RateLimiter(None, None)
        limiter.pause_until(time.monotonic() + 0.2)
        start = time.monotonic()
        await asyncio.gather(*(limiter.acquire(5) for _ in range(3)))
        return time.monotonic() - start

    assert run(main()) == pytest.approx(0.2, abs=0.05)


def test_headers_tighten_rate_and_remaining() -> None:
    async def main() -> tuple[float | None, float]:
        limiter = RateLimiter(600, None, burst_s=1.0)
        limiter.update_from_headers({
            "X-RateLimit-Limit-Requests": "120",  # case does not matter
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "30s",
        })
        start = time.monotonic()
        await limiter.acquire()
        return limiter.rpm, time.monotonic() - start

    rpm, waited = run(main())
    assert rpm == 120
    assert waited == pytest.approx(0.5, rel=0.1)  # 120/min refills one request per 0.5 s


def test_headers_never_loosen_a_configured_budget() -> None:
    limiter = RateLimiter(60, None)
    limiter.update_from_headers({"x-ratelimit-limit-requests": "10000", "x-ratelimit-remaining-requests": "9999"})
    assert limiter.rpm == 60


def test_headers_create_a_token_budget_when_none_was_configured() -> None:
    limiter = RateLimiter(None, None)
    limiter.update_from_headers({
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "100",
        "x-ratelimit-reset-tokens": "6m0s",
    })
    assert limiter.tpm == 30000 and limiter.rpm is None
    # 100 tokens are left; 600 more arrive at 500/s
    assert limiter.delay_for(700) == pytest.approx(1.2, rel=0.05)


def test_exhausted_slow_window_waits_for_the_server() -> None:
    # a limit that refills over an hour (e.g. per-day quota): the reset header governs, not limit/60
    limiter = RateLimiter(None, None)
    limiter.update_from_headers({
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "45m",
    })
    assert limiter.delay_for() == pytest.approx(270, rel=0.01)


@pytest.mark.parametrize("headers", [
    {"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "0",
     "x-ratelimit-reset-requests": "99999h"},
    {"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "-1e9"},
    {"x-ratelimit-limit-requests": "0.001", "x-ratelimit-remaining-requests": "5"},
    {"x-ratelimit-limit-requests": "1e308", "x-ratelimit-remaining-requests": "0",  # waited forever
     "x-ratelimit-reset-requests": "1h"},
])
def test_a_server_lying_in_its_headers_never_holds_us_past_a_retry_after(headers) -> None:
    # absurd resets, debts and limits stalled the run for days while the server kept answering
    limiter = RateLimiter(None, None)
    limiter.update_from_headers(headers)
    assert limiter.delay_for() <= 300.0
    assert limiter.rpm is None or limiter.rpm >= 1


def test_garbage_headers_are_ignored() -> None:
    limiter = RateLimiter(600, None)
    limiter.update_from_headers({"x-ratelimit-limit-requests": "lots", "x-ratelimit-reset-requests": "soon",
                                 "content-type": "application/json"})
    assert limiter.rpm == 600


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5", 0.5), ("250us", 0.00025),
     ("", None), ("soon", None), ("5x", None), ("1s2", None)],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_a_raised_server_limit_wakes_a_waiter() -> None:
    async def main() -> float:
        limiter = RateLimiter(None, None, burst_s=1.0)
        limiter.update_from_headers({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0"})
        start = time.monotonic()
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0.1)
        assert not waiter.done()  # 60/min: the next request is a second away
        limiter.update_from_headers({"x-ratelimit-limit-requests": "6000"})  # e.g. a tier upgrade
        await waiter
        return time.monotonic() - start

    assert run(main()) < 0.3
