"""Rate limits, adaptive concurrency, several endpoints and budgets, end to end."""

from __future__ import annotations

import subprocess
import sys

from synthgen.config import load_config
from synthgen.pipeline import RunOptions, run_all, run_stage

from helpers import examples, manifest

PRICES = """
[prices.scripted]
input_per_1m = 1000.0
output_per_1m = 2000.0
"""


def _run(cfg_path, out, **kw):
    return run_all(load_config(cfg_path), RunOptions(out=out, quiet=True, **kw))


def test_server_quota_is_respected_without_a_429_storm(make_server, write_config, tmp_path):
    # 40 requests per 2 s window (1200/min); the client is not told: it learns from the
    # x-ratelimit-* headers and from 429 + Retry-After, and adapts its concurrency
    srv = make_server(quota_rpm=40, quota_window_seconds=2.0)
    cfg = write_config(srv.base_url, sl=60, concurrency=32)
    outcomes = _run(cfg, tmp_path / "run")
    assert [o.code for o in outcomes] == [0, 0]
    assert manifest(tmp_path / "run")["stages"]["generate"]["items_committed"] == 60 + 20
    stats = srv.stats()
    limited = stats["by_status"].get("429", 0)
    assert limited / stats["requests"] < 0.25, stats["by_status"]


def test_configured_rate_is_kept(make_server, write_config, tmp_path):
    import time

    srv = make_server()
    cfg = write_config(srv.base_url, sl=30, concurrency=32, extra="")
    text = cfg.read_text().replace("max_attempts = 6", "max_attempts = 6\nrequests_per_minute = 1200")
    cfg.write_text(text)
    run_stage("brainstorm", load_config(cfg), RunOptions(out=tmp_path / "run", quiet=True))
    t0 = time.monotonic()
    run_stage("generate", load_config(cfg), RunOptions(out=tmp_path / "run", quiet=True))
    took = time.monotonic() - t0
    # 50 requests at 20/s with a 2 s burst allowance: at least ~0.5 s, never a burst of all 50
    assert took >= 0.4, took
    assert manifest(tmp_path / "run")["stages"]["generate"]["items_committed"] == 50


def test_requests_spread_over_endpoints_and_a_dead_one_is_skipped(make_server, write_config, tmp_path):
    import socket

    a, b = make_server(), make_server()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    cfg = write_config(a.base_url, sl=40)
    cfg.write_text(cfg.read_text().replace(f'base_url = "{a.base_url}"',
                                           f'base_url = ["{a.base_url}", "{b.base_url}", "{dead}"]'))
    outcomes = _run(cfg, tmp_path / "run")
    assert [o.code for o in outcomes] == [0, 0]
    assert a.requests > 10 and b.requests > 10
    assert manifest(tmp_path / "run")["stages"]["generate"]["items_committed"] == 40 + 20


def test_max_requests_stops_with_exit_3_and_a_rerun_continues(make_server, write_config, tmp_path):
    srv = make_server()
    cfg = write_config(srv.base_url, sl=30)
    r = subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out",
                        str(tmp_path / "run"), "--max-requests", "20", "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    assert "budget reached" in r.stderr and "Traceback" not in r.stderr
    assert srv.requests <= 20
    m = manifest(tmp_path / "run")
    assert m["stages"]["generate"]["status"].startswith("budget")
    r = subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out",
                        str(tmp_path / "run"), "--max-requests", "1000", "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    m = manifest(tmp_path / "run")
    assert m["stages"]["generate"]["items_committed"] == 50
    assert m["tokens"]["responses"] == srv.requests  # nothing bought twice across the two sessions


def test_max_cost_stops_and_cost_adds_up_across_sessions(make_server, write_config, tmp_path):
    clean, srv = make_server(), make_server()
    _run(write_config(clean.base_url, name="c.toml", extra=PRICES), tmp_path / "clean")
    full_cost = manifest(tmp_path / "clean")["cost_usd"]
    assert full_cost > 0
    cfg = write_config(srv.base_url, extra=PRICES)
    outcomes = _run(cfg, tmp_path / "run", max_cost=full_cost / 3)
    assert outcomes[-1].code == 3
    assert manifest(tmp_path / "run")["cost_usd"] < full_cost
    outcomes = _run(cfg, tmp_path / "run", max_cost=full_cost * 10)
    assert outcomes[-1].code == 0
    m = manifest(tmp_path / "run")
    assert abs(m["cost_usd"] - full_cost) < 1e-6
    assert examples(tmp_path / "run") == examples(tmp_path / "clean")


def test_max_cost_without_a_price_is_refused(server, write_config, tmp_path):
    from synthgen.pipeline import RunError

    import pytest

    with pytest.raises(RunError, match="needs a price"):
        _run(write_config(server.base_url), tmp_path / "run", max_cost=1.0)


def test_throughput_benchmark_runs_interleaved_pairs_and_reports_the_median_ratio():
    # bench/throughput.py is how the targets are measured: a small run must work offline, watch
    # synthgen and the bare loop alike, and report every pair
    import json
    import statistics
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parent.parent / "bench" / "throughput.py"
    out = subprocess.run([sys.executable, str(bench), "--n", "60", "--concurrency", "8", "--latency-ms", "5",
                          "--repeat", "2"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    body, _, last = out.stdout.strip().rpartition("\n")
    r = json.loads(body)
    assert len(r["runs"]) == 2 and len(r["ratios"]) == 2
    assert r["ratio_wall_synthgen_over_bare"] == round(statistics.median(r["ratios"]), 2)
    for pair in r["runs"]:
        assert pair["synthgen"]["accepted"] > 0
        assert pair["bare_aiohttp"]["peak_rss_mb"] > 10  # sampled like synthgen, not left at zero
        assert pair["ratio_wall_synthgen_over_bare"] > 0
    assert "median" in last
    assert r["bare_requests"] == 60  # the bare loop replays what synthgen sent, request for request


def test_throughput_benchmark_imports_nothing_of_synthgen():
    # it measures `synthgen generate` as a user runs it: internals it imported would tie the
    # benchmark to code that may move, and time something else than the command
    import ast
    from pathlib import Path

    bench = Path(__file__).resolve().parent.parent / "bench" / "throughput.py"
    tree = ast.parse(bench.read_text())
    names = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    for text in (n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)):
        if "import" in text:  # the scripts it runs in subprocesses
            names |= {l.split()[1].split(".")[0] for l in text.splitlines() if l.startswith(("import ", "from "))}
    assert not any(n.split(".")[0] == "synthgen" for n in names), names
