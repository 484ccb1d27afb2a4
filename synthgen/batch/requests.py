"""Which requests a stage still needs, written as Batch API input files.

A request is (item, attempt): the first attempt of an item without an answer, or the next
attempt of an item whose last answer was cut by `max_tokens` or was not the JSON asked for
(the same rule the online engine follows). Lines are written straight to files, split by
request count and size, so memory does not grow with the stage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import orjson

from ..journal import Journal
from ..plan import WorkItem

REJECTED = "batch_rejected"  # a failure kind: the server refused this very request (HTTP 4xx)


def custom_id(item_id: str, attempt: int) -> str:
    return f"{item_id}-{attempt}"


def split_custom_id(cid: str) -> tuple[str, int] | None:
    item_id, _, attempt = cid.rpartition("-")
    return (item_id, int(attempt)) if item_id and attempt.isdigit() else None


def needed_attempt(parse: Callable[[str], object], stored, max_output_retries: int) -> int | None:
    """The attempt still to ask for, or None when the item has its answer (or used them all)."""
    for attempt in range(max_output_retries + 1):
        if attempt >= len(stored):
            return attempt
        r = stored[attempt]
        if r.finish_reason == "length":
            continue
        try:
            parse(r.content or "")
        except ValueError:
            continue
        return None
    return None


def pending(stage, journal: Journal, items: Iterable[WorkItem], max_output_retries: int) -> Iterator[tuple[WorkItem, int]]:
    for item in items:
        attempt = needed_attempt(stage.parse, journal.responses_for(item.id), max_output_retries)
        if attempt is None:
            continue
        refused = journal.db.execute("SELECT 1 FROM failures WHERE item_id=? AND attempt=? AND kind=?",
                                     (item.id, attempt, REJECTED)).fetchone()
        if refused is None:
            yield item, attempt


def request_line(cid: str, body: dict) -> bytes:
    return orjson.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body}) + b"\n"


@dataclass
class RequestFile:
    path: Path
    requests: int
    bytes: int


def write_files(directory: Path, prefix: str, lines: Iterable[bytes], max_requests: int,
                max_bytes: int) -> list[RequestFile]:
    """`prefix`-NNN.jsonl files of at most max_requests lines and max_bytes bytes each, each
    complete (fsynced, renamed into place) before the next is begun."""
    directory.mkdir(parents=True, exist_ok=True)
    out: list[RequestFile] = []
    f = None
    n = size = 0

    def close() -> None:
        nonlocal f
        if f is None:
            return
        f.flush()
        os.fsync(f.fileno())
        f.close()
        f = None
        final = directory / f"{prefix}-{len(out):03d}.jsonl"
        os.replace(final.with_suffix(".jsonl.tmp"), final)
        out.append(RequestFile(final, n, size))

    for line in lines:
        if f is not None and (n >= max_requests or size + len(line) > max_bytes):
            close()
        if f is None:
            f = open(directory / f"{prefix}-{len(out):03d}.jsonl.tmp", "wb")
            n = size = 0
        f.write(line)
        n += 1
        size += len(line)
    close()
    return out
