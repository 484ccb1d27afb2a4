"""The plain core the CLI wraps: run a stage of a run directory, resume it, top it up, and say
how it ended in one line and an exit code (synthgen.errors).

Every path out of here leaves the run directory consistent and resumable.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

from .config import RunConfig
from .errors import EXIT_BUDGET, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, RunError
from .integrity import disk_faults
from .journal import Journal
from .llm.connect import resolve_endpoint
from .llm.local_server import model_file
from .manifest import write_manifest
from .plan import Shard, generate_items
from .progress import Progress
from .run_dir import bind_tasks, check_stage1, load_tasks, open_run
from .session import RunOptions, StageSession
from .stages.brainstorm import BrainstormStage
from .stages.generate import GenerateStage
from .taxonomy import GROUPS


@dataclass
class StageOutcome:
    code: int
    message: str


def _count_selected(cfg: RunConfig, name: str, opts: RunOptions) -> int:
    """The items of the plan this run takes (its shard's, up to --limit)."""
    if name == "brainstorm":
        planned = sum(cfg.brainstorm_calls(g) for g in cfg.active_groups() if GROUPS[g].brainstorm)
    else:
        planned = sum(cfg.groups[g].examples for g in cfg.active_groups())
    n = max(0, math.ceil((planned - opts.shard.k) / opts.shard.n))
    return min(n, opts.limit) if opts.limit is not None else n


def settle_heap() -> None:
    """Collect once, then freeze what start-up left behind (modules, classes, config): a full
    collection after importing the SDK, pydantic and numpy took ~75 ms inside the first requests."""
    gc.collect()
    gc.freeze()


def _make_stage(name: str, cfg: RunConfig, opts: RunOptions, journal: Journal):
    """The stage object and the tasks stage 2 works from (checked whole first)."""
    out = Path(opts.out)
    if name == "brainstorm":
        return BrainstormStage(cfg, out, journal), {}
    tasks_dir = Path(opts.tasks_from) if opts.tasks_from else out
    if tasks_dir == out and any(GROUPS[g].brainstorm for g in cfg.active_groups()):  # --tasks-from's
        check_stage1(cfg, out, journal, own=True)  # run was checked (parts hashed) before --out was made
    tasks = load_tasks(tasks_dir)
    bind_tasks(journal, tasks, tasks_dir, opts.force)
    try:
        generate_items(cfg, tasks)  # checks that every group has tasks
    except ValueError as exc:  # --tasks-from's run may not have brainstormed this config's groups
        raise RunError(f"--tasks-from {tasks_dir}: {exc}" if opts.tasks_from else str(exc)) from None
    return GenerateStage(cfg, out, journal, todo=_count_selected(cfg, name, opts)), tasks


def _finished_before(name: str, cfg: RunConfig, opts: RunOptions, journal: Journal, stage) -> StageOutcome | None:
    """A stage already complete (or a --limit slice already done): say so without a client."""
    status = journal.get_meta(f"status:{name}")
    done = status in ("complete", "failed") or (
        opts.limit is not None and stage.items_total >= _count_selected(cfg, name, opts))
    if not done:
        return None
    # no finalize_all here: a finished stage published its parts before it said so, and the
    # rejects/ part now open may be the next stage's (brainstorm's rerun published generate's)
    write_manifest(cfg, journal, Path(opts.out), 0.0)
    if status == "failed":
        return StageOutcome(EXIT_FAILED, f"{name} already failed in {opts.out}: see run.json and rejects/")
    return StageOutcome(EXIT_OK, f"{name}: nothing to do ({stage.items_total} items already done)")


def _status(s: StageSession) -> str:
    if s.interrupted or s.engine.stop_reason:  # a fatal error sets one too
        return s.engine.stop_reason or "stopped"
    return "partial" if s.opts.limit is not None else "complete"


def _stopped(s: StageSession) -> StageOutcome | None:
    e, name, done, st = s.engine, s.name, f"{s.c.done}/{s.c.total} items done", s.stats
    reason = e.stop_reason
    if e.fatal is not None:
        code, msg = EXIT_FAILED, f"{name} stopped: the endpoint refused the request ({e.fatal})"
    elif s.interrupted:
        code, msg = EXIT_INTERRUPTED, f"{name} interrupted; {done}; rerun the same command to resume"
    elif reason == "exported":
        code, msg = EXIT_OK, f"{name}: {done}; {s.exported}"
    elif reason and reason.startswith("budget"):
        code, msg = EXIT_BUDGET, f"{name} stopped: {reason}; {done}; rerun with a higher budget to continue"
    elif reason == "request_failed" and s.cfg.llm.backend == "local" and e.last_failure.startswith("connection"):
        code, msg = EXIT_FAILED, (  # our own child on 127.0.0.1: nothing else refuses the connection
            f"{name} stopped: the local model server (llama_cpp.server) died ({e.last_failure}); {done}, "
            "every response received is saved: rerun the same command to start it again and continue")
    elif reason == "request_failed":
        code, msg = EXIT_FAILED, (
            f"{name} stopped: {st.failed} request(s) still failing ({e.last_failure}); {done}, "
            "every response received is saved: rerun the same command to continue")
    else:
        return None
    return StageOutcome(code, msg)


def _shortfall(s: StageSession, targets: dict[str, int], words: str) -> str:
    """The groups short of their targets, journaled for run.json; the stage line's clause on them."""
    short = {g: {"accepted": a, "target": t} for g, t in targets.items() if (a := s.stage.accepted.get(g, 0)) < t}
    s.journal.set_meta(f"shortfall:{s.name}", json.dumps(short, sort_keys=True))
    return f"; {words}: " + ", ".join(f"{g} {v['accepted']}/{v['target']}" for g, v in short.items()) if short else ""


def _summary(s: StageSession) -> StageOutcome:
    c, st, cfg = s.c, s.stats, s.cfg
    msg = f"{s.name}: {c.done}/{c.total} items, {c.accepted} accepted, {c.rejected} rejected"
    if s.name == "generate" and c.done > c.accepted + c.rejected:  # items = accepted + rejected + surplus
        msg += f", {c.done - c.accepted - c.rejected} surplus (good, past the target; in rejects/)"
    if getattr(s.stage, "notice", ""):
        msg += f"; note: {s.stage.notice}"
    if s.name == "brainstorm" and s.opts.limit is None:
        kept = s.stage.accepted
        groups = [g for g in cfg.active_groups() if GROUPS[g].brainstorm]
        empty = [g for g in groups if kept.get(g, 0) == 0]
        if empty:
            s.journal.set_meta("status:brainstorm", "failed")
            msg += (f"; no usable task for {', '.join(empty)} (see rejects/); "
                    "try another model or prompts with a new --out")
            return StageOutcome(EXIT_FAILED, msg)
        msg += _shortfall(s, {g: cfg.groups[g].tasks or 0 for g in groups}, "fewer distinct tasks than asked")
    if s.name == "generate" and s.opts.limit is None:
        msg += _shortfall(s, s.targets, "short of target after the top-up rounds")
    if st.rejected_failed:
        msg += f"; {st.rejected_failed} request(s) refused by the server (rejects: request_failed)"
    return StageOutcome(EXIT_OK, msg)


async def _run_stage(name: str, cfg: RunConfig, opts: RunOptions, journal: Journal,
                     progress: Progress) -> StageOutcome:
    stage, tasks = _make_stage(name, cfg, opts, journal)
    before = _finished_before(name, cfg, opts, journal, stage)
    if before is not None:
        await stage.aclose()
        return before
    await stage.start()  # a check worker's start-up overlaps ours, not the first commits
    settle_heap()
    session = StageSession(name, cfg, opts, journal, stage, tasks, _count_selected(cfg, name, opts), progress)
    # what run.json and stats say of a stage killed midway (replaced by how it ends)
    journal.set_meta(f"status:{name}", "in progress")
    write_manifest(cfg, journal, Path(opts.out), 0.0)
    await session.execute()
    status = _status(session)
    if status in ("complete", "partial"):
        stage.finalize_all()
    journal.set_meta(f"status:{name}", status)
    outcome = _stopped(session) or _summary(session)
    write_manifest(cfg, journal, Path(opts.out), 0.0)
    return outcome


def _refuse_early(name: str, cfg: RunConfig, opts: RunOptions) -> None:
    """What refuses a command, checked before the run directory is made and bound to this config
    and shard: a rerun with the mistake fixed must not be told the directory is another config's."""
    if cfg.llm.backend == "openai" and opts.export_dir is None:
        resolve_endpoint(cfg)
    if cfg.llm.backend == "local":
        model_file(cfg.llm.model_path)
    if (opts.max_cost is not None or cfg.budget.max_cost is not None) and cfg.llm.model not in cfg.prices:
        raise RunError(f"a cost budget (--max-cost, budget.max_cost) needs a price for model "
                       f"'{cfg.llm.model}' in the [prices] table")
    if name == "generate" and any(GROUPS[g].brainstorm for g in cfg.active_groups()):
        tasks_dir = Path(opts.tasks_from or opts.out)
        if tasks_dir != Path(opts.out) or not (tasks_dir / "journal").is_dir():
            check_stage1(cfg, tasks_dir, None, own=tasks_dir == Path(opts.out))


def run_stage(stage_name: str, cfg: RunConfig, opts: RunOptions, progress: Progress | None = None) -> StageOutcome:
    progress = progress or Progress(quiet=opts.quiet)
    _refuse_early(stage_name, cfg, opts)
    if stage_name == "brainstorm" and opts.shard.n > 1:
        opts = replace(opts, shard=Shard())
    with disk_faults(opts.out), open_run(cfg, opts.out, stage_name, opts.shard, opts.force) as journal:
        return asyncio.run(_run_stage(stage_name, cfg, opts, journal, progress))


def run_all(cfg: RunConfig, opts: RunOptions) -> list[StageOutcome]:
    """Stage 1 in full (no --limit, no --shard: the task list must be whole), then stage 2."""
    progress = Progress(quiet=opts.quiet)  # one for both stages
    outcomes = []
    if opts.tasks_from is None and any(GROUPS[g].brainstorm for g in cfg.active_groups()):
        outcomes.append(run_stage("brainstorm", cfg, replace(opts, limit=None), progress))
        if outcomes[-1].code != EXIT_OK:
            return outcomes
    outcomes.append(run_stage("generate", cfg, opts, progress))
    return outcomes
