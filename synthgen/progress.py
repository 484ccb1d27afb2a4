"""Live progress: a rich bar on a terminal, plain periodic log lines in CI, nothing with --quiet."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.text import Text


@dataclass
class Counters:
    stage: str = ""
    total: int | None = None
    done: int = 0
    accepted: int = 0
    rejected: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rate_limited: int = 0
    retries: int = 0
    in_flight: int = 0
    concurrency: int = 0
    cost: float | None = None
    note: str = ""  # e.g. the state of a stage's batches
    started: float = 0.0

    def rates(self, now: float) -> str:
        """Everything but the done/total count: the bar shows that one itself."""
        el = max(1e-6, now - self.started)
        cost = f" cost=${self.cost:.4f}" if self.cost is not None else ""
        if self.cost is not None and self.total and self.done:
            cost += f" (projected ${self.cost / self.done * self.total:.4f})"
        return (f"{self.accepted} accepted, {self.rejected} rejected | "
                f"{self.requests / el:.1f} req/s, tokens in {self.prompt_tokens / el:.0f}/s "
                f"out {self.completion_tokens / el:.0f}/s | in flight {self.in_flight}/{self.concurrency}, "
                f"429s {self.rate_limited}, retries {self.retries}{cost}, {el:.0f}s"
                + (f" | {self.note}" if self.note else ""))


class _BarAndRates(RichProgress):
    """The bar line, then the rates on lines of their own: beside the bar they would squeeze
    it to nothing on an 80-column terminal."""

    rates = ""

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        yield Text(self.rates)


class Progress:
    """One stage at a time. `console` and `clock` exist so tests can watch a terminal with a fake clock."""

    def __init__(self, quiet: bool = False, interval: float = 10.0, stream=None,
                 console: Console | None = None, clock: Callable[[], float] = time.monotonic):
        self.stream = stream or sys.stderr
        self.quiet, self.interval, self.clock = quiet, interval, clock
        self.console = console
        self.tty = not quiet and (console.is_terminal if console is not None else self.stream.isatty())
        self.c = Counters(started=clock())
        self._last = 0.0
        self._bar: _BarAndRates | None = None
        self._task = None
        self._drawn = False

    def start(self, stage: str, total: int | None, concurrency: int) -> Counters:
        self.c = Counters(stage=stage, total=total, concurrency=concurrency, started=self.clock())
        if self.tty:
            # refreshed from tick(), not a timer thread: the display changes only when counts do
            self._bar = _BarAndRates(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("ETA"), TimeRemainingColumn(),
                console=self.console or Console(file=self.stream), auto_refresh=False, get_time=self.clock)
            self._task = self._bar.add_task(stage, total=total, completed=self.c.done)
            self._bar.start()
            self._drawn = False
        return self.c

    def tick(self, force: bool = False) -> None:
        if self.quiet:
            return
        now = self.clock()
        if not force and now - self._last < (0.25 if self._bar is not None else self.interval):
            return
        self._last = now
        if self._bar is None:
            total = f"/{self.c.total}" if self.c.total is not None else ""
            print(f"{self.c.stage}: {self.c.done}{total} done, {self.c.rates(now)}", file=self.stream,
                  flush=True)
            return
        # the caller sets `done` to the items of earlier sessions after start(): a reset on the
        # first draw keeps them out of the speed the ETA is computed from
        update = self._bar.update if self._drawn else self._bar.reset
        update(self._task, total=self.c.total, completed=self.c.done)
        self._bar.rates = self.c.rates(now)
        self._drawn = True
        self._bar.refresh()

    def stop(self) -> None:
        self.tick(force=True)
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
