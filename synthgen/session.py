"""One stage in one process: the client, the budget, the live counts, the top-up rounds.

A session runs the stage's planned items, then up to `max_rounds` top-up rounds while groups are
short of their target (not with --limit): stage 1 wants `groups.<g>.tasks` distinct tasks,
stage 2 `groups.<g>.examples` accepted examples. A round is decided from what is committed when
the previous one ends and saved in the journal before its first request, so a resumed run
replays the same decision. Each run of items is asked online by the engine, or in Batch API
waves and then committed by the engine from the journal alone.
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
    progress_interval: float = 10.0
    # generate: read stage 1's tasks from another run directory (one brainstorm, many shards)
    tasks_from: Path | None = None
    # batch export: write the stage's next requests here for an engine elsewhere, send nothing
    export_dir: Path | None = None


def _saved_round(journal: Journal, prefix: str, r: int, decide) -> dict[str, range]:
    """Round r's {group: (start, n)}, decided once and kept in the journal's meta."""
    saved = journal.get_meta(f"{prefix}:{r}")
    if saved is None:
        saved = json.dumps(decide(), sort_keys=True)
        journal.set_meta(f"{prefix}:{r}", saved)
    return {g: range(a, a + n) for g, (a, n) in json.loads(saved).items() if n > 0}


def _earlier_rounds(journal: Journal, prefix: str, r: int) -> list[dict[str, list[int]]]:
    return [json.loads(journal.get_meta(f"{prefix}:{p}") or "{}") for p in range(1, r)]


def _next_start(journal: Journal, prefix: str, r: int, group: str, first: int) -> int:
    """Where group's call numbers (or slots) continue after rounds 1..r-1."""
    return max([first] + [sum(d[group]) for d in _earlier_rounds(journal, prefix, r) if group in d])


def brainstorm_round(cfg: RunConfig, journal: Journal, missing: dict[str, int], r: int) -> dict[str, range]:
    """Stage 1 round r: call numbers per group short of tasks (`missing`: tasks it lacks)."""
    per_call = cfg.brainstorm.tasks_per_call
    return _saved_round(journal, "brainstorm_round", r, lambda: {
        g: [_next_start(journal, "brainstorm_round", r, g, cfg.brainstorm_calls(g)), math.ceil(n / per_call)]
        for g, n in missing.items()})


def generate_round(cfg: RunConfig, journal: Journal, targets: dict[str, int], r: int) -> dict[str, range]:
    """Stage 2 round r: slots per group still short of its accepted target.

    A group short by s that accepted a share p of its items so far gets ceil(s / p) items (p at
    least MIN_RATE). All rounds together add at most `generate.max_extra_share` of the planned
    items, served in taxonomy order when that runs out."""

    def decide() -> dict[str, list[int]]:
        counts = journal.counters().get("generate", {})
        spent = sum(n for d in _earlier_rounds(journal, "generate_round", r) for _, n in d.values())
        left = math.floor(cfg.generate.max_extra_share * sum(targets.values())) - spent
        plan = {}
        for g, target in targets.items():
            c = counts.get(g, {})
            short = target - c.get("accepted", 0)
            if short <= 0 or left <= 0:
                continue
            rate = max(MIN_RATE, c.get("accepted", 0) / c["items"]) if c.get("items") else 1.0
            n = min(left, math.ceil(short / rate))
            plan[g] = [_next_start(journal, "generate_round", r, g, 0), n]
            left -= n
        return plan

    return _saved_round(journal, "generate_round", r, decide)


class StageSession:
    def __init__(self, name: str, cfg: RunConfig, opts: RunOptions, journal: Journal, stage,
                 tasks: dict[str, list[str]], total: int, progress: Progress):
        self.name, self.cfg, self.opts, self.journal, self.stage = name, cfg, opts, journal, stage
        self.tasks, self.total, self.progress = tasks, total, progress
        self.out = Path(opts.out)
        self.stats = EngineStats()
        self.engine: Engine | None = None
        self.interrupted = False
        self.exported = ""
        self.started = time.monotonic()
        self.targets = shard_targets(cfg, opts.shard) if name == "generate" else {}
        stage.targets = self.targets
        self._last_manifest = time.monotonic()

    # -- callbacks the engine calls ----------------------------------------------------------
    def _on_response(self, r) -> None:
        c = self.c
        c.prompt_tokens += r.prompt_tokens
        c.completion_tokens += r.completion_tokens
        c.requests += 1
        self.gate.add(r)
        c.cost = self.gate.cost_so_far

    def _on_commit(self, _result) -> None:
        c, client = self.c, self.client
        c.done += 1
        c.accepted, c.rejected = self.stage.accepted_total, self.stage.rejected_total
        c.in_flight, c.concurrency = client.in_flight, client.concurrency_limit
        c.rate_limited, c.retries = client.rate_limited, client.retries
        self.progress.tick()

    def _checkpoint(self) -> None:
        if time.monotonic() - self._last_manifest >= 2.0:
            write_manifest(self.cfg, self.journal, self.out, time.monotonic() - self.started)
            self._last_manifest = time.monotonic()

    # -- the work ----------------------------------------------------------------------------
    def _planned(self) -> Iterator[WorkItem]:
        if self.name == "brainstorm":
            items = brainstorm_items(self.cfg)
        else:
            items = generate_items(self.cfg, self.tasks)
        last = self.journal.last_index(self.name)
        return (it for it in select(items, self.opts.shard, self.opts.limit) if it.index > last)

    def _round(self, r: int):
        """A maker of top-up round r's items, or None when no group needs one."""
        if self.name == "brainstorm":
            calls = brainstorm_round(self.cfg, self.journal, self.stage.missing(), r)
            items = lambda: brainstorm_items(self.cfg, calls)  # noqa: E731
        else:
            calls = generate_round(self.cfg, self.journal, self.targets, r)
            items = lambda: topup_items(self.cfg, self.tasks, calls, self.opts.shard)  # noqa: E731
        if not calls:
            return None
        self.c.total = (self.c.total or 0) + sum(len(v) for v in calls.values())
        last = self.journal.last_index(f"{self.name}#{r}")
        return lambda: (it for it in items() if it.index > last)

    async def _pass(self, make_items, key: str | None = None) -> None:
        """One run of items: asked online by the engine, or in batch waves and then committed."""
        client = self.client
        engine = self.engine = Engine(
            self.stage, self.journal, client, self.cfg.llm.max_output_retries, client.max_concurrency,
            gate=self.gate, on_commit=self._on_commit, on_response=self._on_response,
            checkpoint=self._checkpoint, progress_key=key)
        if self.waves is not None:
            engine.missing = self.waves.missing
            try:
                await self.waves.run(key or self.name, make_items)
            except BudgetExhausted as exc:
                engine.request_stop(str(exc))
            except Exported as exc:
                self.exported = str(exc)
                engine.request_stop("exported")
        more = await engine.run(make_items())
        for f in ("committed", "requests", "failed", "rejected_failed"):
            setattr(self.stats, f, getattr(self.stats, f) + getattr(more, f))

    async def run(self) -> None:
        """The planned items, then top-up rounds while groups are short (not with --limit)."""
        await self._pass(self._planned)
        if self.opts.limit is not None:
            return
        rounds = self.cfg.brainstorm.max_rounds if self.name == "brainstorm" else self.cfg.generate.max_rounds
        for r in range(1, rounds + 1):
            if self.engine is not None and self.engine.stop_reason is not None:  # a fatal error stops too
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
                                        on_progress=self._batch_note, export_dir=self.opts.export_dir)
            self.c = self.progress.start(self.name, self.total, client.concurrency_limit)
            self.c.done = self.stage.items_total
            self.c.accepted, self.c.rejected = self.stage.accepted_total, self.stage.rejected_total
            self.c.cost = self.gate.cost_so_far
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal)
            try:
                await self.run()
            finally:
                await self.stage.aclose()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
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
