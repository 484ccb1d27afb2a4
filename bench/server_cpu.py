"""How much CPU the scripted server spends per request: `python bench/server_cpu.py [--requests N]`.

Starts `python -m synthgen.testing` in a subprocess (as benchmarks do, so it gets a core of its
own), sends N chat requests with a mix of synthgen-like prompts from an aiohttp client, and
reads the server's CPU time from /proc (Linux only). The figure to compare against is a bare
aiohttp handler on the same machine; machine load inflates both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

_LANGS = ("English", "German", "Japanese", "Swahili", "French", "Russian")


def sample_prompt(i: int) -> str:
    """A prompt shaped like synthgen's templates; the mix leans on the long retrieval answers."""
    rng = random.Random(i)
    lang, kind = rng.choice(_LANGS), rng.random()
    pad = " Guideline text that real templates carry." * 20
    if kind < 0.1:
        return ("Brainstorm text retrieval tasks. Answer with a python list of strings only, "
                "with about 20 elements." + pad)
    if kind < 0.55:
        n = rng.choice((50, 100, 200, 300, 400, 500))
        return (f'Task {i}. Keys: "user_query", "positive_document", "hard_negative_document". '
                f"The query is less than 5 words long. Each document contains at least {n} "
                f"words. The query and both documents must be in {lang}." + pad)
    if kind < 0.8:
        return (f'Task {i}. Keys: "input_text", "label", "misleading_label". "input_text" '
                f"should be at least 50 words long. It must be in {lang}." + pad)
    return (f'Write "S1", "S2", "S3" ({i}). S1 must be in {lang}. S2 and S3 must be in '
            "English." + pad)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(url: str, bodies: list[bytes], concurrency: int) -> int:
    sent = 0
    queue = iter(bodies)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

        async def worker() -> None:
            nonlocal sent
            for body in queue:
                async with s.post(url + "/chat/completions", data=body, headers=headers) as r:
                    await r.read()
                    sent += r.status == 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent


def measure(requests: int = 5000, warmup: int = 300, concurrency: int = 32,
            server_args: tuple[str, ...] = ()) -> dict[str, float]:
    """Server CPU milliseconds per request, wall time and throughput for `requests` requests."""
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "synthgen.testing", "--port", "0",
                             "--idle-exit-seconds", "60", *server_args],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().split()[-1]  # type: ignore[union-attr]

        def bodies(lo: int, hi: int) -> list[bytes]:
            return [json.dumps({"model": "m", "seed": i, "temperature": 1.0, "messages": [
                {"role": "user", "content": sample_prompt(i)}]}).encode() for i in range(lo, hi)]

        # untimed: imports and first allocations are nobody's per-request cost
        asyncio.run(_drive(url, bodies(-warmup, 0), concurrency))
        batch = bodies(0, requests)
        cpu0, t0 = _cpu_seconds(proc.pid), time.perf_counter()
        ok = asyncio.run(_drive(url, batch, concurrency))
        wall, cpu = time.perf_counter() - t0, _cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"requests": requests, "ok": ok, "server_cpu_ms_per_request": cpu / requests * 1000,
            "wall_s": wall, "requests_per_s": requests / wall}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python bench/server_cpu.py")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.requests, concurrency=args.concurrency), indent=2))


if __name__ == "__main__":
    main()
