"""Small readers for run directories used across tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonlines
import orjson


def read_jsonl(directory: Path, pattern: str = "part-*.jsonl") -> list[dict]:
    out = []
    for path in sorted(Path(directory).glob(pattern)):
        with open(path, "rb") as f:
            assert f.read().endswith(b"\n") or path.stat().st_size == 0, f"torn line in {path}"
            f.seek(0)
            out += jsonlines.Reader(f, loads=orjson.loads).iter(type=dict)
    return out


def examples(run: Path) -> list[dict]:
    return read_jsonl(Path(run) / "examples")


def rejects(run: Path) -> list[dict]:
    return read_jsonl(Path(run) / "rejects")


def manifest(run: Path) -> dict:
    return json.loads((Path(run) / "run.json").read_text())


def run_cli(cfg: Path, out: Path, **env: str) -> subprocess.CompletedProcess:
    """`synthgen run --config cfg --out out --quiet` in a process of its own, with `env` added to
    this environment (the faults of a user's environment: proxies, certificates)."""
    return subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out", str(out),
                           "--quiet"], capture_output=True, text=True, timeout=120, env={**os.environ, **env})
