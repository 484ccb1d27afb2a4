"""Requests-per-minute and tokens-per-minute budgets for the LLM client.

Two token buckets refilled continuously. Their capacity is only `burst_s` seconds of quota, so a
run never fires a whole minute's requests at t=0 and then sits idle: requests are spread evenly.
Waiters queue in FIFO order (a large request cannot be starved by a stream of small ones) and the
head of the queue sleeps exactly until the budget it needs has refilled, or until a refund or new
server information may have changed that moment. No polling, no background task.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from typing import Any, Mapping

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str) -> float | None:
    """Seconds in an OpenAI reset header ("1s", "6m0s", "20ms", "1h2m3.5s", or a bare number)."""
    text = value.strip().lower()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        pos = match.end()
    return total if pos == len(text) else None


class _Bucket:
    """A continuously refilled budget; `level` may go negative (debt) after an oversized take."""

    __slots__ = ("rate", "capacity", "level", "stamp")

    def __init__(self, per_minute: float, burst_s: float, now: float) -> None:
        self.rate = self.capacity = 0.0
        self.set_rate(per_minute, burst_s)
        self.level = self.capacity
        self.stamp = now

    def set_rate(self, per_minute: float, burst_s: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def delay(self, amount: float) -> float:
        """Seconds until `amount` may be taken; an amount above capacity waits for a full bucket."""
        need = min(amount, self.capacity)
        if self.level >= need:
            return 0.0
        return (need - self.level) / self.rate


class Reservation:
    """What one `acquire` took; `settle` trues the token budget up once real usage is known."""

    __slots__ = ("_limiter", "tokens", "_settled")

    def __init__(self, limiter: RateLimiter | None, tokens: int) -> None:
        self._limiter = limiter
        self.tokens = tokens
        self._settled = limiter is None

    def settle(self, actual_tokens: int) -> None:
        """Give back (or charge) the difference between reserved and used tokens. Call it with 0
        when the server did not process the request. Only the first call counts."""
        if self._settled:
            return
        self._settled = True
        assert self._limiter is not None
        self._limiter._adjust_tokens(self.tokens - actual_tokens)


_FREE = Reservation(None, 0)


class RateLimiter:
    """Shared requests/min and tokens/min budget. `None` means unlimited; with both unlimited and
    no pause in force, `acquire` returns at once without locking."""

    def __init__(self, rpm: float | None, tpm: float | None, *, burst_s: float = 2.0) -> None:
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}")
        if burst_s <= 0:
            raise ValueError(f"burst_s must be positive, got {burst_s!r}")
        self._burst_s = burst_s
        self._rpm_cfg, self._tpm_cfg = rpm, tpm
        now = time.monotonic()
        self._req = _Bucket(rpm, burst_s, now) if rpm else None
        self._tok = _Bucket(tpm, burst_s, now) if tpm else None
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._wake: asyncio.Future[None] | None = None
        self.waiting = 0

    @property
    def rpm(self) -> float | None:
        """The requests/min budget in force (configured, or tighter if the server said so)."""
        return self._req.rate * 60.0 if self._req else None

    @property
    def tpm(self) -> float | None:
        return self._tok.rate * 60.0 if self._tok else None

    def delay_for(self, tokens: int = 0) -> float:
        """Seconds from now until a request of `tokens` would be admitted, ignoring the queue."""
        now = time.monotonic()
        wait = max(0.0, self._paused_until - now)
        for bucket, amount in ((self._req, 1), (self._tok, tokens)):
            if bucket is not None:
                ahead = max(0.0, bucket.stamp - now)  # refill starts after a pause
                bucket.refill(now)
                wait = max(wait, ahead + bucket.delay(amount))
        return wait

    async def acquire(self, tokens: int = 0) -> Reservation:
        """Wait until one request and `tokens` tokens fit both budgets, then take them."""
        if self._req is None and self._tok is None and self._paused_until <= time.monotonic():
            return _FREE
        self.waiting += 1
        try:
            async with self._lock:
                while True:
                    now = time.monotonic()
                    wait = self._paused_until - now
                    if wait <= 0:
                        wait = 0.0
                        if self._req is not None:
                            self._req.refill(now)
                            wait = self._req.delay(1)
                        if self._tok is not None:
                            self._tok.refill(now)
                            wait = max(wait, self._tok.delay(tokens))
                        if wait <= 0:
                            return self._take(tokens)
                    await self._sleep(wait)
        finally:
            self.waiting -= 1

    def _take(self, tokens: int) -> Reservation:
        if self._req is not None:
            self._req.level -= 1
        if self._tok is None:
            return _FREE
        self._tok.level -= tokens
        return Reservation(self, tokens)

    async def _sleep(self, seconds: float) -> None:
        """Sleep until the budget should suffice, or until `_kick` says it may suffice sooner."""
        loop = asyncio.get_running_loop()
        wake = self._wake = loop.create_future()
        timer = loop.call_later(seconds, _resolve, wake)
        try:
            await wake
        finally:
            timer.cancel()
            self._wake = None

    def _kick(self) -> None:
        if self._wake is not None:
            _resolve(self._wake)

    def _adjust_tokens(self, delta: int) -> None:
        if self._tok is None or delta == 0:
            return
        self._tok.refill(time.monotonic())
        self._tok.level = min(self._tok.capacity, self._tok.level + delta)
        if delta > 0:
            self._kick()

    def pause_until(self, monotonic_deadline: float) -> None:
        """Admit nobody before the deadline (a Retry-After that holds for the whole key). After it,
        requests restart at the steady rate rather than as a burst."""
        if monotonic_deadline <= self._paused_until:
            return
        self._paused_until = monotonic_deadline
        now = time.monotonic()
        if self._req is not None:
            self._req.refill(now)
            self._req.level = min(self._req.level, 1.0)
            self._req.stamp = max(self._req.stamp, monotonic_deadline)
        self._kick()

    def update_from_headers(self, headers: Mapping[str, Any]) -> None:
        """Tighten the local budgets to OpenAI-style x-ratelimit-* response headers."""
        lower = {str(k).lower(): v for k, v in headers.items() if str(k).lower().startswith("x-ratelimit-")}
        if not lower:
            return
        now = time.monotonic()
        old = (self.rpm, self.tpm)
        self._req = self._apply(self._req, self._rpm_cfg, lower, "requests", now)
        self._tok = self._apply(self._tok, self._tpm_cfg, lower, "tokens", now)
        # headers only tighten, except a server limit that went up: only then can a waiter go sooner
        if any(a is not None and b is not None and b > a for a, b in zip(old, (self.rpm, self.tpm))):
            self._kick()

    def _apply(
        self, bucket: _Bucket | None, configured: float | None, h: Mapping[str, Any], kind: str, now: float
    ) -> _Bucket | None:
        limit = _number(h.get(f"x-ratelimit-limit-{kind}"))
        remaining = _number(h.get(f"x-ratelimit-remaining-{kind}"))
        reset_raw = h.get(f"x-ratelimit-reset-{kind}")
        reset = parse_duration(str(reset_raw)) if reset_raw is not None else None
        if limit is not None and limit > 0:
            per_minute = min(configured, limit) if configured else limit
            if bucket is None:
                bucket = _Bucket(per_minute, self._burst_s, now)
            elif abs(bucket.rate * 60.0 - per_minute) > 1e-9:
                bucket.refill(now)
                bucket.set_rate(per_minute, self._burst_s)
                bucket.level = min(bucket.level, bucket.capacity)
        if bucket is None or remaining is None:
            return bucket
        bucket.refill(now)
        bucket.level = min(bucket.level, remaining)
        if remaining < 1 and reset and limit and limit > remaining:
            # Exhausted: the server regains (limit - remaining) in `reset` seconds. If that is
            # slower than our rate (e.g. a per-day limit), carry the wait for one unit as debt.
            one_unit_s = reset * (1 - remaining) / (limit - remaining)
            bucket.level = min(bucket.level, 1 - bucket.rate * one_unit_s)
        return bucket


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
