"""Small readers for run directories used across tests."""

from __future__ import annotations

import json
from pathlib import Path


def read_jsonl(directory: Path, pattern: str = "part-*.jsonl") -> list[dict]:
    out = []
    for path in sorted(Path(directory).glob(pattern)):
        with open(path, encoding="utf-8") as f:
            for line in f:
                assert line.endswith("\n"), f"torn line in {path}"
                out.append(json.loads(line))
    return out


def examples(run: Path) -> list[dict]:
    return read_jsonl(Path(run) / "examples")


def rejects(run: Path) -> list[dict]:
    return read_jsonl(Path(run) / "rejects")


def manifest(run: Path) -> dict:
    return json.loads((Path(run) / "run.json").read_text())
