"""Whether a 429 holds for the whole key (pause everyone) or for that one request (it waits alone).

A server out of quota says so: `x-ratelimit-remaining-requests` or `-tokens` below 1. Then every
request would meet the same answer, so the client pauses all of them for the Retry-After and
halves its concurrency. A 429 without that sign is taken as about that request (a busy replica,
a proxy's hiccup): only it waits. Pausing everyone on each of those made a storm of 30% 429s with
`Retry-After: 2` take 132x the fault-free time, one pause chained after the other. When most of
the recent answers are 429s anyway, the server is overloaded whatever its headers say: that
counts as a pause for everyone too.
"""

from __future__ import annotations

from collections import deque


def quota_exhausted(headers: dict[str, str]) -> bool:
    """True when the answer's x-ratelimit-remaining-* headers say a budget is spent."""
    for kind in ("requests", "tokens"):
        value = headers.get(f"x-ratelimit-remaining-{kind}")
        if value is None:
            continue
        try:
            if float(value) < 1:
                return True
        except ValueError:
            continue
    return False


class Pushback:
    """Keeps the last `window` answers and decides, per 429, whether everyone pauses."""

    def __init__(self, window: int = 32, share: float = 0.6) -> None:
        self._recent: deque[bool] = deque(maxlen=window)
        self.share = share
        self.global_pauses = 0  # 429s that paused every request
        self.local_waits = 0  # 429s where only that request waited

    def answered(self) -> None:
        self._recent.append(False)

    def rate_limited(self, headers: dict[str, str]) -> bool:
        """Record a 429; True if it should pause every request."""
        self._recent.append(True)
        crowded = len(self._recent) == self._recent.maxlen and \
            sum(self._recent) > self.share * len(self._recent)
        if quota_exhausted(headers) or crowded:
            self.global_pauses += 1
            self._recent.clear()  # the same burst should not pause again and again
            return True
        self.local_waits += 1
        return False
