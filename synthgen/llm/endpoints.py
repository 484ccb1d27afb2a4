"""Spread requests over several OpenAI-compatible servers (e.g. a few vLLM replicas).

Least-in-flight balances servers of different speed without measuring them: a slow one simply
holds its requests longer and gets fewer new ones. Ties go round robin so an idle pool still
spreads load. A failing server sits out a cooldown that doubles on each consecutive failure;
when every server is cooling, the one that recovers first is used anyway: a pool never blocks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class EndpointHealth:
    url: str
    in_flight: int = 0
    requests: int = 0
    failures: int = 0  # total
    consecutive_failures: int = 0
    cooldown_until: float = 0.0

    def as_dict(self, now: float) -> dict[str, object]:
        return {
            "url": self.url,
            "healthy": self.cooldown_until <= now,
            "in_flight": self.in_flight,
            "requests": self.requests,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "cooling_for_s": round(max(0.0, self.cooldown_until - now), 3),
        }


class EndpointPool:
    def __init__(
        self,
        base_urls: list[str],
        cooldown_s: float = 30.0,
        *,
        max_cooldown_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        urls = list(dict.fromkeys(u.strip().rstrip("/") for u in base_urls if u and u.strip()))
        if not urls:
            raise ValueError("at least one base URL is needed")
        if cooldown_s < 0 or max_cooldown_s < cooldown_s:
            raise ValueError(f"cooldown_s must be in [0, max_cooldown_s], got {cooldown_s}")
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self._clock = clock
        self._health = {u: EndpointHealth(u) for u in urls}
        self._order = urls
        self._next = 0  # round-robin cursor for ties

    @property
    def urls(self) -> list[str]:
        return list(self._order)

    def pick(self) -> str:
        """Choose a server and count a request in flight on it; pair with `release`."""
        now = self._clock()
        n = len(self._order)
        start = self._next
        best: EndpointHealth | None = None
        for i in range(n):
            h = self._health[self._order[(start + i) % n]]
            if h.cooldown_until <= now and (best is None or h.in_flight < best.in_flight):
                best = h
        if best is None:
            best = min(self._health.values(), key=lambda h: h.cooldown_until)
        self._next = (self._order.index(best.url) + 1) % n
        best.in_flight += 1
        best.requests += 1
        return best.url

    def release(self, url: str) -> None:
        h = self._get(url)
        h.in_flight = max(0, h.in_flight - 1)

    def mark_failed(self, url: str) -> float:
        """Take `url` out of rotation; returns the cooldown in seconds (doubling per failure)."""
        h = self._get(url)
        h.failures += 1
        h.consecutive_failures += 1
        cooldown = min(self.max_cooldown_s, self.cooldown_s * 2 ** (h.consecutive_failures - 1))
        h.cooldown_until = max(h.cooldown_until, self._clock() + cooldown)
        return cooldown

    def mark_ok(self, url: str) -> None:
        h = self._get(url)
        h.consecutive_failures = 0
        h.cooldown_until = 0.0

    def healthy(self) -> list[str]:
        now = self._clock()
        return [u for u in self._order if self._health[u].cooldown_until <= now]

    def stats(self) -> list[dict[str, object]]:
        now = self._clock()
        return [self._health[u].as_dict(now) for u in self._order]

    def _get(self, url: str) -> EndpointHealth:
        try:
            return self._health[url.rstrip("/")]
        except KeyError:
            raise ValueError(f"unknown endpoint {url!r}") from None
