"""Runs of the scripted server for the export tests, made once per module."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import SMALL
from synthgen.config import load_config
from synthgen.pipeline import RunOptions, run_all
from synthgen.testing.options import FakeServerOptions
from synthgen.testing.server import FakeLLMServer


def small_config(path: Path, base_url: str, extra: str = "", **kw) -> Path:
    values = dict(seed=7, base_url=base_url, concurrency=8, timeout=10, max_attempts=6, sl=10, shard_size=10)
    values.update(kw)
    path.write_text(SMALL.format(**values) + extra)
    return path


def make_run(root: Path, server_options: dict | None = None, extra: str = "", **kw) -> Path:
    """A finished run of the small all-groups config against a fresh scripted server."""
    root.mkdir(parents=True, exist_ok=True)
    opts = FakeServerOptions(idle_exit_seconds=300, **(server_options or {}))
    with FakeLLMServer(opts) as srv:
        cfg = load_config(small_config(root / "cfg.toml", srv.base_url, extra, **kw))
        outcomes = run_all(cfg, RunOptions(out=root / "run", quiet=True))
    assert all(o.code == 0 for o in outcomes), [o.message for o in outcomes]
    return root / "run"


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def run_records(run: Path) -> list[dict]:
    out = []
    for path in sorted((Path(run) / "examples").glob("part-*.jsonl")):
        out += read_lines(path)
    return out
