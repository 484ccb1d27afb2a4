"""A 429 storm against the fault-free run, same run: how much longer does `synthgen generate` take?

    python bench/storm.py                   # 600 items, 30% of first answers 429 with Retry-After: 2

The scripted server (subprocess) answers 429 with `Retry-After` and no x-ratelimit-* headers to
the first request of a share of prompts, as an overloaded replica or a proxy does; the retry is
answered. Pairs alternate fault-free and storm; the ratio of the generate stage's elapsed time
(from run.json) is printed per pair and as a median. Target: under 10x.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import synthgen, write_config  # noqa: E402


def generate_time(n: int, concurrency: int, latency_ms: float, faults: list[str]) -> tuple[float, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "synthgen.testing", "--port", "0", "--latency-ms",
                             str(latency_ms), "--idle-exit-seconds", "120", *faults],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split()[-1]  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory(prefix="synthgen-storm-") as tmp:
            cfg, run = Path(tmp) / "storm.toml", Path(tmp) / "run"
            write_config(cfg, url, n, concurrency, "off")
            synthgen("brainstorm", "--config", str(cfg), "--out", str(run))
            stage1 = json.loads((run / "run.json").read_text())["elapsed_s"]
            synthgen("generate", "--config", str(cfg), "--out", str(run))
            wall = json.loads((run / "run.json").read_text())["elapsed_s"] - stage1
        stats = json.loads(urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/_stats?by_key=0").read())
        return wall, stats
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--rate-429", type=float, default=0.3)
    ap.add_argument("--retry-after", type=float, default=2.0)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    storm = ["--rate-429", str(args.rate_429), "--retry-after", str(args.retry_after)]
    ratios = []
    for i in range(args.pairs):
        calm, _ = generate_time(args.n, args.concurrency, args.latency_ms, [])
        stormy, stats = generate_time(args.n, args.concurrency, args.latency_ms, storm)
        ratios.append(stormy / calm)
        print(f"pair {i + 1}: fault-free {calm:.2f} s, storm {stormy:.2f} s ({stats['by_status'].get('429', 0)} "
              f"429s of {stats['requests']} answers): {stormy / calm:.1f}x", flush=True)
    print(f"storm / fault-free: median {statistics.median(ratios):.1f}x over {args.pairs} pairs (target < 10x)")


if __name__ == "__main__":
    main()
