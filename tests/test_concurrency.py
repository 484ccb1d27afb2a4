"""Adaptive concurrency: holds the limit, grows additively, halves once per 429 burst."""

from __future__ import annotations

import asyncio

from synthgen.llm.ratelimit import AdaptiveConcurrency

SPENT = {"x-ratelimit-remaining-requests": "0"}  # a 429 that holds for the whole key


def run(coro):
    return asyncio.run(coro)


class Peak:
    """Counts requests really running at once, as a server would see them."""

    def __init__(self) -> None:
        self.now = self.peak = 0

    async def request(self, seconds: float) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        await asyncio.sleep(seconds)
        self.now -= 1


def test_never_more_in_flight_than_the_limit() -> None:
    async def main() -> tuple[int, int]:
        limiter = AdaptiveConcurrency(3)
        server = Peak()

        async def job() -> None:
            async with limiter.slot():
                await server.request(0.01)

        await asyncio.gather(*(job() for _ in range(30)))
        return server.peak, limiter.in_flight

    assert run(main()) == (3, 0)


def test_grows_by_one_per_window_of_successes() -> None:
    async def main() -> list[int]:
        limiter = AdaptiveConcurrency(2, maximum=4)
        seen: list[int] = []

        async def job() -> None:
            async with limiter.slot() as epoch:
                await asyncio.sleep(0.005)
                limiter.success(epoch)
                seen.append(limiter.limit)

        await asyncio.gather(*(job() for _ in range(20)))
        return seen

    seen = run(main())
    assert seen[:2] == [2, 3]  # two successes at limit 2 earn +1
    assert max(seen) == 4 and seen[-1] == 4  # capped at maximum


def test_does_not_grow_when_the_limit_is_not_what_holds_us_back() -> None:
    async def main() -> int:
        limiter = AdaptiveConcurrency(8)
        for _ in range(50):  # one request at a time: the limit of 8 is never reached
            async with limiter.slot() as epoch:
                limiter.success(epoch)
        return limiter.limit

    assert run(main()) == 8


def test_a_burst_of_429s_cuts_once() -> None:
    async def main() -> tuple[int, int, list[bool]]:
        limiter = AdaptiveConcurrency(16)
        release = asyncio.Event()
        outcomes: list[bool] = []

        async def job() -> None:
            async with limiter.slot() as epoch:
                await release.wait()
                before = limiter.cuts
                limiter.rate_limited(epoch, SPENT)
                outcomes.append(limiter.cuts > before)

        tasks = [asyncio.ensure_future(job()) for _ in range(16)]
        await asyncio.sleep(0.01)
        assert limiter.in_flight == 16
        release.set()
        await asyncio.gather(*tasks)
        return limiter.limit, limiter.cuts, outcomes

    limit, cuts, outcomes = run(main())
    assert (limit, cuts) == (8, 1)
    assert outcomes.count(True) == 1


def test_a_429_after_the_cut_cuts_again_but_not_below_minimum() -> None:
    async def main() -> list[tuple[int, int]]:
        limiter = AdaptiveConcurrency(8, minimum=3)
        history = []
        for _ in range(4):
            async with limiter.slot() as epoch:  # each request starts after the previous cut
                limiter.rate_limited(epoch, SPENT)
            history.append((limiter.limit, limiter.cuts))
        return history

    assert run(main()) == [(4, 1), (3, 2), (3, 2), (3, 2)]


def test_lowering_the_limit_lets_in_flight_requests_finish() -> None:
    async def main() -> tuple[int, int, int]:
        limiter = AdaptiveConcurrency(8)
        server = Peak()
        gate = asyncio.Event()
        finished = 0

        async def first_wave() -> None:
            nonlocal finished
            async with limiter.slot() as epoch:
                await gate.wait()
                limiter.rate_limited(epoch, SPENT)
                finished += 1

        async def second_wave() -> None:
            async with limiter.slot():
                await server.request(0.01)

        wave1 = [asyncio.ensure_future(first_wave()) for _ in range(8)]
        await asyncio.sleep(0.01)
        wave2 = [asyncio.ensure_future(second_wave()) for _ in range(20)]
        await asyncio.sleep(0.01)
        assert limiter.in_flight == 8  # the second wave waits
        gate.set()
        await asyncio.gather(*wave1, *wave2)
        return finished, server.peak, limiter.limit

    finished, peak, limit = run(main())
    assert finished == 8  # nothing was cancelled
    assert limit == 4 and peak == 4  # the later wave only ever ran 4 at a time


async def _hold(limiter: AdaptiveConcurrency, done: asyncio.Event) -> None:
    async with limiter.slot():
        await done.wait()


def test_waiters_are_served_in_order_and_cancellation_frees_the_place() -> None:
    async def main() -> tuple[list[int], int]:
        limiter = AdaptiveConcurrency(1)
        order: list[int] = []
        done = asyncio.Event()
        holder = asyncio.ensure_future(_hold(limiter, done))
        await asyncio.sleep(0)

        async def job(i: int) -> None:
            async with limiter.slot():
                order.append(i)
                await asyncio.sleep(0)

        tasks = [asyncio.ensure_future(job(i)) for i in range(5)]
        await asyncio.sleep(0)
        tasks[2].cancel()
        done.set()
        await asyncio.gather(holder, *tasks, return_exceptions=True)
        return order, limiter.in_flight

    order, in_flight = run(main())
    assert order == [0, 1, 3, 4]
    assert in_flight == 0


def test_urgent_waiters_go_first() -> None:
    # a retry must not queue behind every first attempt: commits wait for it in plan order
    async def main() -> list[str]:
        lim = AdaptiveConcurrency(1, minimum=1, maximum=1)
        order: list[str] = []
        done = asyncio.Event()
        holder = asyncio.ensure_future(_hold(lim, done))
        await asyncio.sleep(0)

        async def one(name: str, urgent: bool) -> None:
            async with lim.slot(urgent):
                order.append(name)

        tasks = [asyncio.ensure_future(one(f"first{i}", False)) for i in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.ensure_future(one("retry", True)))
        await asyncio.sleep(0)
        done.set()
        await asyncio.gather(holder, *tasks)
        return order

    assert asyncio.run(main()) == ["retry", "first0", "first1", "first2"]


def test_a_cancel_as_the_place_is_handed_over_passes_it_on() -> None:
    async def main() -> tuple[bool, int]:
        limiter = AdaptiveConcurrency(1)
        done = asyncio.Event()
        holder = asyncio.ensure_future(_hold(limiter, done))
        await asyncio.sleep(0)
        unlucky = asyncio.ensure_future(_hold(limiter, asyncio.Event()))
        await asyncio.sleep(0)
        nxt = asyncio.ensure_future(_hold(limiter, done))
        await asyncio.sleep(0)
        done.set()
        await asyncio.sleep(0)  # the holder leaves and hands its place to `unlucky`...
        unlucky.cancel()  # ...which is cancelled before it runs
        await asyncio.gather(holder, nxt, unlucky, return_exceptions=True)
        return nxt.done() and not nxt.cancelled(), limiter.in_flight

    assert run(main()) == (True, 0)
