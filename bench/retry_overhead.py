"""CPU per request of the tenacity retry layer against the plain loop it replaced, in one run.

    python bench/retry_overhead.py            # 7 interleaved pairs of 20000 calls each

Both wrap the same attempt (a coroutine that returns at once, so only the layer is measured) with
the same rules: `retry.is_transient`, `retry.Backoff`, `llm.max_attempts` = 6. Then, for scale, a
whole `LLMClient.chat` against the scripted server (subprocess, zero latency, concurrency 64):
the layer's share of the client's CPU per request. Medians of the pairs are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from synthgen.config import LLMConfig
from synthgen.llm.client import LLMClient
from synthgen.llm.retry import Backoff, is_transient

MAX_ATTEMPTS = 6


async def attempt() -> int:
    return 1


async def with_tenacity() -> int:
    retrying = AsyncRetrying(stop=stop_after_attempt(MAX_ATTEMPTS), wait=Backoff(),
                             retry=retry_if_exception(is_transient), reraise=True)
    async for a in retrying:
        with a:
            return await attempt()
    raise AssertionError


async def with_loop() -> int:
    """The loop `LLMClient.chat` had before tenacity (without its sleeps, never reached here)."""
    tried = 0
    while True:
        tried += 1
        try:
            return await attempt()
        except Exception as exc:
            if not is_transient(exc) or tried >= MAX_ATTEMPTS:
                raise


async def cpu_per_call(fn, n: int) -> float:
    cpu = time.process_time()
    for _ in range(n):
        await fn()
    return (time.process_time() - cpu) / n * 1e6


async def client_cpu_per_request(url: str, n: int) -> float:
    client = LLMClient(LLMConfig(model="scripted", concurrency=64), [url], "sk-bench")
    msgs = [{"role": "user", "content": "write a query about rivers"}]
    sem = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        async with sem:
            await client.chat(msgs, seed=i)

    try:
        await asyncio.gather(*(one(i) for i in range(200)))  # warm up
        cpu = time.process_time()
        await asyncio.gather(*(one(i) for i in range(n)))
        return (time.process_time() - cpu) / n * 1e6
    finally:
        await client.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    extra = []
    for i in range(args.pairs):
        order = (with_tenacity, with_loop) if i % 2 == 0 else (with_loop, with_tenacity)
        got = {fn.__name__: asyncio.run(cpu_per_call(fn, args.calls)) for fn in order}
        extra.append(got["with_tenacity"] - got["with_loop"])
        print(f"pair {i + 1}: tenacity {got['with_tenacity']:.1f} us, loop {got['with_loop']:.1f} us", flush=True)
    server = subprocess.Popen([sys.executable, "-m", "synthgen.testing", "--port", "0", "--idle-exit-seconds", "60"],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split()[-1]  # type: ignore[union-attr]
        client = statistics.median(asyncio.run(client_cpu_per_request(url, args.requests)) for _ in range(3))
    finally:
        server.terminate()
        server.wait()
    layer = statistics.median(extra)
    print(f"tenacity costs {layer:.1f} us CPU per request more than the plain loop (median of {args.pairs} pairs)")
    print(f"LLMClient.chat costs {client:.0f} us CPU per request: the difference is {100 * layer / client:.1f}% of it")


if __name__ == "__main__":
    main()
