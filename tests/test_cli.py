"""The `synthgen` command as a user runs it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from synthgen.cli import app

from helpers import manifest

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args))


def run_cmd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthgen", *args], capture_output=True, text=True,
                          timeout=timeout)


def _one_clean_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [l for l in stderr.strip().splitlines() if l.startswith("synthgen: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_unknown_config_key_is_named(tmp_path, server, write_config):
    cfg = write_config(server.base_url, extra="[llm2]\nmodel = 'x'\n")
    r = run_cmd("run", "--config", str(cfg), "--out", str(tmp_path / "r"))
    assert r.returncode == 2
    assert "unknown config key 'llm2'" in _one_clean_line(r.stderr)
    assert not (tmp_path / "r").exists()


def test_typo_inside_a_table_is_named(tmp_path, server, write_config):
    cfg = write_config(server.base_url)
    cfg.write_text(cfg.read_text().replace("concurrency = 8", "concurency = 8"))
    r = run_cmd("generate", "--config", str(cfg))
    assert r.returncode == 2 and "llm.concurency" in _one_clean_line(r.stderr)


@pytest.mark.parametrize("content,needle", [
    ("seed = [", "not valid TOML"),
    ("seed = 1\n[groups.sts]\nexamples = -1\n", "groups.sts.examples"),
    ("seed = 1\n[groups.nope]\nexamples = 1\n", "unknown group"),
    ("seed = 1\n[groups.short-long]\nexamples = 3\n", "groups.short-long.tasks is required"),
])
def test_bad_configs_fail_with_one_line(tmp_path, content, needle):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    r = run_cmd("brainstorm", "--config", str(path))
    assert r.returncode == 2
    assert needle in _one_clean_line(r.stderr)


def test_missing_config_file(tmp_path):
    r = run_cmd("run", "--config", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "config file not found" in _one_clean_line(r.stderr)


def test_bad_shard_syntax(tmp_path, server, write_config):
    r = run_cmd("generate", "--config", str(write_config(server.base_url)), "--shard", "3/2")
    assert r.returncode == 2 and "--shard" in _one_clean_line(r.stderr)


def test_generate_before_brainstorm_is_refused(tmp_path, server, write_config):
    r = run_cmd("generate", "--config", str(write_config(server.base_url)), "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "stage 1 is not complete" in _one_clean_line(r.stderr)
    assert server.requests == 0


def test_remote_endpoint_without_key_is_refused(tmp_path, write_config):
    cfg = write_config("https://api.example.invalid/v1")
    r = run_cmd("run", "--config", str(cfg), "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "OPENAI_API_KEY" in _one_clean_line(r.stderr)


def test_wrong_key_fails_fast_without_echoing_it(tmp_path, make_server, write_config, monkeypatch):
    srv = make_server(api_key="right-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0123456789")
    r = run_cmd("run", "--config", str(write_config(srv.base_url)), "--out", str(tmp_path / "r"))
    assert r.returncode == 1
    assert "401" in r.stderr and "sk-wrong-key" not in r.stderr and "Traceback" not in r.stderr
    assert srv.requests <= 8 * 2  # stopped at once, not after every item


def test_run_then_stats_and_json(tmp_path, server, write_config):
    cfg = write_config(server.base_url)
    r = run_cmd("run", "--config", str(cfg), "--out", str(tmp_path / "r"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "generate: 30/30 items" in r.stderr
    r = run_cmd("stats", str(tmp_path / "r"), "--json")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert data["stages"]["generate"]["accepted"] == manifest(tmp_path / "r")["stages"]["generate"]["accepted"]
    r = run_cmd("stats", str(tmp_path / "r"))
    assert r.returncode == 0 and "short-long" in r.stdout and "generate" in r.stdout


def test_stats_on_a_non_run_directory(tmp_path):
    r = run_cmd("stats", str(tmp_path))
    assert r.returncode == 2 and "not a synthgen run directory" in _one_clean_line(r.stderr)


def test_plain_progress_lines_when_not_a_tty(tmp_path, server, write_config):
    r = run_cmd("run", "--config", str(write_config(server.base_url)), "--out", str(tmp_path / "r"))
    assert r.returncode == 0
    assert "req/s" in r.stderr and "\x1b[" not in r.stderr  # plain text, no terminal escapes


def test_estimate_counts_calls_and_tokens_without_requests(tmp_path, server, write_config):
    r = run_cmd("estimate", "--config", str(write_config(server.base_url)), "--json")
    assert r.returncode == 0, r.stderr
    est = json.loads(r.stdout)
    assert est["generate"]["calls"] == 30
    assert est["brainstorm"]["calls"] == 4
    assert est["prompt_tokens"] > 30 * 100
    assert server.requests == 0


def test_packaged_configs_load():
    for name in ("ci", "paper"):
        r = run_cmd("estimate", "--config", name, "--json", timeout=300)
        assert r.returncode == 0, r.stderr
    est = json.loads(r.stdout)
    # the paper's per-group figures (thousands) add up to 507k, "500k" in its text
    assert est["generate"]["calls"] == 507_000
