"""How fast requests go out: a requests/tokens-per-minute budget and an adaptive concurrency window.

`RateLimiter`: token buckets holding only `burst_s` seconds of quota (no minute's worth at t=0),
waiters served FIFO so a large request is not starved.
`AdaptiveConcurrency`: AIMD: +1 per `limit` successes, halved by a 429 that holds for the whole key
(quota headers spent, or most recent answers 429s). Any other 429 makes only that request wait:
pausing everyone on a storm of 30% 429s with `Retry-After: 2` made a run take 132x as long.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import deque
from typing import Any, Mapping

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
MAX_WAIT_S = 300.0  # the longest wait a server's word imposes (Retry-After, x-ratelimit-reset-*)
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str) -> float | None:
    """Seconds in an OpenAI reset header ("1s", "6m0s", "20ms", "1h2m3.5s", or a bare number)."""
    text = value.strip().lower()
    number = _number(text)
    if number is not None:
        return max(0.0, number)
    parts = list(_DURATION_PART.finditer(text))
    if not text or "".join(m.group(0) for m in parts) != text:
        return None
    return sum(float(m.group(1)) * _UNIT_S[m.group(2)] for m in parts)


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class _Bucket:
    """A continuously refilled budget; `level` may go negative (debt) after an oversized take."""

    def __init__(self, per_minute: float, burst_s: float, now: float) -> None:
        self.set_rate(per_minute, burst_s)
        self.level = self.capacity
        self.stamp = now  # a pause sets it in the future: refill starts then

    def set_rate(self, per_minute: float, burst_s: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def delay(self, amount: float, now: float) -> float:
        """Seconds until `amount` may be taken; an amount above capacity waits for a full bucket."""
        self.refill(now)
        need = min(amount, self.capacity)
        return max(0.0, self.stamp - now) + max(0.0, need - self.level) / self.rate


class RateLimiter:
    """Shared requests/min and tokens/min budget; `None` means unlimited."""

    def __init__(self, rpm: float | None, tpm: float | None, *, burst_s: float = 2.0) -> None:
        self._burst_s = burst_s
        self._configured = {"requests": rpm, "tokens": tpm}
        now = time.monotonic()
        self._buckets = {k: _Bucket(v, burst_s, now) if v else None for k, v in self._configured.items()}
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()  # set when the head of the queue may go sooner

    @property
    def rpm(self) -> float | None:
        """The requests/min budget in force (configured, or tighter if the server said so)."""
        bucket = self._buckets["requests"]
        return bucket.rate * 60.0 if bucket else None

    @property
    def tpm(self) -> float | None:
        bucket = self._buckets["tokens"]
        return bucket.rate * 60.0 if bucket else None

    def delay_for(self, tokens: int = 0) -> float:
        """Seconds from now until a request of `tokens` would be admitted, ignoring the queue."""
        now = time.monotonic()
        wait = self._paused_until - now
        for kind, amount in (("requests", 1), ("tokens", tokens)):
            if self._buckets[kind] is not None:
                wait = max(wait, self._buckets[kind].delay(amount, now))
        return max(0.0, wait)

    async def acquire(self, tokens: int = 0) -> int:
        """Wait until one request and `tokens` tokens fit both budgets, take them and return the
        tokens reserved: hand that to `settle` once the real usage is known."""
        async with self._lock:
            while (wait := self.delay_for(tokens)) > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
            if self._buckets["requests"] is not None:
                self._buckets["requests"].level -= 1
            if self._buckets["tokens"] is None:
                return 0
            self._buckets["tokens"].level -= tokens
            return tokens

    def settle(self, reserved: int, used: int) -> None:
        """Give back (or charge as debt) what a request reserved beyond (or below) what it used;
        `used` is 0 when the server did not process the request."""
        bucket = self._buckets["tokens"]
        if bucket is None or reserved == used:
            return
        bucket.refill(time.monotonic())
        bucket.level = min(bucket.capacity, bucket.level + reserved - used)
        if reserved > used:
            self._wake.set()

    def pause_until(self, monotonic_deadline: float) -> None:
        """Admit nobody before the deadline (a Retry-After that holds for the whole key). After it,
        requests restart at the steady rate rather than as a burst."""
        if monotonic_deadline <= self._paused_until:
            return
        self._paused_until = monotonic_deadline
        bucket = self._buckets["requests"]
        if bucket is not None:
            bucket.refill(time.monotonic())
            bucket.level = min(bucket.level, 1.0)
            bucket.stamp = max(bucket.stamp, monotonic_deadline)
        self._wake.set()

    def update_from_headers(self, headers: Mapping[str, Any]) -> None:
        """Tighten the budgets to OpenAI-style x-ratelimit-* response headers (a server limit that
        went up loosens one)."""
        h = {str(k).lower(): v for k, v in headers.items() if str(k).lower().startswith("x-ratelimit-")}
        if not h:
            return
        now = time.monotonic()
        raised = False
        for kind, configured in self._configured.items():
            bucket = self._buckets[kind]
            limit = _number(h.get(f"x-ratelimit-limit-{kind}"))
            remaining = _number(h.get(f"x-ratelimit-remaining-{kind}"))
            reset = parse_duration(str(h.get(f"x-ratelimit-reset-{kind}", "")))
            # under one or past 1e15 is no count (a lying server's 0.001; its 1e308 made waits infinite)
            if limit is not None and 1 <= limit <= 1e15:
                per_minute = min(configured, limit) if configured else limit
                if bucket is None:
                    bucket = self._buckets[kind] = _Bucket(per_minute, self._burst_s, now)
                elif abs(bucket.rate * 60.0 - per_minute) > 1e-9:
                    raised = raised or per_minute > bucket.rate * 60.0
                    bucket.refill(now)
                    bucket.set_rate(per_minute, self._burst_s)
                    bucket.level = min(bucket.level, bucket.capacity)
            if bucket is None or remaining is None:
                continue
            bucket.refill(now)
            level = remaining
            if remaining < 1 and reset and limit and limit > remaining:
                # Exhausted: the server regains (limit - remaining) in `reset` seconds. If that is
                # slower than our rate (e.g. a per-day limit), carry the wait for one unit as debt.
                level = min(level, 1 - bucket.rate * reset * (1 - remaining) / (limit - remaining))
            # no longer than a Retry-After may make us wait: a server saying "reset in 99999h" or
            # "remaining -1e9" while it answers stalled the run for good
            bucket.level = min(bucket.level, max(level, 1 - bucket.rate * MAX_WAIT_S))
        if raised:
            self._wake.set()


def quota_exhausted(headers: Mapping[str, str]) -> bool:
    """True when the answer's x-ratelimit-remaining-* headers say a budget is spent."""
    values = (_number(headers.get(f"x-ratelimit-remaining-{kind}")) for kind in ("requests", "tokens"))
    return any(v is not None and v < 1 for v in values)


class AdaptiveConcurrency:
    """The window of requests in flight, within [minimum, maximum]. Past `share` 429s among the
    last `window` answers, a 429 without quota headers still holds for everyone."""

    def __init__(self, limit: int, minimum: int = 1, maximum: int | None = None, *,
                 window: int = 32, share: float = 0.6) -> None:
        self.limit, self.minimum, self.maximum = limit, minimum, maximum or limit
        self.in_flight = 0
        self.cuts = 0
        self.pauses = 0  # 429s that paused every request
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._recent: deque[bool] = deque(maxlen=window)
        self._share = share

    @contextlib.asynccontextmanager
    async def slot(self, urgent: bool = False):
        """Hold one place; `urgent` (a retry) queues first, as results commit in plan order.
        Yields the epoch (cuts so far) for `success`/`rate_limited`."""
        await self._acquire(urgent)
        try:
            yield self.cuts
        finally:
            self.in_flight -= 1
            self._admit()

    async def _acquire(self, urgent: bool) -> None:
        if not self._waiters and self.in_flight < self.limit:
            self.in_flight += 1
            return
        fut = asyncio.get_running_loop().create_future()
        if urgent:
            self._waiters.appendleft(fut)
        else:
            self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.cancelled():  # still queued, unless `_admit` popped it already
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            else:  # the place was handed over just as we were cancelled: pass it on
                self.in_flight -= 1
                self._admit()
            raise

    def _admit(self) -> None:
        # hand places over directly so a newcomer cannot overtake a queued waiter
        while self._waiters and self.in_flight < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    def success(self, epoch: int) -> None:
        """+1 per `limit` successes sent under the current limit while it holds us back."""
        self._recent.append(False)
        if epoch != self.cuts or (self.in_flight < self.limit and not self._waiters):
            return
        self._successes += 1
        if self._successes >= self.limit:
            self._successes = 0
            if self.limit < self.maximum:
                self.limit += 1
                self._admit()

    def rate_limited(self, epoch: int, headers: Mapping[str, str]) -> bool:
        """A 429; True if it holds for every request (then the limit is halved, unless a cut since
        `epoch` already answered this burst)."""
        recent = self._recent
        recent.append(True)
        crowded = len(recent) == recent.maxlen and sum(recent) > self._share * len(recent)
        if not (quota_exhausted(headers) or crowded):
            return False
        self.pauses += 1
        recent.clear()  # the same burst should not pause again and again
        if epoch == self.cuts:
            self._successes = 0
            if self.limit > self.minimum:
                self.limit = max(self.minimum, self.limit // 2)
                self.cuts += 1
        return True
