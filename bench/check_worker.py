"""Does a check worker process pay? `synthgen generate` with and without it, in the same run.

    python bench/check_worker.py            # 2000 items, concurrency 64, 50 ms latency, 5 rounds

Each round runs synthgen with `validation.check_worker = "on"` and `"off"` and the bare aiohttp
loop of bench/throughput.py back to back (which synthgen goes first alternates), against one
scripted server, all checks on. Reported: each run's wall ratio over the bare loop of its round,
and the median over the rounds of the on/off wall ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput  # noqa: E402  (the benchmark's own helpers: server, runner, bare loop)


def timed(cfg: Path, planned: Path, run: Path, stage1: float, n: int) -> dict:
    shutil.copytree(planned, run)
    _, cpu, rss, _ = throughput.synthgen("generate", "--config", str(cfg), "--out", str(run), pss_every=50)
    wall = json.loads((run / "run.json").read_text())["elapsed_s"] - stage1
    shutil.rmtree(run)
    return {"wall_s": round(wall, 3), "cpu_ms_per_item": round(cpu / n * 1000, 3), "peak_rss_mb": round(rss / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    os.chdir(throughput.ROOT)
    server, url = throughput.start_server(args.latency_ms)
    try:
        with tempfile.TemporaryDirectory(prefix="synthgen-bench-") as tmp:
            work = Path(tmp)
            cfgs = {}
            for mode in ("on", "off"):
                cfgs[mode] = work / f"{mode}.toml"
                throughput.WORKER = mode
                throughput.write_config(cfgs[mode], url, args.n, args.concurrency)
            planned = work / "planned"
            throughput.synthgen("brainstorm", "--config", str(cfgs["on"]), "--out", str(planned))
            stage1 = json.loads((planned / "run.json").read_text())["elapsed_s"]
            shutil.copytree(planned, work / "recorded")
            bodies = throughput.record_bodies(cfgs["on"], work / "recorded", url, work)
            shutil.rmtree(work / "recorded")
            throughput.bare_loop(url, bodies, args.concurrency, work, pss_every=50)  # untimed warm-up
            rounds = []
            for i in range(args.rounds):
                order = ("on", "off") if i % 2 == 0 else ("off", "on")
                one = {m: timed(cfgs[m], planned, work / f"run-{m}", stage1, args.n) for m in order}
                bare = throughput.bare_loop(url, bodies, args.concurrency, work, pss_every=50)["wall"]
                for m in order:
                    one[m]["ratio_over_bare"] = round(one[m]["wall_s"] / bare, 3)
                one["bare_wall_s"] = round(bare, 3)
                one["on_over_off"] = round(one["on"]["wall_s"] / one["off"]["wall_s"], 3)
                rounds.append(one)
                print(json.dumps(one), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    med = {k: statistics.median(r[k] for r in rounds) for k in ("on_over_off",)}
    for m in ("on", "off"):
        med[f"{m}_over_bare"] = statistics.median(r[m]["ratio_over_bare"] for r in rounds)
    print(json.dumps({"n": args.n, "rounds": args.rounds, "median": med}))


if __name__ == "__main__":
    main()
