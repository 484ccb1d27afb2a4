"""A paid response is journaled before anything else is done with it: SIGKILL costs at most the
requests in flight, at any instant of the generate stage (issue: up to 262 responses were lost
0.7 s into a run at concurrency 64, with the journal still empty)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

CONCURRENCY = 16

CONFIG = """
seed = 5
[llm]
model = "scripted"
base_url = "{url}"
concurrency = {c}
timeout_s = 20
[groups.sts]
examples = 3000
[groups.bitext]
examples = 1000
[output]
shard_size = 200
"""


def _answered(srv) -> int:
    return srv.app.state.by_status.get(200, 0)


@pytest.mark.parametrize("after", [1, 40, 400])
def test_a_kill_at_any_moment_loses_at_most_the_requests_in_flight(make_server, tmp_path, after):
    srv = make_server(latency_ms=5)
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url=srv.base_url, c=CONCURRENCY))
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "synthgen", "generate", "-c", str(cfg), "-o", str(run), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while _answered(srv) < after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    assert proc.poll() is None, "the run ended before the kill: " + proc.stderr.read().decode()[-500:]
    os.killpg(proc.pid, signal.SIGKILL)  # the run and any worker it started
    proc.wait()
    time.sleep(0.2)  # answers the server was still writing
    answered = _answered(srv)
    db = sqlite3.connect(run / "journal" / "state.sqlite")
    journaled = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    db.close()
    assert answered >= after
    lost = answered - journaled
    assert lost <= CONCURRENCY, f"{lost} paid responses lost (server answered {answered}, journal has {journaled})"
