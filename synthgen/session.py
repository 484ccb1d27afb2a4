"""One stage in one process: the client, the budget, the live counts, the top-up rounds.

A session runs the stage's planned items, then up to `max_rounds` top-up rounds while groups are
short of their target (not with --limit): stage 1 wants `groups.<g>.tasks` distinct tasks,
stage 2 `groups.<g>.examples` accepted examples. A round is saved in the journal before its
first request, so a resumed run replays the same decision. Each run of items is asked online by
the engine, or in Batch API waves and then committed by the engine from the journal alone.
"""

from __future__ import annotations

import asyncio
import json
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .batch.waves import BatchWaves, Exported
from .budget import BudgetExhausted, BudgetGate
from .config import RunConfig
from .journal import Journal
from .llm.connect import connect
from .manifest import write_manifest
from .plan import Shard, WorkItem, brainstorm_items, generate_items, select, shard_targets, topup_items
from .progress import Progress
from .stages.engine import Engine, EngineStats

# a group's accept rate below this is taken as this when sizing its next round
MIN_RATE = 0.1


@dataclass
class RunOptions:
    out: Path
    limit: int | None = None
    shard: Shard = field(default_factory=Shard)
    force: bool = False
    quiet: bool = False
    concurrency: int | None = None
    max_cost: float | None = None
    max_requests: int | None = None
    # generate: read stage 1's tasks from another run directory (one brainstorm, many shards)
    tasks_from: Path | None = None
    # batch export: write the stage's next requests here for an engine elsewhere, send nothing
    export_dir: Path | None = None


class StageSession:
    def __init__(self, name: str, cfg: RunConfig, opts: RunOptions, journal: Journal, stage,
                 tasks: dict[str, list[str]], total: int, progress: Progress):
        self.name, self.cfg, self.opts, self.journal, self.stage = name, cfg, opts, journal, stage
        self.tasks, self.total, self.progress = tasks, total, progress
        self.out = Path(opts.out)
        self.stats = EngineStats()
        self.engine: Engine | None = None
        self.batching: asyncio.Future | None = None  # the waves' polling, which a signal cancels
        self.interrupted = False
        self.exported = ""
        self.started = time.monotonic()
        self.targets = shard_targets(cfg, opts.shard) if name == "generate" else {}
        stage.targets = self.targets
        self._last_manifest = time.monotonic()

    def _on_response(self, r) -> None:
        c = self.c
        c.prompt_tokens += r.prompt_tokens
        c.completion_tokens += r.completion_tokens
        c.requests += 1
        self.gate.add(r)
        c.cost = self.gate.cost_so_far

    def _on_commit(self, _result) -> None:
        self.c.done += 1
        self._refresh()

    def _refresh(self) -> None:
        c, client = self.c, self.client
        c.accepted, c.rejected = self.stage.accepted_total, self.stage.rejected_total
        c.in_flight, c.concurrency = client.in_flight, client.concurrency_limit
        c.rate_limited, c.retries = client.rate_limited, client.retries
        c.cost = self.gate.cost_so_far  # batch waves bring theirs at once, as they are read
        self.progress.tick()

    async def _beat(self) -> None:
        """The progress line also while nothing commits (the next item hanging, a long Retry-After)."""
        while True:
            await asyncio.sleep(self.progress.interval / 2)  # tick() keeps it to one line per interval
            self._refresh()

    def _checkpoint(self) -> None:
        if time.monotonic() - self._last_manifest >= 2.0:
            write_manifest(self.cfg, self.journal, self.out, time.monotonic() - self.started)
            self._last_manifest = time.monotonic()

    def _planned(self) -> Iterator[WorkItem]:
        stage1 = self.name == "brainstorm"
        items = brainstorm_items(self.cfg) if stage1 else generate_items(self.cfg, self.tasks)
        return select(items, self.opts.shard, self.opts.limit)

    def _decide(self, earlier: list[dict[str, list[int]]]) -> dict[str, list[int]]:
        """{group: [first call or slot, how many]}. Stage 1: enough calls for the tasks a group
        lacks, at the new tasks per call it has yielded so far (at least MIN_RATE of
        tasks_per_call; tasks_per_call while it has none). Stage 2: a group short by s that
        accepted a share p of its items so far gets ceil(s / p) items (p at least MIN_RATE); all
        rounds together add at most `generate.max_extra_share` of the planned items, the groups
        needing the fewest served first."""
        cfg = self.cfg

        def start(g: str, first: int) -> int:  # where g's numbers continue after earlier rounds
            return max([first] + [sum(d[g]) for d in earlier if g in d])

        counts = self.journal.counters().get(self.name, {})
        if self.name == "brainstorm":
            per_call = cfg.brainstorm.tasks_per_call
            got = {g: c["accepted"] / c["items"] for g, c in counts.items() if c.get("accepted")}
            return {g: [start(g, cfg.brainstorm_calls(g)),
                        math.ceil(n / min(per_call, max(MIN_RATE * per_call, got.get(g, per_call))))]
                    for g, n in self.stage.missing().items()}
        spent = sum(n for d in earlier for _, n in d.values())
        left = math.floor(cfg.generate.max_extra_share * sum(self.targets.values())) - spent
        want = {}
        for g, target in self.targets.items():
            c = counts.get(g, {})
            short = target - c.get("accepted", 0)
            rate = max(MIN_RATE, c.get("accepted", 0) / c["items"]) if c.get("items") else 1.0
            if short > 0:
                want[g] = math.ceil(short / rate)
        plan = {}
        for g in sorted(want, key=want.get):  # fewest calls first: a hopeless group starves no other
            if left > 0:
                plan[g] = [start(g, 0), min(left, want[g])]
                left -= plan[g][1]
        return plan

    def _round(self, r: int):
        """A maker of top-up round r's items, or None when no group needs one: call numbers (stage 1)
        or slots (stage 2) per group still short, decided once and kept in the journal's meta."""
        key = f"{self.name}_round:"
        saved = self.journal.get_meta(f"{key}{r}")
        if saved is None:
            earlier = [json.loads(self.journal.get_meta(f"{key}{p}") or "{}") for p in range(1, r)]
            saved = json.dumps(self._decide(earlier), sort_keys=True)
            self.journal.set_meta(f"{key}{r}", saved)
        calls = {g: range(a, a + n) for g, (a, n) in json.loads(saved).items() if n > 0}
        if not calls:
            return None
        self.c.total = (self.c.total or 0) + sum(len(v) for v in calls.values())
        if self.name == "brainstorm":
            return lambda: brainstorm_items(self.cfg, calls)
        return lambda: topup_items(self.cfg, self.tasks, calls, self.opts.shard)

    async def _pass(self, make_items, key: str) -> None:
        """The items not yet committed under `key`: asked online, or in batch waves, then committed."""
        last = self.journal.last_index(key)
        todo = lambda: (it for it in make_items() if it.index > last)  # noqa: E731
        client = self.client
        engine = self.engine = Engine(
            self.stage, self.journal, client, self.cfg.llm.max_output_retries, client.max_concurrency,
            gate=self.gate, on_commit=self._on_commit, on_response=self._on_response,
            checkpoint=self._checkpoint, progress_key=key)
        if self.waves is not None:
            engine.missing = self.waves.missing
            self.batching = asyncio.ensure_future(self.waves.run(key, todo))
            try:
                await self.batching
            except asyncio.CancelledError:
                if not self.interrupted:
                    raise
            except BudgetExhausted as exc:  # the engine commits the answers in hand, up to the first absent
                self.waves.budget = exc
            except Exported as exc:
                self.exported = str(exc)
                engine.request_stop("exported")
        engine.stats = self.stats  # one tally over the planned items and every top-up round
        await engine.run(todo())

    async def run(self) -> None:
        """The planned items, then top-up rounds while groups are short (not with --limit)."""
        await self._pass(self._planned, self.name)
        if self.opts.limit is not None:
            return
        rounds = self.cfg.brainstorm.max_rounds if self.name == "brainstorm" else self.cfg.generate.max_rounds
        for r in range(1, rounds + 1):
            if self.engine.stop_reason is not None:  # a fatal error stops too
                return
            make_items = self._round(r)
            if make_items is None:
                return
            await self._pass(make_items, f"{self.name}#{r}")

    def _batch_note(self, text: str) -> None:
        self.c.note = text
        self.progress.tick(force=True)

    async def execute(self) -> None:
        async with connect(self.cfg, concurrency=self.opts.concurrency,
                           offline=self.opts.export_dir is not None) as client:
            self.client = client
            self.gate = BudgetGate(self.cfg, self.journal, self.opts.max_cost, self.opts.max_requests)
            self.waves = None
            if self.cfg.llm.mode == "batch" or self.opts.export_dir is not None:
                self.waves = BatchWaves(self.cfg, self.journal, self.out, self.stage, client, self.gate,
                                        on_progress=self._batch_note, export_dir=self.opts.export_dir,
                                        shard=self.opts.shard)
            self.c = self.progress.start(self.name, self.total, client.concurrency_limit)
            self.c.done = self.stage.items_total
            self.c.accepted, self.c.rejected = self.stage.accepted_total, self.stage.rejected_total
            self.c.cost = self.gate.cost_so_far
            loop = asyncio.get_running_loop()

            def on_signal(signum, frame) -> None:
                # said at once: a signal the loop has not read by the time the stage ends is still seen
                self.interrupted = True
                loop.call_soon_threadsafe(self._on_signal)
            handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
            beat = asyncio.ensure_future(self._beat())
            try:
                await self.run()
            finally:
                beat.cancel()
                await self.stage.aclose()
                for sig, handler in handlers.items():  # as they were: between stages, KeyboardInterrupt
                    signal.signal(sig, handler)
                prior = float(self.journal.get_meta("elapsed_s", "0") or 0)
                self.journal.set_meta("elapsed_s", str(prior + time.monotonic() - self.started))
                self.c.retries, self.c.rate_limited = client.retries, client.rate_limited
                self.c.in_flight = client.in_flight
                self.progress.stop()

    def _on_signal(self) -> None:
        self.interrupted = True
        if self.engine is not None:
            self.engine.request_stop("interrupted")
            self.engine.cancel_in_flight()
        if self.batching is not None:  # a batch may poll for hours: the rerun re-attaches to it
            self.batching.cancel()
