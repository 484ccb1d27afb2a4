"""The server's memory: request keys, counters, the first-sight set for transient faults, quotas.

Kept apart from the HTTP layer so the rules (what counts, when a quota frees a slot) read plainly.
All of it is touched only from the server's event loop.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from synthgen.testing.batch_store import BatchStore
from synthgen.testing.options import FIRST_SIGHT, FakeServerOptions
from synthgen.testing.textgen import ContentFaults

_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def request_digests(body: dict[str, Any]) -> tuple[bytes, bytes]:
    """(content digest, request digest) in one pass over the messages.

    The content digest covers messages + model: what a retry with a new seed still shares with
    the first attempt. The request digest adds everything else that decides the answer (seed,
    temperature, top_p, response_format); fields like max_tokens or user do not count.
    """
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


def content_digest(body: dict[str, Any]) -> bytes:
    """Messages + model: what a retry with a new seed still shares with the first attempt."""
    return request_digests(body)[0]


def request_digest(body: dict[str, Any]) -> bytes:
    """Everything that decides the answer, the seed included."""
    return request_digests(body)[1]


def request_key(body: dict[str, Any]) -> str:
    """The key under which stats()["by_key"] counts this exact request."""
    return request_digest(body).hex()


def _unit(digest: bytes) -> float:
    """A uniform number in [0, 1) read off the hash, so fault choice survives restarts."""
    return int.from_bytes(digest[:4], "big") / 2**32


def transient_fault(opts: FakeServerOptions, digest: bytes) -> str | None:
    """A name of FIRST_SIGHT ('429', 'html', ...) or None; the rates split [0, 1), so at most
    one applies."""
    u = _unit(digest)
    for name in FIRST_SIGHT:
        rate = getattr(opts, f"rate_{name}")
        if u < rate:
            return name
        u -= rate
    return None


def content_faults(opts: FakeServerOptions, digest: bytes) -> ContentFaults:
    """Independent draws per fault from the full request hash."""
    faults = ContentFaults(repeat_task=opts.rate_repeat_task)
    rates = (opts.rate_truncate, opts.rate_length, opts.rate_wrong_language, opts.rate_short,
             opts.rate_copy_query, opts.rate_near_duplicate, opts.rate_fenced)
    if not any(rates):
        return faults
    rng = random.Random(b"faults:" + digest)
    names = ("truncate", "length", "wrong_language", "short", "copy_query", "near_duplicate",
             "fenced")
    for name, rate in zip(names, rates, strict=True):
        setattr(faults, name, rng.random() < rate)
    faults.active = tuple(n for n in names if getattr(faults, n))
    return faults


class SlidingWindow:
    """Amounts spent in the last `window` seconds; answers how long until `need` fits."""

    def __init__(self, limit: float, window: float) -> None:
        self.limit, self.window = limit, window
        self.events: deque[tuple[float, int]] = deque()
        self.used = 0

    def _expire(self, now: float) -> None:
        while self.events and self.events[0][0] <= now - self.window:
            self.used -= self.events.popleft()[1]

    def wait_time(self, now: float, need: float) -> float:
        """0 if `need` fits now, else seconds until enough old events expire."""
        self._expire(now)
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


@dataclass
class ServerState:
    """Counters and memory of one server; reset() makes it behave as freshly started."""

    options: FakeServerOptions
    requests: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_key: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    seen_content: set = field(default_factory=set)
    rpm: SlidingWindow | None = None
    tpm: SlidingWindow | None = None
    batches: BatchStore = field(default_factory=BatchStore)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_status.clear()
        self.by_key.clear()
        self.faults.clear()
        self.seen_content.clear()
        self.batches.reset()
        o = self.options
        self.rpm = SlidingWindow(o.quota_rpm, o.quota_window_seconds) if o.quota_rpm else None
        self.tpm = SlidingWindow(o.quota_tpm, o.quota_window_seconds) if o.quota_tpm else None

    def first_sight(self, digest: bytes) -> bool:
        """True the first time this content key arrives (transient faults hit only then)."""
        if digest in self.seen_content:
            return False
        self.seen_content.add(digest)
        return True

    def snapshot(self, with_keys: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "faults": dict(sorted(self.faults.items())),
            "distinct_requests": len(self.by_key),
            "repeated_requests": sum(v - 1 for v in self.by_key.values()),
        }
        if with_keys:
            out["by_key"] = dict(self.by_key)
        out["batches"] = self.batches.snapshot()
        return out
