"""Spread requests over several OpenAI-compatible servers (e.g. a few vLLM replicas).

Least-in-flight (ties round robin) balances servers of different speed without measuring them. A
failing server sits out a cooldown that doubles each time it fails again after one (the requests in
flight when it went down are one failure); when all are cooling, the one that recovers first is used.
"""

from __future__ import annotations

import time
from typing import Callable


class EndpointPool:
    def __init__(self, base_urls: list[str], cooldown_s: float = 30.0, *, max_cooldown_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.urls = list(dict.fromkeys(u.strip().rstrip("/") for u in base_urls if u and u.strip()))
        self.cooldown_s, self.max_cooldown_s = cooldown_s, max_cooldown_s
        self._clock = clock
        self.in_flight = dict.fromkeys(self.urls, 0)
        self._failures = dict.fromkeys(self.urls, 0)  # consecutive
        self._cooling_until = dict.fromkeys(self.urls, 0.0)
        self._next = 0  # round-robin cursor for ties

    def pick(self) -> str:
        """Choose a server and count a request in flight on it; pair with `release`."""
        now = self._clock()
        order = self.urls[self._next:] + self.urls[:self._next]
        ready = [u for u in order if self._cooling_until[u] <= now]
        if ready:
            best = min(ready, key=self.in_flight.__getitem__)  # the first of equals: round robin
        else:
            best = min(self.urls, key=self._cooling_until.__getitem__)
        self._next = (self.urls.index(best) + 1) % len(self.urls)
        self.in_flight[best] += 1
        return best

    def release(self, url: str) -> None:
        self.in_flight[url] = max(0, self.in_flight[url] - 1)

    def mark_failed(self, url: str) -> float:
        """Take `url` out of rotation; returns the cooldown in seconds (doubling per failure)."""
        now = self._clock()
        if self._cooling_until[url] > now:  # a request sent before it was taken out: the same outage
            return self._cooling_until[url] - now
        self._failures[url] += 1
        cooldown = min(self.max_cooldown_s, self.cooldown_s * 2 ** (self._failures[url] - 1))
        self._cooling_until[url] = now + cooldown
        return cooldown

    def mark_ok(self, url: str) -> None:
        self._failures[url] = 0
        self._cooling_until[url] = 0.0
