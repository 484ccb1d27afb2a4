"""Live progress: a rich line on a terminal, plain periodic log lines in CI, nothing with --quiet."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


@dataclass
class Counters:
    stage: str = ""
    total: int | None = None
    done: int = 0
    accepted: int = 0
    rejected: int = 0
    requests: int = 0
    replayed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rate_limited: int = 0
    retries: int = 0
    in_flight: int = 0
    concurrency: int = 0
    cost: float | None = None
    note: str = ""  # e.g. the state of a stage's batches
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        el = max(1e-6, time.monotonic() - self.started)
        total = f"/{self.total}" if self.total is not None else ""
        cost = f" cost=${self.cost:.4f}" if self.cost is not None else ""
        proj = ""
        if self.cost is not None and self.total and self.done:
            proj = f" (projected ${self.cost / self.done * self.total:.4f})"
        return (f"{self.stage}: {self.done}{total} done, {self.accepted} accepted, {self.rejected} rejected | "
                f"{self.requests / el:.1f} req/s, tokens in {self.prompt_tokens / el:.0f}/s "
                f"out {self.completion_tokens / el:.0f}/s | in flight {self.in_flight}/{self.concurrency}, "
                f"429s {self.rate_limited}, retries {self.retries}{cost}{proj}, {el:.0f}s"
                + (f" | {self.note}" if self.note else ""))


class Progress:
    def __init__(self, quiet: bool = False, interval: float = 10.0, stream=None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty() and not quiet
        self.interval = interval
        self.c = Counters()
        self._last = 0.0
        self._live = None

    def start(self, stage: str, total: int | None, concurrency: int) -> Counters:
        self.c = Counters(stage=stage, total=total, concurrency=concurrency)
        if self.tty:
            from rich.console import Console
            from rich.live import Live

            self._live = Live("", console=Console(file=self.stream), refresh_per_second=4, transient=False)
            self._live.start()
        return self.c

    def tick(self, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if self._live is not None:
            if force or now - self._last >= 0.25:
                self._live.update(self.c.line())
                self._last = now
        elif force or now - self._last >= self.interval:
            print(self.c.line(), file=self.stream, flush=True)
            self._last = now

    def stop(self) -> None:
        if self._live is not None:
            self._live.update(self.c.line())
            self._live.stop()
            self._live = None
        elif not self.quiet:
            print(self.c.line(), file=self.stream, flush=True)

    def message(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)
