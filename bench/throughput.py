"""Throughput and memory of `synthgen generate` against a bare aiohttp loop, in the same run.

    python bench/throughput.py                     # 2000 items, concurrency 64, 50 ms latency, 3 pairs
    python bench/throughput.py --scale 10000 100000   # zero latency: overhead and peak RSS vs N

Both clients send the very same request bodies (recorded from an untimed `synthgen generate`
through a pass-through proxy) to the same scripted server, started once in a subprocess so it
runs on the other core. synthgen runs as a real `synthgen generate` process, and this script
imports nothing of synthgen's; the bare loop is aiohttp with json.dumps/json.loads and a
semaphore, nothing else (no journal, validation or output files). Figures: wall time of the
request phase (synthgen: the stage's own elapsed time, so interpreter start-up is not counted;
it is printed separately), req/s, CPU ms per item, peak RSS, and the ratio synthgen/bare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def start_server(latency_ms: float, quota_rpm: float | None = None) -> tuple[subprocess.Popen, str]:
    # a real per-minute window: x-ratelimit-limit-requests then means what it means at OpenAI
    extra = ["--quota-rpm", str(quota_rpm)] if quota_rpm else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "synthgen.testing", "--port", "0", "--latency-ms", str(latency_ms),
         "--idle-exit-seconds", "120", *extra], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if "http://" not in line:
        proc.kill()
        raise SystemExit(f"scripted server did not start: {line!r}")
    return proc, line.split()[-1]


WORKER = "auto"  # validation.check_worker of the synthgen runs (--check-worker)


def write_config(path: Path, url: str, n: int, concurrency: int, gates: str = "reject") -> None:
    path.write_text(textwrap.dedent(f"""
        seed = 5
        [llm]
        model = "scripted"
        base_url = "{url}"
        concurrency = {concurrency}
        timeout_s = 60
        [groups.short-long]
        tasks = 20
        examples = {n}
        [languages]
        mode = "custom"
        [languages.weights]
        English = 1
        [output]
        shard_size = 10000
        [validation]
        check_worker = "{WORKER}"
        [validation.rules]
        wrong_language = "{gates}"
        near_duplicate = "{gates}"
    """))


def _tree(pid: int) -> list[int]:
    """A process and all its descendants (the check worker included)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in open(f"/proc/{p}/task/{task}/children").read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
        out.append(p)
    return out


def _memory(pids: list[int], field: str) -> int:
    """Sum of one memory figure in bytes over `pids`: "VmRSS:" from /proc/PID/status (cheap),
    or "Pss:" from /proc/PID/smaps_rollup.

    The RSS sum counts shared pages (libpython, numpy's BLAS) once per process; PSS splits them
    between the processes that share them, so its sum is what the run really holds. Reading
    smaps_rollup walks the process's page tables under its memory lock, which stalls the process
    it measures: sampled every 20 ms it slowed a 2000-item run by ~15%. So PSS is read about 4
    times a second in the memory runs, and once a second in the timed comparison with the bare
    loop (which is not sampled at all); RSS, cheap, is read every 20 ms in both."""
    total = 0
    source = "status" if field == "VmRSS:" else "smaps_rollup"
    for p in pids:
        try:
            for line in open(f"/proc/{p}/{source}"):
                if line.startswith(field):
                    total += int(line.split()[1]) * 1024
                    break
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
    return total


def _frames(pid: int) -> np.ndarray:
    """The physical pages (frame numbers) a process has resident, from /proc/PID/pagemap.

    Frame numbers are visible to root only (others read zeros): then the figure is not given."""
    frames = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb", buffering=0) as pagemap:
        for line in maps:
            span, perms = line.split(None, 2)[:2]
            start, end = (int(x, 16) for x in span.split("-"))
            if start >= 1 << 47 or perms.startswith("---"):  # [vsyscall]; guard pages, never resident
                continue
            pagemap.seek(start // 4096 * 8)
            entries = np.frombuffer(pagemap.read((end - start) // 4096 * 8), dtype=np.uint64)
            frames.append(entries[entries >> np.uint64(63) == 1] & np.uint64((1 << 55) - 1))
    return np.concatenate(frames) if frames else np.empty(0, np.uint64)


def _distinct(pids: list[int]) -> int:
    """Bytes of distinct physical pages resident in `pids`: each page once, however many of the
    run's processes map it, and whole however many processes outside the run share it. This is
    what the run holds on a machine of its own (a container's limit counts the same pages once),
    where the RSS sum counts libpython's pages once per process and PSS splits a shared page with
    any process on the machine that maps the same file."""
    each = []
    for p in pids:
        try:
            each.append(_frames(p))
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError, OSError):
            continue
    union = np.unique(np.concatenate(each)) if each else np.empty(0, np.uint64)
    return int(np.count_nonzero(union)) * 4096


DISTINCT = os.geteuid() == 0  # frame numbers need root
LARGEST = {"rss": 0, "distinct": 0}  # the last watched command's largest process RSS, distinct pages (bytes)


def _sampled(argv: list[str], pss_every: int) -> tuple[float, float, int, int, str]:
    """Run a command and watch it: (wall s, CPU s of it and its children, peak RSS bytes, peak
    PSS bytes, stdout). Both peaks are summed over its process tree; RSS sampled every 20 ms,
    PSS every `pss_every` samples. synthgen and the bare loop are watched the same way, so the
    sampling costs (and stalls) both alike."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_rss = peak_pss = 0
    ticks = 0
    LARGEST["rss"] = LARGEST["distinct"] = 0
    while True:
        # wait4, not poll: its usage is this command's alone (RUSAGE_CHILDREN's peak is the largest
        # of every child this script ever had, which floored later runs' figures at an earlier one's)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        pids = _tree(proc.pid)
        each = [_memory([p], "VmRSS:") for p in pids]  # one read per process: the sum and the largest
        peak_rss = max(peak_rss, sum(each))
        LARGEST["rss"] = max(LARGEST["rss"], max(each, default=0))
        if ticks % pss_every == 0:
            peak_pss = max(peak_pss, _memory(pids, "Pss:"))
        if DISTINCT and pss_every < 50:  # memory runs only (every sample: the worker's start-up peak
            # lasts ~0.3 s); walking page tables stalls the run, so the timed comparison goes without
            LARGEST["distinct"] = max(LARGEST["distinct"], _distinct(pids))
        ticks += 1
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed: {err.strip()[-500:]}")
    cpu = usage.ru_utime + usage.ru_stime  # the command and the children it waited for
    return wall, cpu, max(peak_rss, usage.ru_maxrss * 1024), peak_pss, out


# the installed command, as users run it (its check worker's imports differ from `python -m`'s)
COMMAND = str(Path(sys.executable).parent / "synthgen")


def synthgen(*args: str, pss_every: int = 12) -> tuple[float, float, int, int]:
    """Run a synthgen command; returns (wall s, CPU s, peak RSS bytes, peak PSS bytes)."""
    wall, cpu, rss, pss, _ = _sampled([COMMAND, *args, "--quiet"], pss_every)
    return wall, cpu, rss, pss


RECORDER = r"""
import asyncio, sys
from aiohttp import ClientSession, web
upstream, path = sys.argv[1].rstrip("/"), sys.argv[2]
async def main():
    out = open(path, "wb")
    async with ClientSession() as session:
        async def forward(request):
            body = await request.read()
            if request.method == "POST" and request.path.endswith("/chat/completions"):
                out.write(body + b"\n")  # compact JSON: no raw newline inside
                out.flush()
            tail = request.path_qs.split("/v1", 1)[-1]
            headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")}
            async with session.request(request.method, upstream + tail, data=body, headers=headers) as r:
                keep = {k: v for k, v in r.headers.items() if k.lower().startswith(("x-ratelimit", "retry-after"))}
                return web.Response(status=r.status, body=await r.read(), headers=keep,
                                    content_type=r.content_type)
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        print(f"listening on http://{host}:{port}/v1", flush=True)
        await asyncio.Event().wait()
asyncio.run(main())
"""


def record_bodies(cfg: Path, run: Path, url: str, work: Path) -> list[dict]:
    """The chat request bodies `synthgen generate` sends, recorded by a pass-through proxy in
    front of the scripted server (so the bare loop replays exactly synthgen's requests without
    importing synthgen). The pass is untimed; it also warms the server up."""
    path = work / "bodies.jsonl"
    proxy = subprocess.Popen([sys.executable, "-c", RECORDER, url, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        line = proxy.stdout.readline().strip()
        if "http://" not in line:
            raise SystemExit(f"recording proxy did not start: {line!r}")
        recorded = work / "recorded.toml"
        recorded.write_text(cfg.read_text().replace(f'base_url = "{url}"', f'base_url = "{line.split()[-1]}"'))
        synthgen("generate", "--config", str(recorded), "--out", str(run))
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
    return [json.loads(line) for line in path.read_text().splitlines()]


BARE = r"""
import asyncio, json, sys, time, resource
import aiohttp
url, concurrency = sys.argv[1], int(sys.argv[2])
bodies = json.load(open(sys.argv[3]))
async def main():
    sem = asyncio.Semaphore(concurrency)
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as s:
        async def one(b):
            async with sem:
                async with s.post(url + "/chat/completions", data=json.dumps(b),
                                  headers={"Content-Type": "application/json", "Authorization": "Bearer x"}) as r:
                    data = json.loads(await r.read())
                    return data["choices"][0]["message"]["content"]
        t0 = time.perf_counter()
        out = await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - t0, len(out)
wall, n = asyncio.run(main())
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": wall, "n": n, "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss * 1024}))
"""


def bare_loop(url: str, bodies: list[dict], concurrency: int, work: Path, pss_every: int) -> dict:
    path = work / "bare-bodies.json"
    path.write_text(json.dumps(bodies))
    _, _, rss, _, out = _sampled([sys.executable, "-c", BARE, url, str(concurrency), str(path)], pss_every)
    return {**json.loads(out), "rss": rss}


def one_run(n: int, concurrency: int, latency_ms: float, compare: bool, gates: str = "reject",
            repeat: int = 1) -> dict:
    """One synthgen generate of n items (memory runs), or `repeat` interleaved pairs of
    synthgen and the bare loop (timed comparison): this VM's timings drift by 10-30% from one
    minute to the next, so each pair is measured back to back, which one goes first alternates,
    and the median ratio is reported. The untimed pass that records synthgen's requests for the
    bare loop warms the server up first."""
    server, url = start_server(latency_ms)
    try:
        with tempfile.TemporaryDirectory(prefix="synthgen-bench-") as tmp:
            work = Path(tmp)
            cfg = work / "bench.toml"
            write_config(cfg, url, n, concurrency, gates)
            planned = work / "planned"
            synthgen("brainstorm", "--config", str(cfg), "--out", str(planned))
            stage1 = json.loads((planned / "run.json").read_text())["elapsed_s"]
            bodies = []
            if compare:
                shutil.copytree(planned, work / "recorded")
                bodies = record_bodies(cfg, work / "recorded", url, work)
                shutil.rmtree(work / "recorded")
            pairs = []
            for i in range(repeat if compare else 1):
                run = work / f"run{i}"
                shutil.copytree(planned, run)
                if compare and i % 2:  # alternate which goes first, so drift favours neither
                    bare = bare_loop(url, bodies, concurrency, work, pss_every=50)
                wall, cpu, rss, pss = synthgen("generate", "--config", str(cfg), "--out", str(run),
                                               pss_every=50 if compare else 12)
                manifest = json.loads((run / "run.json").read_text())
                stage_wall = manifest["elapsed_s"] - stage1
                one = {"synthgen": {"wall_s": round(stage_wall, 3), "process_wall_s": round(wall, 3),
                                    "req_per_s": round(n / stage_wall, 1), "cpu_ms_per_item": round(cpu / n * 1000, 3),
                                    "peak_rss_mb": round(rss / 2**20, 1), "peak_pss_mb": round(pss / 2**20, 1),
                                    "largest_process_rss_mb": round(LARGEST["rss"] / 2**20, 1),
                                    # not measured in timed runs (the page walk stalls them) or without root
                                    "peak_distinct_pages_mb": round(LARGEST["distinct"] / 2**20, 1) or None,
                                    "accepted": manifest["stages"]["generate"]["accepted"]}}
                if compare:
                    if not i % 2:
                        bare = bare_loop(url, bodies, concurrency, work, pss_every=50)
                    one["bare_aiohttp"] = {"wall_s": round(bare["wall"], 3), "req_per_s": round(n / bare["wall"], 1),
                                           "cpu_ms_per_item": round(bare["cpu"] / n * 1000, 3),
                                           "peak_rss_mb": round(bare["rss"] / 2**20, 1)}
                    one["ratio_wall_synthgen_over_bare"] = round(stage_wall / bare["wall"], 2)
                pairs.append(one)
                shutil.rmtree(run)
            result = {"n": n, "concurrency": concurrency, "latency_ms": latency_ms,
                      "language_and_near_dup_checks": gates, **pairs[0]}
            if compare:
                result["bare_requests"] = len(bodies)
                ratios = [p["ratio_wall_synthgen_over_bare"] for p in pairs]
                result["runs"] = pairs
                result["ratios"] = ratios
                result["ratio_wall_synthgen_over_bare"] = round(statistics.median(ratios), 2)
            return result
    finally:
        server.terminate()
        server.wait(timeout=10)


def quota_run(n: int, concurrency: int, quota_rpm: float) -> dict:
    """Sustained rate against a server quota the client is not told about (it reads the
    x-ratelimit-* headers and 429 + Retry-After), and the share of requests answered 429."""
    import urllib.request

    server, url = start_server(20.0, quota_rpm)
    try:
        with tempfile.TemporaryDirectory(prefix="synthgen-bench-") as tmp:
            cfg = Path(tmp) / "bench.toml"
            write_config(cfg, url, n, concurrency, "off")
            run = Path(tmp) / "run"
            synthgen("brainstorm", "--config", str(cfg), "--out", str(run))
            stage1 = json.loads((run / "run.json").read_text())["elapsed_s"]
            synthgen("generate", "--config", str(cfg), "--out", str(run))
            wall = json.loads((run / "run.json").read_text())["elapsed_s"] - stage1
            stats = json.loads(urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/_stats?by_key=0").read())
        answered = stats["requests"]
        limited = stats["by_status"].get("429", 0)
        steady = n / wall * 60
        return {"n": n, "quota_rpm": quota_rpm, "wall_s": round(wall, 1),
                "sustained_rpm": round(steady, 1), "share_of_quota": round(steady / quota_rpm, 3),
                "requests": answered, "answered_429": limited, "share_429": round(limited / answered, 4)}
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--scale", type=int, nargs="*", help="zero-latency runs at these sizes (memory vs N)")
    ap.add_argument("--quota-rpm", type=float, help="run against a server quota of this many requests/min")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timed comparison: this many interleaved synthgen/bare pairs (median ratio)")
    ap.add_argument("--gates-off", action="store_true",
                    help="switch the language and near-duplicate checks off (client overhead alone)")
    ap.add_argument("--check-worker", choices=("auto", "on", "off"), default="auto",
                    help="validation.check_worker of the synthgen runs")
    args = ap.parse_args()
    global WORKER
    WORKER = args.check_worker
    os.chdir(ROOT)
    if args.quota_rpm:
        r = quota_run(args.n, args.concurrency, args.quota_rpm)
        print(json.dumps(r, indent=2))
        print(f"sustained {r['sustained_rpm']} req/min = {r['share_of_quota']:.1%} of the quota "
              f"(target >= 90%), {r['share_429']:.2%} answered 429 (target < 2%)")
        return
    if args.scale:
        gates = "off" if args.gates_off else "reject"
        rows = [one_run(n, args.concurrency, 0.0, compare=False, gates=gates) for n in args.scale]
        for r in rows:
            print(json.dumps(r))
        for key, label in (("peak_rss_mb", "RSS (sum over processes)"), ("peak_pss_mb", "PSS (sum over processes)"),
                           ("largest_process_rss_mb", "RSS of the largest process"),
                           ("peak_distinct_pages_mb", "distinct resident pages (root only)")):
            base = rows[0]["synthgen"][key]
            for r in rows[1:] if base else ():  # distinct pages: 0 when not root
                print(f"peak {label} {r['n']} items / {rows[0]['n']} items = {r['synthgen'][key] / base:.3f} "
                      f"({r['synthgen'][key]} MB vs {base} MB)")
        return
    r = one_run(args.n, args.concurrency, args.latency_ms, compare=True, gates="off" if args.gates_off else "reject",
                repeat=args.repeat)
    print(json.dumps(r, indent=2))
    print(f"synthgen/bare wall ratio: median {r['ratio_wall_synthgen_over_bare']} of {r['ratios']} "
          f"(target <= 1.5)")


if __name__ == "__main__":
    main()
