"""The server's memory: request keys, fault draws, counters, quota windows, the Batch API's store.

Touched only from the server's event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import uuid
from collections import Counter, deque
from typing import Any

from synthgen.testing.options import FIRST_SIGHT, FakeServerOptions

_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_FILE_LIFE_S = 30 * 86400  # OpenAI keeps batch files 30 days unless told otherwise
CONTENT_FAULTS = ("truncate", "length", "wrong_language", "short", "copy_query", "near_duplicate",
                  "fenced")


def request_digests(body: dict[str, Any]) -> tuple[bytes, bytes]:
    """(content digest, request digest). The first covers messages + model, what a retry with a
    new seed shares with the first attempt; the second adds seed, temperature, top_p and
    response_format, all else that decides the answer (max_tokens or user do not)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(body.get("model")).encode())
    for m in body.get("messages") or ():
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str) and len(m) == 2:  # the common {role, content} shape
            h.update(f"\x00{m.get('role')}\x01{content}".encode())
        else:
            h.update(b"\x00" + _ENCODE(m).encode())
    content = h.digest()
    # repr of int/float/None is stable; only a response_format needs real canonical JSON
    fmt = body.get("response_format")
    tail = (body.get("seed"), body.get("temperature"), body.get("top_p"))
    h.update(f"\x02{tail!r}\x03{'' if fmt is None else _ENCODE(fmt)}".encode())
    return content, h.digest()


def request_key(body: dict[str, Any]) -> str:
    """The key under which stats()["by_key"] counts this exact request."""
    return request_digests(body)[1].hex()


def transient_fault(opts: FakeServerOptions, digest: bytes) -> str | None:
    """A name of FIRST_SIGHT ('429', 'html', ...) or None, read off the hash so it survives
    restarts; the rates split [0, 1), so at most one applies."""
    u = int.from_bytes(digest[:4], "big") / 2**32
    for name in FIRST_SIGHT:
        rate = getattr(opts, f"rate_{name}")
        if u < rate:
            return name
        u -= rate
    return None


def content_faults(opts: FakeServerOptions, digest: bytes) -> tuple[str, ...]:
    """The CONTENT_FAULTS that hit this request: independent draws from the full request hash."""
    rates = [getattr(opts, f"rate_{name}") for name in CONTENT_FAULTS]
    if not any(rates):
        return ()
    rng = random.Random(b"faults:" + digest)
    return tuple(name for name, rate in zip(CONTENT_FAULTS, rates) if rng.random() < rate)


class SlidingWindow:
    """Amounts spent in the last `window` seconds; answers how long until `need` fits."""

    def __init__(self, limit: float, window: float) -> None:
        self.limit, self.window = limit, window
        self.events: deque[tuple[float, int]] = deque()
        self.used = 0

    def wait_time(self, now: float, need: float) -> float:
        """0 if `need` fits now, else seconds until enough old events expire."""
        while self.events and self.events[0][0] <= now - self.window:
            self.used -= self.events.popleft()[1]
        if self.used + need <= self.limit:
            return 0.0
        freed = self.used
        for t, amount in self.events:
            freed -= amount
            if freed + need <= self.limit:
                return max(0.001, t + self.window - now)
        return self.window  # need alone exceeds the limit

    def spend(self, now: float, amount: int) -> None:
        self.events.append((now, amount))
        self.used += amount

    def remaining(self) -> float:
        return max(0, self.limit - self.used)

    def reset_in(self, now: float) -> float:
        """Seconds until the oldest event leaves the window."""
        return max(0.0, self.events[0][0] + self.window - now) if self.events else 0.0


class BatchStore:
    """The Batch API's files and batches, and the counters /_stats shows."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}  # id -> File object, in upload order
        self.data: dict[str, bytes] = {}  # id -> content
        self.batches: dict[str, dict[str, Any]] = {}  # id -> Batch object, kept current
        self.cancels: dict[str, asyncio.Event] = {}
        self.tasks: list[asyncio.Task] = []  # each batch's run
        self.file_uploads = 0  # client uploads, not result files
        self.batch_creations = 0
        self.batch_lines: Counter = Counter()  # answered, line_error, missing, expired
        self.submitted: Counter = Counter()  # custom_id -> batches that carried it
        self.seen: set[bytes] = set()  # content digests of the lines answered so far

    def add_file(self, filename: str, purpose: str, data: bytes) -> dict[str, Any]:
        now = int(time.time())
        info = {"id": f"file-{uuid.uuid4().hex[:24]}", "object": "file", "bytes": len(data),
                "created_at": now, "expires_at": now + _FILE_LIFE_S if purpose.startswith("batch") else None,
                "filename": filename, "purpose": purpose, "status": "processed", "status_details": None}
        self.files[info["id"]] = info
        self.data[info["id"]] = data
        return info

    def stop(self) -> None:
        """Stop the batches still running (the server is shutting down or resetting)."""
        for task in self.tasks:
            task.cancel()

    def snapshot(self) -> dict[str, Any]:
        return {"file_uploads": self.file_uploads, "batch_creations": self.batch_creations,
                "batch_lines": dict(sorted(self.batch_lines.items())),
                "by_status": dict(sorted(Counter(b["status"] for b in self.batches.values()).items())),
                "submitted_lines": sum(self.submitted.values()),
                "repeated_custom_ids": sum(n - 1 for n in self.submitted.values())}


class ServerState:
    """Counters and memory of one server; reset() makes it behave as freshly started."""

    def __init__(self, options: FakeServerOptions) -> None:
        self.options = options
        self.batches = BatchStore()
        self.reset()

    def reset(self) -> None:
        self.batches.stop()
        self.batches = BatchStore()
        self.requests = 0
        self.by_status: Counter = Counter()
        self.by_key: Counter = Counter()  # request digest (hex) -> arrivals
        self.faults: Counter = Counter()
        self.seen_content: set[bytes] = set()  # content digests: transient faults hit only once
        o = self.options
        self.rpm = SlidingWindow(o.quota_rpm, o.quota_window_seconds) if o.quota_rpm else None
        self.tpm = SlidingWindow(o.quota_tpm, o.quota_window_seconds) if o.quota_tpm else None

    def snapshot(self, with_keys: bool = True) -> dict[str, Any]:
        return {"requests": self.requests,
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "faults": dict(sorted(self.faults.items())), "distinct_requests": len(self.by_key),
                "repeated_requests": sum(v - 1 for v in self.by_key.values()),
                **({"by_key": dict(self.by_key)} if with_keys else {}), "batches": self.batches.snapshot()}
