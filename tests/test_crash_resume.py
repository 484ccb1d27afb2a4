"""SIGKILL a real `synthgen generate` midway, rerun it, and compare with an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthgen.config import load_config
from synthgen.journal import Journal
from synthgen.llm.client import LLMClient
from synthgen.pipeline import load_tasks
from synthgen.plan import generate_items
from synthgen.prompts import generate_schema
from synthgen.testing.state import request_key

from helpers import examples, read_jsonl, rejects

CONFIG = """
seed = 11
[llm]
model = "scripted"
base_url = "{url}"
concurrency = 16
timeout_s = 20
[groups.short-long]
tasks = 6
examples = 240
[groups.sts]
examples = 60
[output]
shard_size = 25
"""


def synthgen(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "synthgen", *args, "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def journaled_request_keys(cfg_path: Path, run: Path) -> list[str]:
    """The server-side key of every request whose response the killed run had journaled."""
    cfg = load_config(cfg_path)
    j = Journal(run)
    client_body = LLMClient.__new__(LLMClient)
    client_body.cfg, client_body.model, client_body.mode = cfg.llm, cfg.llm.model, "json_schema"
    client_body._max_tokens_key = "max_tokens"
    from synthgen.llm.client import _openai_response_format

    client_body._response_format = _openai_response_format
    keys = []
    for item in generate_items(cfg, load_tasks(run)):
        for r in j.responses_for(item.id):
            body = client_body.build_body(item.messages, item.seed + r.attempt, generate_schema(item.group),
                                          item.group.replace("-", "_"))
            keys.append(request_key(body))
    j.close()
    return keys


def test_sigkill_midway_then_resume_matches_uninterrupted_run(make_server, tmp_path):
    crash_srv = make_server(latency_ms=100, rate_truncate=0.05)  # slow enough to kill mid-run
    clean_srv = make_server(latency_ms=0, rate_truncate=0.05)
    crash_cfg = tmp_path / "crash.toml"
    # the killed run checks answers in a worker process; the clean one in-process
    crash_cfg.write_text(CONFIG.format(url=crash_srv.base_url) + '[validation]\ncheck_worker = "on"\n')
    clean_cfg = tmp_path / "clean.toml"
    clean_cfg.write_text(CONFIG.format(url=clean_srv.base_url))

    p = synthgen("run", "--config", str(clean_cfg), "--out", str(tmp_path / "clean"))
    assert p.wait(timeout=120) == 0, p.stderr.read()

    p = synthgen("brainstorm", "--config", str(crash_cfg), "--out", str(tmp_path / "crash"))
    assert p.wait(timeout=60) == 0, p.stderr.read()
    start = crash_srv.requests
    p = synthgen("generate", "--config", str(crash_cfg), "--out", str(tmp_path / "crash"))
    deadline = time.time() + 60
    published = lambda: list((tmp_path / "crash" / "examples").glob("part-*.jsonl"))  # noqa: E731
    while len(published()) < 2 and time.time() < deadline:
        time.sleep(0.005)
    assert crash_srv.requests - start < 300, "the run finished before it could be killed"
    workers = children(p.pid)
    assert workers, "the check worker was not running"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    assert p.returncode == -signal.SIGKILL
    deadline = time.time() + 10
    while any(alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(alive(w) for w in workers), "a worker outlived the killed run"
    # the resource tracker, gone too, cleaned up after it without a word on the user's terminal
    assert p.stderr.read() == ""

    # at the moment of the crash every published file holds whole lines only
    killed = tmp_path / "crash"
    partial = examples(killed)
    assert 0 < len(partial) < 300
    for path in (killed / "examples").glob("part-*.jsonl"):
        assert sum(1 for _ in open(path)) == 25  # published parts are full and final
    keys_before_resume = journaled_request_keys(crash_cfg, killed)
    assert keys_before_resume, "the killed run journaled nothing"
    # and what the run directory says of itself: stage 2 in progress, not "not started"
    report = subprocess.run([sys.executable, "-m", "synthgen", "stats", str(killed), "--json"],
                            capture_output=True, text=True, timeout=60)
    assert json.loads(report.stdout)["status"]["generate"] == "in progress"

    p = synthgen("generate", "--config", str(crash_cfg), "--out", str(killed))
    assert p.wait(timeout=120) == 0, p.stderr.read()

    by_id = lambda recs: sorted(recs, key=lambda r: r["id"])  # noqa: E731
    assert by_id(examples(killed)) == by_id(examples(tmp_path / "clean"))
    gen_rejects = lambda run: [r for r in rejects(run) if r["stage"] == "generate"]  # noqa: E731
    assert by_id(gen_rejects(killed)) == by_id(gen_rejects(tmp_path / "clean"))
    ids = [r["id"] for r in examples(killed)]
    assert len(ids) == len(set(ids))

    # server side: no response the killed run had received was asked for again ...
    counts = crash_srv.stats()["by_key"]
    assert all(counts[k] == 1 for k in keys_before_resume)
    # ... and only the requests in flight at the kill were sent twice
    assert crash_srv.stats()["repeated_requests"] <= 16
    assert not list(killed.glob("*/*.tmp"))
    assert read_jsonl(killed / "tasks") == read_jsonl(tmp_path / "clean" / "tasks")


def test_ctrl_c_stops_cleanly_and_the_rerun_finishes(make_server, tmp_path):
    srv = make_server(latency_ms=30)
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url=srv.base_url))
    p = synthgen("run", "--config", str(cfg), "--out", str(tmp_path / "run"))
    deadline = time.time() + 60
    while srv.requests < 60 and time.time() < deadline:
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted" in err and "rerun the same command" in err and "Traceback" not in err
    p = synthgen("run", "--config", str(cfg), "--out", str(tmp_path / "run"))
    assert p.wait(timeout=120) == 0
    # every group reaches its target: the planned 300 are accepted (rejects were topped up)
    assert len(examples(tmp_path / "run")) == 300


def test_a_second_process_on_the_same_run_is_refused(make_server, tmp_path):
    srv = make_server(latency_ms=300)  # the first run must still be going when the second starts
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url=srv.base_url))
    first = synthgen("run", "--config", str(cfg), "--out", str(tmp_path / "run"))
    deadline = time.time() + 60
    while srv.requests < 5 and time.time() < deadline:
        time.sleep(0.01)
    second = synthgen("generate", "--config", str(cfg), "--out", str(tmp_path / "run"))
    _, err = second.communicate(timeout=60)
    assert second.returncode == 2 and "in use by another synthgen process" in err
    assert first.wait(timeout=120) == 0



@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_as_stage_1_ends_stops_the_run(make_server, tmp_path, sig):
    # Ctrl-C or `kill PID` (a CI job's timeout) as stage 1's last item commits: it was lost when
    # the loop had not read it before the stage ended (exit 0, stage 2 run in full), and a SIGTERM
    # while stage 2 was being set up killed the run silently
    srv = make_server()
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url=srv.base_url).replace("examples = 240", "examples = 40000")
                   + '[validation]\ncheck_worker = "off"\n')
    p = subprocess.Popen([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out",
                          str(tmp_path / "run"), "--limit", "50"], stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if line.startswith("brainstorm: 1/1 done"):  # its one item committed
            p.send_signal(sig)
            break
    err = p.stderr.read()
    assert p.wait(timeout=60) == 130, err
    assert "interrupted" in err.splitlines()[-1] and "Traceback" not in err
    assert not list((tmp_path / "run" / "examples").glob("part-*.jsonl"))
    rerun = synthgen("run", "--config", str(cfg), "--out", str(tmp_path / "run"), "--limit", "50")
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0 and "generate: 50/50 items" in err, err
