"""How much does the openai SDK cost per request, and which way of calling it costs least?

Starts a local aiohttp server in a subprocess (fixed ~1 KB chat.completion after a fixed latency),
then sends the same N requests at concurrency C through several client paths and prints wall time,
client CPU per request and the ratio to a bare aiohttp loop run alongside.

    python bench/sdk_overhead.py                    # 2000 requests, concurrency 64, 50 ms
    python bench/sdk_overhead.py -n 500 --httpx     # also the SDK's default httpx transport

Wall time is only meaningful on an otherwise idle machine (the load average is printed); client
CPU per request is the steadier figure. Rounds interleave the variants and medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-bench0000000000000000000000",
    "object": "chat.completion",
    "created": 1730000000,
    "model": "bench-model",
    "choices": [{
        "index": 0,
        "message": {
            "role": "assistant",
            "content": json.dumps({
                "user_query": "how do transformer embeddings handle long documents",
                "positive_document": "Long documents are split into passages that fit the context window; "
                                     "each passage is embedded and the vectors are pooled or indexed separately. " * 3,
                "hard_negative_document": "Recurrent networks process tokens one at a time and were the common "
                                          "choice for sequence modelling before attention.",
            }),
            "refusal": None,
        },
        "logprobs": None,
        "finish_reason": "stop",
    }],
    "usage": {"prompt_tokens": 412, "completion_tokens": 156, "total_tokens": 568},
    "system_fingerprint": "fp_bench",
}

REQUEST: dict[str, Any] = {
    "model": "bench-model",
    "messages": [
        {"role": "system", "content": "You are generating training data for a text retrieval model."},
        {"role": "user", "content": "Brainstorm one example for the task: retrieve scientific papers. " * 4},
    ],
    "max_tokens": 512,
    "temperature": 1.0,
    "top_p": 1.0,
    "response_format": {"type": "json_object"},
}


# ---------------------------------------------------------------- server (subprocess)

def serve(latency: float, lifetime: float) -> None:
    from aiohttp import web

    body = json.dumps(COMPLETION).encode()

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(latency)
        return web.Response(body=body, content_type="application/json",
                            headers={"x-ratelimit-remaining-requests": "9999"})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"PORT {port}", flush=True)
        # stop by ourselves: after `lifetime`, or as soon as the parent closes our stdin
        loop = asyncio.get_running_loop()
        eof = loop.run_in_executor(None, sys.stdin.read)
        await asyncio.wait([eof], timeout=lifetime)
        await runner.cleanup()
        os._exit(0)

    asyncio.run(main())


class Server:
    def __init__(self, latency: float, lifetime: float = 600.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--latency", str(latency), "--lifetime", str(lifetime)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"bench server did not start: {line!r}")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}/v1"

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---------------------------------------------------------------- client paths

Call = Callable[[], Awaitable[Any]]


async def run_load(call: Call, n: int, concurrency: int) -> None:
    """`concurrency` workers pull from a shared counter: the driver itself costs almost nothing."""
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def sdk_client(base_url: str, transport: str) -> Any:
    import openai

    http_client = {
        "aiohttp": openai.DefaultAioHttpClient,
        "httpx": openai.DefaultAsyncHttpxClient,
    }[transport]()
    return openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0, http_client=http_client)


async def make_variant(name: str, base_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    """(call, close) for one client path."""
    if name == "bare aiohttp":
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1000),
            headers={"Authorization": "Bearer sk-bench"},
        )
        url = base_url + "/chat/completions"

        async def bare() -> Any:
            async with session.post(url, json=REQUEST) as resp:
                return json.loads(await resp.read())

        return bare, session.close

    import httpx2
    import openai

    from synthgen.llm.client import post_chat

    transport = name.split(": ", 1)[0].removeprefix("SDK+")
    client = sdk_client(base_url, transport)
    completions = client.chat.completions
    calls: dict[str, Call] = {
        "create": lambda: completions.create(**REQUEST),
        "with_raw_response.create": lambda: _raw(completions.with_raw_response.create(**REQUEST)),
        "post cast_to=ChatCompletion": lambda: client.post(
            "/chat/completions", body=REQUEST, cast_to=openai.types.chat.ChatCompletion),
        "post cast_to=httpx2.Response": lambda: _json(client.post(
            "/chat/completions", body=REQUEST, cast_to=httpx2.Response, options={"timeout": 60.0})),
        "synthgen post_chat": lambda: post_chat(client, REQUEST, 60.0, 8 << 20),
    }
    key = name.split(": ", 1)[1]
    return calls[key], client.close


async def _raw(coro: Awaitable[Any]) -> Any:
    raw = await coro
    return json.loads(raw.content)


async def _json(coro: Awaitable[Any]) -> Any:
    response = await coro
    return json.loads(response.content)


async def measure(name: str, base_url: str, n: int, concurrency: int) -> dict[str, float]:
    call, close = await make_variant(name, base_url)
    try:
        await run_load(call, min(n, 4 * concurrency), concurrency)  # warm up connections and caches
        gc.collect()
        cpu0, t0 = time.process_time(), time.perf_counter()
        await run_load(call, n, concurrency)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        await close()
    return {"wall_s": wall, "cpu_ms_per_req": 1000 * cpu / n}


VARIANTS = [
    "bare aiohttp",
    "SDK+aiohttp: create",
    "SDK+aiohttp: with_raw_response.create",
    "SDK+aiohttp: post cast_to=ChatCompletion",
    "SDK+aiohttp: post cast_to=httpx2.Response",
    "SDK+aiohttp: synthgen post_chat",
]


async def bench(args: argparse.Namespace, base_url: str) -> dict[str, list[dict[str, float]]]:
    names = VARIANTS + (["SDK+httpx: create", "SDK+httpx: synthgen post_chat"] if args.httpx else [])
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    # rounds outside, variants inside: a busy spell on the machine hits every variant alike
    for round_no in range(args.repeat):
        for name in names:
            r = await measure(name, base_url, args.n, args.concurrency)
            runs[name].append(r)
            print(f"  round {round_no + 1}  {name:45s} {r['wall_s']:6.2f} s  {r['cpu_ms_per_req']:6.3f} ms CPU/req",
                  flush=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="requests per variant")
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency, seconds")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--httpx", action="store_true", help="also measure the SDK's default httpx transport")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.latency, args.lifetime)
        return

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    server = Server(args.latency)
    try:
        ideal = args.n / args.concurrency * args.latency
        print(f"{args.n} requests, concurrency {args.concurrency}, latency {args.latency * 1000:.0f} ms "
              f"(ideal {ideal:.2f} s), {args.repeat} interleaved rounds")
        print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
        runs = asyncio.run(bench(args, server.base_url))
    finally:
        server.stop()
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    base = statistics.median(r["wall_s"] for r in runs["bare aiohttp"])
    print(f"\n{'':47s}{'wall median':>12s}{'(min)':>8s}{'CPU ms/req':>12s}{'vs bare':>9s}  (target <= 1.5x)")
    for name, rs in runs.items():
        wall = statistics.median(r["wall_s"] for r in rs)
        cpu = statistics.median(r["cpu_ms_per_req"] for r in rs)
        low = min(r["wall_s"] for r in rs)
        print(f"  {name:45s}{wall:10.2f} s{low:7.2f}s{cpu:12.3f}{wall / base:8.2f}x")


if __name__ == "__main__":
    main()
