"""A concurrency limit that adapts to the server, AIMD style (as TCP does with its window).

Successes grow the limit by one per `limit` successes (about +1 per round trip when the window is
full); a 429 halves it. One overload burst returns many 429s at once, from requests that were all
sent under the old limit: only the first of them may cut. Each slot remembers the epoch (number
of cuts so far) it was admitted in, and a 429 from an older epoch is ignored.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from types import TracebackType

_current_slot: contextvars.ContextVar[Slot | None] = contextvars.ContextVar("synthgen_slot", default=None)


class Slot:
    """One admitted request; `epoch` is the number of cuts made before it started."""

    __slots__ = ("_limiter", "epoch")

    def __init__(self, limiter: AdaptiveConcurrency, epoch: int) -> None:
        self._limiter = limiter
        self.epoch = epoch

    def success(self) -> None:
        self._limiter.on_success(self)

    def rate_limited(self) -> bool:
        return self._limiter.on_rate_limited(self)


class _SlotContext:
    __slots__ = ("_limiter", "_slot", "_token", "_urgent")

    def __init__(self, limiter: AdaptiveConcurrency, urgent: bool = False) -> None:
        self._limiter = limiter
        self._slot: Slot | None = None
        self._token: contextvars.Token[Slot | None] | None = None
        self._urgent = urgent

    async def __aenter__(self) -> Slot:
        self._slot = await self._limiter.acquire(self._urgent)
        self._token = _current_slot.set(self._slot)
        return self._slot

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _current_slot.reset(self._token)
        self._limiter.release()


class AdaptiveConcurrency:
    """Async limiter on requests in flight whose limit moves at run time. Lowering it never cancels
    anything: it only admits fewer until `in_flight` drops below the new limit."""

    def __init__(self, initial: int, minimum: int = 1, maximum: int | None = None) -> None:
        if minimum < 1:
            raise ValueError(f"minimum concurrency must be at least 1, got {minimum}")
        if maximum is not None and maximum < minimum:
            raise ValueError(f"maximum concurrency {maximum} is below minimum {minimum}")
        if initial < minimum or (maximum is not None and initial > maximum):
            raise ValueError(f"initial concurrency {initial} is outside [{minimum}, {maximum or 'unbounded'}]")
        self.minimum = minimum
        self.maximum = maximum
        self._limit = initial
        self.in_flight = 0
        self.cuts = 0
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def epoch(self) -> int:
        return self.cuts

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    def slot(self, urgent: bool = False) -> _SlotContext:
        """`async with limiter.slot() as slot:` holds one place for the duration of a request.

        `urgent` (a retry) queues ahead of first attempts: results are committed in plan order,
        so an item asking again holds up every later item until it is answered."""
        return _SlotContext(self, urgent)

    async def acquire(self, urgent: bool = False) -> Slot:
        if not self._waiters and self.in_flight < self._limit:
            self.in_flight += 1
            return Slot(self, self.cuts)
        fut = asyncio.get_running_loop().create_future()
        if urgent:
            self._waiters.appendleft(fut)
        else:
            self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # the place was handed over just as we were cancelled: pass it on
                self.release()
            raise
        finally:
            if not fut.done():
                fut.cancel()
            if fut.cancelled():  # still queued; a granted place was popped by _admit already
                try:
                    self._waiters.remove(fut)
                except ValueError:  # (its message holds repr(fut): ~150 us, so not on the hot path)
                    pass
        return Slot(self, self.cuts)

    def release(self) -> None:
        self.in_flight -= 1
        self._admit()

    def _admit(self) -> None:
        # hand places over directly so a newcomer cannot overtake a queued waiter
        while self._waiters and self.in_flight < self._limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    def on_success(self, slot: Slot | None = None) -> None:
        """A request finished well. Grows the limit by one per `limit` successes, counting only
        requests sent under the current limit and only while the limit is what holds us back."""
        slot = slot or _current_slot.get()
        if slot is not None and slot.epoch != self.cuts:
            return
        if self.in_flight < self._limit and not self._waiters:
            return  # not limit-bound: more room would not be used, so it is not earned
        self._successes += 1
        if self._successes >= self._limit:
            self._successes = 0
            if self.maximum is None or self._limit < self.maximum:
                self._limit += 1
                self._admit()

    def on_rate_limited(self, slot: Slot | None = None) -> bool:
        """A request got 429. Halves the limit unless this request was sent before the last cut
        (the cut already answered its burst). Returns whether it cut."""
        slot = slot or _current_slot.get()
        if slot is not None and slot.epoch != self.cuts:
            return False
        new = max(self.minimum, self._limit // 2)
        self._successes = 0
        if new == self._limit:
            return False
        self._limit = new
        self.cuts += 1
        return True

    def stats(self) -> dict[str, int]:
        return {"limit": self._limit, "in_flight": self.in_flight, "waiting": self.waiting, "cuts": self.cuts}
