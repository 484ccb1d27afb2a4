"""Batch output lines into the journal: each answer recorded before anything else is done with it.

The same reader serves the Batch API's output and error files and files made elsewhere by an
offline engine (vLLM's `run_batch` writes the same line format). Reading a file twice records
the same rows again (item id and attempt are the key), so an interrupted download is simply
read once more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import orjson

from ..journal import Journal
from ..llm.tokens import count_tokens
from ..redact import redact
from .requests import REJECTED, split_custom_id

FLUSH_EVERY = 500  # answers per journal transaction while reading a file


@dataclass
class Ingested:
    answered: int = 0
    refused: int = 0  # the server refused the request as such (4xx): the item is rejected
    failed: int = 0  # transient (5xx, 429, no body): asked again in the next wave
    unknown: int = 0  # lines that are not ours or not JSON

    def add(self, other: "Ingested") -> None:
        for f in ("answered", "refused", "failed", "unknown"):
            setattr(self, f, getattr(self, f) + getattr(other, f))


def _message(rec: dict, body: object) -> str:
    err = rec.get("error") or (body.get("error") if isinstance(body, dict) else None) or {}
    if isinstance(err, dict):
        return redact(f"{err.get('code') or ''} {err.get('message') or ''}".strip())[:300]
    return redact(str(err))[:300]


def ingest_lines(journal: Journal, lines: Iterable[bytes | str], stage: str, endpoint: str,
                 model: str, accept=None) -> Ingested:
    """Journal every answer in `lines`; `accept(item_id)` filters lines (ours only)."""
    out = Ingested()
    for line in lines:
        if not line or not line.strip():
            continue
        try:
            rec = orjson.loads(line)
            key = split_custom_id(str(rec.get("custom_id", "")))
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            rec, key = None, None
        if key is None or (accept is not None and not accept(key[0])):
            out.unknown += 1
            continue
        item_id, attempt = key
        resp = rec.get("response") if isinstance(rec.get("response"), dict) else {}
        status, body = resp.get("status_code"), resp.get("body")
        if status == 200 and isinstance(body, dict) and body.get("choices"):
            _record(journal, item_id, attempt, stage, body, endpoint, model)
            out.answered += 1
            if out.answered % FLUSH_EVERY == 0:
                journal.flush_responses()
        elif isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429):
            journal.record_failure(item_id, attempt, REJECTED, f"HTTP {status}: {_message(rec, body)}")
            out.refused += 1
        else:
            out.failed += 1
    journal.flush_responses()
    return out


def _record(journal: Journal, item_id: str, attempt: int, stage: str, body: dict, endpoint: str, model: str) -> None:
    choice = body["choices"][0] if isinstance(body["choices"][0], dict) else {}
    content = (choice.get("message") or {}).get("content")
    usage = body.get("usage") or {}
    p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
    estimated = p is None or c is None
    if c is None:
        c = count_tokens(content or "", model)
    journal.record_response(item_id, attempt, stage, content, choice.get("finish_reason"), int(p or 0), int(c),
                            estimated, 0.0, body.get("model"), endpoint)
