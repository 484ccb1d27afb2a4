"""The plain core the CLI wraps: run a stage of a run directory, resume it, top it up.

Every path out of here leaves the run directory consistent and resumable. Exit codes are in
synthgen.errors.
"""

from __future__ import annotations

import asyncio
import gc
import math
from dataclasses import replace
from pathlib import Path

from .config import RunConfig
from .errors import EXIT_FAILED, EXIT_OK, RunError
from .integrity import disk_faults
from .journal import Journal
from .manifest import write_manifest
from .outcome import StageOutcome, outcome_of, status_of
from .plan import Shard, generate_items
from .progress import Progress
from .run_dir import check_stage1, load_tasks, open_run
from .session import RunOptions, StageSession
from .stages.brainstorm import BrainstormStage
from .stages.generate import GenerateStage
from .taxonomy import GROUPS

__all__ = ["RunOptions", "StageOutcome", "run_stage", "run_all", "load_tasks", "plan_size"]


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
    # no finalize_all here: a finished stage published its parts before it said so, and the
    # rejects/ part now open may be the next stage's (brainstorm's rerun published generate's)
    write_manifest(cfg, journal, Path(opts.out), 0.0)
    if status == "failed":
        return StageOutcome(name, EXIT_FAILED, f"{name} already failed in {opts.out}: see run.json and rejects/")
    return StageOutcome(name, EXIT_OK, f"{name}: nothing to do ({stage.items_total} items already done)")


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
    session = StageSession(name, cfg, opts, journal, stage, tasks, total, progress)
    await session.execute()
    status = status_of(session)
    if status in ("complete", "partial"):
        stage.finalize_all()
    journal.set_meta(f"status:{name}", status)
    outcome = outcome_of(session)
    write_manifest(cfg, journal, Path(opts.out), 0.0)
    return outcome


def run_stage(stage_name: str, cfg: RunConfig, opts: RunOptions, progress: Progress | None = None) -> StageOutcome:
    progress = progress or Progress(quiet=opts.quiet, interval=opts.progress_interval)
    if stage_name == "brainstorm" and opts.shard.n > 1:
        opts = replace(opts, shard=Shard())
    with disk_faults(opts.out), open_run(cfg, opts.out, stage_name, opts.shard, opts.force) as journal:
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
