"""Batch output lines into the journal, each answer recorded before anything else is done with it:
the Batch API's output and error files, and (`synthgen batch-ingest`) files an offline engine such
as vLLM's `run_batch` wrote. Item id and attempt are the key, so a file is simply read again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable

import orjson

from ..config import RunConfig
from ..errors import RunError
from ..journal import Journal
from ..llm.client import is_completion, read_completion
from ..llm.connect import env_key
from ..plan import Shard
from ..redact import redact
from ..run_dir import open_run
from .ledger import Ledger

REJECTED = "batch_rejected"  # a failure kind: the server refused this very request (HTTP 4xx)
TOO_LARGE = "batch_too_large"  # a failure kind: the answer went past llm.max_response_bytes
FLUSH_EVERY = 500  # answers per journal transaction while reading a file


def _message(rec: dict, body: object) -> str:
    err = rec.get("error") or (body.get("error") if isinstance(body, dict) else None) or {}
    if isinstance(err, dict):
        err = f"{err.get('code') or ''} {err.get('message') or ''}".strip()
    return redact(str(err))[:300]


def _refuse(journal: Journal, key: tuple[str, int], kind: str, message: str) -> None:
    """Journal a refusal once: a file read again (ingested twice, a download retried) adds none."""
    if journal.db.execute("SELECT 1 FROM failures WHERE item_id=? AND attempt=? AND kind=?",
                          (*key, kind)).fetchone() is None:
        journal.record_failure(*key, kind, message)


def ingest_lines(journal: Journal, lines: Iterable[bytes | str], stage: str, endpoint: str,
                 model: str, ours: set[str] | None = None, max_bytes: int | None = None) -> Counter:
    """Journal every answer in `lines` (whose custom_id is in `ours`, if given). Counts: answered;
    refused (4xx, or a line over `max_bytes`: the item is rejected, as online); failed (5xx, 429, no
    body: asked again in the next wave); unknown (not ours, not JSON)."""
    out: Counter = Counter()
    for line in lines:
        if not line or not line.strip():
            continue
        try:
            rec = orjson.loads(line)
            custom_id = str(rec.get("custom_id", ""))
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            custom_id = ""
        item_id, _, attempt = custom_id.rpartition("-")  # <item id>-<attempt>
        if not (item_id and attempt.isdigit()) or (ours is not None and custom_id not in ours):
            out["unknown"] += 1
            continue
        key = (item_id, int(attempt))
        if max_bytes is not None and len(line) > max_bytes:  # online, it would not have been read
            _refuse(journal, key, TOO_LARGE, f"answer of {len(line)} bytes is over "
                    f"llm.max_response_bytes ({max_bytes})")
            out["refused"] += 1
            continue
        resp = rec.get("response") if isinstance(rec.get("response"), dict) else {}
        status, body = resp.get("status_code"), resp.get("body")
        if status == 200 and is_completion(body):
            r = read_completion(body, model, 0.0, endpoint)
            journal.record_response(*key, stage, r.content, r.finish_reason, r.prompt_tokens,
                                    r.completion_tokens, r.usage_estimated, r.latency_s, r.model, r.endpoint)
            out["answered"] += 1
            if out["answered"] % FLUSH_EVERY == 0:
                journal.flush_responses()
        elif isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429):
            _refuse(journal, key, REJECTED, f"HTTP {status}: {_message(rec, body)}")
            out["refused"] += 1
        else:
            out["failed"] += 1
    journal.flush_responses()
    return out


def ingest_files(cfg: RunConfig, out: Path, files: list[Path], stage: str = "generate",
                 shard: Shard = Shard(), force: bool = False) -> Counter:
    """Journal the answers in the output files of exported requests; the next run commits them."""
    for f in files:
        if not Path(f).is_file():
            raise RunError(f"{f}: {'not a file' if Path(f).exists() else 'no such file'}")
    if not (Path(out) / "journal").is_dir():  # a mistyped --out: a new run has no requests out there
        raise RunError(f"--out {out} is not a run that batch-export wrote to (no journal there)")
    total: Counter = Counter()
    env_key(cfg)  # an engine that echoes the key: masked in what is journaled
    with open_run(cfg, out, stage, shard if stage == "generate" else Shard(), force) as journal:
        ours = _exported_ids(journal, stage)
        for f in files:
            with open(f, "rb") as fh:
                total.update(ingest_lines(journal, fh, stage, f"file:{Path(f).name}", cfg.llm.model, ours,
                                          cfg.llm.max_response_bytes))
    if not total.keys() - {"unknown"}:
        raise RunError(f"no answer in {', '.join(map(str, files))} is for a request `synthgen batch-export "
                       f"--stage {stage}` wrote for {out} (another stage's or run's file?)")
    return total


def _exported_ids(journal: Journal, stage: str) -> set[str] | None:
    """The custom_ids of every request file written for `stage` (None if one is gone: no check)."""
    ids: set[str] = set()
    for job in Ledger(journal).jobs("key=? OR key LIKE ?", (stage, f"{stage}#%")):
        if not Path(job.path).is_file():
            return None
        with open(job.path, "rb") as fh:
            ids.update(orjson.loads(line)["custom_id"] for line in fh)
    return ids
