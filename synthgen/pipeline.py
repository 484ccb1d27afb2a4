"""The plain core the CLI wraps: run a stage of a run directory, resume it, top it up.

Every path out of here leaves the run directory consistent and resumable. Exit codes are in
synthgen.errors.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from .batch.waves import BatchWaves, Exported
from .budget import BudgetExhausted, BudgetGate
from .config import RunConfig
from .errors import EXIT_BUDGET, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, RunError
from .journal import Journal
from .llm.connect import connect
from .manifest import write_manifest
from .plan import Shard, WorkItem, brainstorm_items, generate_items, select, shard_targets, topup_items
from .progress import Progress
from .rounds import brainstorm_round, generate_round, shortfall
from .run_dir import check_stage1, load_tasks, open_run
from .stages.brainstorm import BrainstormStage
from .stages.engine import Engine, EngineStats
from .stages.generate import GenerateStage
from .taxonomy import GROUPS

__all__ = ["RunOptions", "StageOutcome", "run_stage", "run_all", "load_tasks", "plan_size"]


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


@dataclass
class StageOutcome:
    stage: str
    code: int
    message: str
    committed: int = 0
    requests: int = 0


def plan_size(cfg: RunConfig, stage: str) -> int:
    if stage == "brainstorm":
        return sum(cfg.brainstorm_calls(g) for g in cfg.active_groups() if GROUPS[g].brainstorm)
    return sum(cfg.groups[g].examples for g in cfg.active_groups())


def _count_selected(total: int, shard: Shard, limit: int | None) -> int:
    n = max(0, math.ceil((total - shard.k) / shard.n))
    return min(n, limit) if limit is not None else n


def settle_heap() -> None:
    """Collect once, then freeze what start-up left behind (modules, classes, config).

    A full collection walks every tracked object: after importing the SDK, pydantic and numpy
    that took ~75 ms, paid again inside the first requests. Frozen objects are skipped by every
    collection; the run's own objects are collected as before."""
    gc.collect()
    gc.freeze()


class _Session:
    """One stage in one process: the client, the budget, the live counts, the rounds."""

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

    def _engine(self, progress_key: str | None = None) -> Engine:
        client = self.client
        self.engine = Engine(self.stage, self.journal, client, self.cfg.llm.max_output_retries,
                             client.max_concurrency, gate=self.gate, on_commit=self._on_commit,
                             on_response=self._on_response, checkpoint=self._checkpoint,
                             progress_key=progress_key)
        return self.engine

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
            if not calls:
                return None
            items = lambda: brainstorm_items(self.cfg, calls)  # noqa: E731
        else:
            calls = generate_round(self.cfg, self.journal, self.targets, r)
            if not calls:
                return None
            items = lambda: topup_items(self.cfg, self.tasks, calls, self.opts.shard)  # noqa: E731
        self.c.total = (self.c.total or 0) + sum(len(v) for v in calls.values())
        last = self.journal.last_index(f"{self.name}#{r}")
        return lambda: (it for it in items() if it.index > last)

    def _stopped(self) -> bool:
        e = self.engine
        return e is not None and (e.stop_reason is not None or e.fatal is not None)

    def _add(self, more: EngineStats) -> None:
        for f in ("committed", "requests", "failed", "rejected_failed"):
            setattr(self.stats, f, getattr(self.stats, f) + getattr(more, f))

    async def _pass(self, make_items, key: str | None = None) -> None:
        """One run of items: asked online by the engine, or in batch waves and then committed."""
        engine = self._engine(key)
        if self.waves is not None:
            engine.missing = self.waves.missing
            try:
                await self.waves.run(key or self.name, make_items)
            except BudgetExhausted as exc:
                engine.request_stop(str(exc))
            except Exported as exc:
                self.exported = str(exc)
                engine.request_stop("exported")
        self._add(await engine.run(make_items()))

    async def run(self) -> None:
        """The planned items, then top-up rounds while groups are short (not with --limit)."""
        await self._pass(self._planned)
        if self.opts.limit is not None:
            return
        rounds = self.cfg.brainstorm.max_rounds if self.name == "brainstorm" else self.cfg.generate.max_rounds
        for r in range(1, rounds + 1):
            if self._stopped():
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


def _make_stage(name: str, cfg: RunConfig, opts: RunOptions, journal: Journal):
    """The stage object and the tasks stage 2 works from (checked whole first)."""
    out = Path(opts.out)
    if name == "brainstorm":
        return BrainstormStage(cfg, out, journal), {}
    tasks_dir = Path(opts.tasks_from) if opts.tasks_from else out
    if any(GROUPS[g].brainstorm for g in cfg.active_groups()):
        check_stage1(cfg, tasks_dir, journal if tasks_dir == out else None)
    tasks = load_tasks(tasks_dir)
    try:
        generate_items(cfg, tasks)  # checks that every group has tasks
    except ValueError as exc:
        raise RunError(str(exc)) from None
    total = _count_selected(plan_size(cfg, name), opts.shard, opts.limit)
    return GenerateStage(cfg, out, journal, todo=total), tasks


def _finished_before(name: str, cfg: RunConfig, opts: RunOptions, journal: Journal, stage) -> StageOutcome | None:
    """A stage already complete (or a --limit slice already done): say so without a client."""
    status = journal.get_meta(f"status:{name}")
    total = _count_selected(plan_size(cfg, name), opts.shard, opts.limit)
    done = status in ("complete", "failed") or (opts.limit is not None and stage.items_total >= total)
    if not done:
        return None
    stage.finalize_all()
    write_manifest(cfg, journal, Path(opts.out), 0.0)
    if status == "failed":
        return StageOutcome(name, EXIT_FAILED, f"{name} already failed in {opts.out}: see run.json and rejects/")
    return StageOutcome(name, EXIT_OK, f"{name}: nothing to do ({stage.items_total} items already done)")


def _status(s: _Session) -> str:
    e = s.engine
    if s.interrupted or (e is not None and (e.stop_reason or e.fatal)):
        return (e.stop_reason if e is not None else None) or "stopped"
    return "partial" if s.opts.limit is not None else "complete"


def _stopped_outcome(s: _Session) -> StageOutcome | None:
    e, name, done = s.engine, s.name, f"{s.c.done}/{s.c.total} items done"
    st = s.stats
    if e is not None and e.fatal is not None:
        return StageOutcome(name, EXIT_FAILED, f"{name} stopped: the endpoint refused the request ({e.fatal})",
                            st.committed, st.requests)
    if s.interrupted:
        return StageOutcome(name, EXIT_INTERRUPTED, f"{name} interrupted; {done}; rerun the same command to resume",
                            st.committed, st.requests)
    reason = e.stop_reason if e is not None else None
    if reason == "exported":
        return StageOutcome(name, EXIT_OK, f"{name}: {done}; {s.exported}", st.committed, st.requests)
    if reason and reason.startswith("budget"):
        return StageOutcome(name, EXIT_BUDGET, f"{name} stopped: {reason}; {done}; rerun with a higher budget to continue",
                            st.committed, st.requests)
    if reason == "request_failed":
        return StageOutcome(name, EXIT_FAILED,
                            f"{name} stopped: {st.failed} request(s) still failing ({e.last_failure}); {done}, "
                            "every response received is saved: rerun the same command to continue",
                            st.committed, st.requests)
    return None


def _brainstorm_shortfall(s: _Session, msg: str) -> StageOutcome | None:
    kept, cfg = s.stage.kept, s.cfg
    empty = [g for g in cfg.active_groups() if GROUPS[g].brainstorm and kept.get(g, 0) == 0]
    if empty:
        s.journal.set_meta("status:brainstorm", "failed")
        write_manifest(cfg, s.journal, s.out, 0.0)
        return StageOutcome(s.name, EXIT_FAILED, msg + f"; no usable task for {', '.join(empty)} (see rejects/); "
                            "try another model or prompts with a new --out", s.stats.committed, s.stats.requests)
    return None


def _summary(s: _Session) -> StageOutcome:
    c, st = s.c, s.stats
    msg = f"{s.name}: {c.done}/{c.total} items, {c.accepted} accepted, {c.rejected} rejected"
    if getattr(s.stage, "notice", ""):
        msg += f"; note: {s.stage.notice}"
    if s.name == "brainstorm" and s.opts.limit is None:
        failed = _brainstorm_shortfall(s, msg)
        if failed is not None:
            return failed
        fewer = [f"{g} {n}/{s.cfg.groups[g].tasks}" for g, n in _tasks_short(s).items()]
        if fewer:
            msg += "; fewer distinct tasks than asked: " + ", ".join(fewer)
    if s.name == "generate" and s.opts.limit is None:
        short = shortfall(s.journal, s.targets)
        s.journal.set_meta("shortfall:generate", json.dumps(short, sort_keys=True))
        if short:
            msg += "; short of target after the top-up rounds: " + ", ".join(
                f"{g} {v['accepted']}/{v['target']}" for g, v in short.items())
    if st.rejected_failed:
        msg += f"; {st.rejected_failed} request(s) refused by the server (rejects: request_failed)"
    return StageOutcome(s.name, EXIT_OK, msg, st.committed, st.requests)


def _tasks_short(s: _Session) -> dict[str, int]:
    return {g: s.stage.kept.get(g, 0) for g in s.cfg.active_groups()
            if GROUPS[g].brainstorm and s.stage.kept.get(g, 0) < (s.cfg.groups[g].tasks or 0)}


async def _run_stage(name: str, cfg: RunConfig, opts: RunOptions, journal: Journal,
                     progress: Progress) -> StageOutcome:
    stage, tasks = _make_stage(name, cfg, opts, journal)
    before = _finished_before(name, cfg, opts, journal, stage)
    if before is not None:
        await stage.aclose()
        return before
    await stage.start()  # a check worker's start-up overlaps ours, not the first commits
    settle_heap()
    total = _count_selected(plan_size(cfg, name), opts.shard, opts.limit)
    session = _Session(name, cfg, opts, journal, stage, tasks, total, progress)
    await session.execute()
    status = _status(session)
    if status in ("complete", "partial"):
        stage.finalize_all()
    journal.set_meta(f"status:{name}", status)
    outcome = _stopped_outcome(session) or _summary(session)
    write_manifest(cfg, journal, Path(opts.out), 0.0)
    return outcome


def run_stage(stage_name: str, cfg: RunConfig, opts: RunOptions, progress: Progress | None = None) -> StageOutcome:
    progress = progress or Progress(quiet=opts.quiet, interval=opts.progress_interval)
    if stage_name == "brainstorm" and opts.shard.n > 1:
        opts = replace(opts, shard=Shard())
    with open_run(cfg, opts.out, stage_name, opts.shard, opts.force) as journal:
        return asyncio.run(_run_stage(stage_name, cfg, opts, journal, progress))


def run_all(cfg: RunConfig, opts: RunOptions, progress: Progress | None = None) -> list[StageOutcome]:
    """Stage 1 in full (no --limit, no --shard: the task list must be whole), then stage 2."""
    progress = progress or Progress(quiet=opts.quiet, interval=opts.progress_interval)
    outcomes = []
    if opts.tasks_from is None and any(GROUPS[g].brainstorm for g in cfg.active_groups()):
        outcomes.append(run_stage("brainstorm", cfg, replace(opts, limit=None), progress))
        if outcomes[-1].code != EXIT_OK:
            return outcomes
    outcomes.append(run_stage("generate", cfg, opts, progress))
    return outcomes
