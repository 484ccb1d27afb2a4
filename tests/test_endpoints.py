"""Endpoint pool: balanced, routes around failures, never stuck."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter

import pytest

from synthgen.llm.endpoints import EndpointPool

A, B, C = "http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1", "http://127.0.0.1:8003/v1"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_idle_pool_goes_round_robin() -> None:
    pool = EndpointPool([A, B, C])
    picks = []
    for _ in range(6):
        url = pool.pick()
        picks.append(url)
        pool.release(url)
    assert picks == [A, B, C, A, B, C]


def test_least_in_flight_wins() -> None:
    pool = EndpointPool([A, B, C])
    held = [pool.pick() for _ in range(6)]
    assert Counter(held) == {A: 2, B: 2, C: 2}
    pool.release(B)
    pool.release(B)
    assert pool.pick() == B  # B now has the fewest requests in flight


def test_faster_server_gets_more_work() -> None:
    latency = {A: 0.002, B: 0.02}

    async def main() -> Counter[str]:
        pool = EndpointPool([A, B])
        served: Counter[str] = Counter()
        sem = asyncio.Semaphore(8)

        async def request() -> None:
            async with sem:
                url = pool.pick()
                await asyncio.sleep(latency[url])
                served[url] += 1
                pool.release(url)

        await asyncio.gather(*(request() for _ in range(200)))
        return served

    served = asyncio.run(main())
    assert served[A] > 2 * served[B]


def picks(pool: EndpointPool, n: int = 4) -> set[str]:
    """The servers `n` idle requests go to."""
    out = set()
    for _ in range(n):
        url = pool.pick()
        pool.release(url)
        out.add(url)
    return out


def test_failed_endpoint_sits_out_a_doubling_cooldown() -> None:
    clock = Clock()
    pool = EndpointPool([A, B], cooldown_s=10, max_cooldown_s=35, clock=clock)
    assert [pool.mark_failed(A) for _ in range(4)] == [10, 20, 35, 35]
    assert picks(pool, 5) == {B}
    clock.t += 34.9
    assert picks(pool) == {B}
    clock.t += 0.2
    assert picks(pool) == {A, B}  # back after its cooldown, without anyone calling mark_ok


def test_mark_ok_restores_and_resets_the_backoff() -> None:
    clock = Clock()
    pool = EndpointPool([A, B], cooldown_s=10, clock=clock)
    pool.mark_failed(A)
    pool.mark_failed(A)
    pool.mark_ok(A)
    assert picks(pool) == {A, B}
    assert pool.mark_failed(A) == 10


def test_all_cooling_uses_the_one_that_recovers_first() -> None:
    clock = Clock()
    pool = EndpointPool([A, B, C], cooldown_s=10, clock=clock)
    pool.mark_failed(A)
    pool.mark_failed(A)  # 20 s
    pool.mark_failed(B)  # 10 s
    clock.t += 1
    pool.mark_failed(C)  # 10 s, but ends a second after B's
    assert [pool.pick() for _ in range(3)] == [B, B, B]


@pytest.mark.parametrize("url,needle", [
    ("http://[::1/v1", "is not a valid URL"),
    ("http://user:pw@127.0.0.1:9/v1", "carries user:password@"),
    ("http://127.0.0.1:99999/v1", "is not a valid URL"),
    ("ftp://127.0.0.1/v1", "is not an http(s) URL"),
    ("http://127.0.0.1:9/openai/v1/?api-version=2024-10-21", "carries a query"),  # was a bare 404
])
def test_a_bad_base_url_is_one_line_and_exit_2(tmp_path, write_config, url, needle) -> None:
    cfg = write_config(url)
    r = subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out",
                        str(tmp_path / "run"), "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "pw@" not in r.stderr
