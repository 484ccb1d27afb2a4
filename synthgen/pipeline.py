"""The plain core the CLI wraps: open a run directory, run a stage, resume, checkpoint.

Exit codes: 0 done; 1 the run failed (endpoint refused us, requests failed after retries);
2 bad usage or config; 3 a budget (--max-cost / --max-requests) was reached; 130 interrupted.
Every path out of here leaves the run directory consistent and resumable.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import math
import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .config import RunConfig
from .errors import (EXIT_BUDGET, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE,  # noqa: F401
                     ConfigError, RunError)
from .journal import Journal
from .manifest import write_manifest
from .plan import Shard, brainstorm_items, generate_items, select
from .progress import Progress
from .integrity import disk_faults
from .shards import iter_records, restore_published
from .taxonomy import GROUPS



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


@dataclass
class StageOutcome:
    stage: str
    code: int
    message: str
    committed: int = 0
    requests: int = 0


# -- run directory ---------------------------------------------------------------------------

def _flatten(d: object, prefix: str = "") -> dict[str, object]:
    if isinstance(d, dict):
        out: dict[str, object] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def _config_changes(old: dict, new: dict) -> list[str]:
    a, b = _flatten(old), _flatten(new)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


@contextmanager
def open_run(cfg: RunConfig, opts: RunOptions, stage: str = "generate"):
    """Lock the run directory, check it belongs to this config and shard, yield its journal."""
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} exists and is not a directory")
    try:
        (out / "journal").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create run directory {out}: {exc.strerror}") from None
    lock = open(out / "journal" / "lock", "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise RunError(f"run directory {out} is in use by another synthgen process") from None
    try:
        journal = Journal(out)
    except BaseException:  # a damaged journal: the lock goes with it
        lock.close()
        raise
    try:
        fp = cfg.fingerprint()
        old_fp = journal.get_meta("fingerprint")
        if old_fp is not None and old_fp != fp and not opts.force:
            old_cfg = json.loads(journal.get_meta("fingerprinted_config", "{}") or "{}")
            changed = _config_changes(old_cfg, cfg.fingerprint_data())[:6]
            raise RunError(
                f"{out} was started with a different config (changed: {', '.join(changed) or 'prompts'}); "
                "use the original config, a new --out, or --force to continue anyway")
        if stage == "generate":
            old_shard = journal.get_meta("shard")
            if old_shard is not None and old_shard != str(opts.shard) and not opts.force:
                raise RunError(f"{out} holds shard {old_shard}, not {opts.shard}; use a separate --out per shard")
            journal.set_meta("shard", str(opts.shard))
        journal.set_meta("fingerprint", fp)
        journal.set_meta("fingerprinted_config", json.dumps(cfg.fingerprint_data(), sort_keys=True))
        restore_published(out, journal)
        yield journal
    finally:
        journal.close()
        lock.close()


def _check_stage1(cfg: RunConfig, tasks_dir: Path, journal: Journal | None) -> None:
    """Stage 2 needs stage 1 whole: a partial task list would change every item after it."""
    if journal is None:
        manifest = tasks_dir / "run.json"
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            raise RunError(f"--tasks-from {tasks_dir}: no readable run.json there") from None
        status = data.get("stages", {}).get("brainstorm", {}).get("status")
        fp_cfg = data.get("config", {})
        if fp_cfg.get("seed") != cfg.seed:
            raise RunError(f"--tasks-from {tasks_dir} was made with seed {fp_cfg.get('seed')}, not {cfg.seed}")
    else:
        status = journal.get_meta("status:brainstorm")
    if status != "complete":
        where = f"--tasks-from {tasks_dir}" if journal is None else str(tasks_dir)
        raise RunError(f"stage 1 is not complete in {where}: run `synthgen brainstorm` (same config and --out) first")


def load_tasks(run_dir: Path) -> dict[str, list[str]]:
    tasks: dict[str, list[str]] = {}
    for rec in iter_records(Path(run_dir) / "tasks"):
        tasks.setdefault(rec["group"], []).append(rec["task"])
    return tasks


def _count_selected(total: int, shard: Shard, limit: int | None) -> int:
    n = max(0, math.ceil((total - shard.k) / shard.n))
    return min(n, limit) if limit is not None else n


def _use_check_worker(cfg: RunConfig, todo: int) -> bool:
    """validation.check_worker: "auto" takes a worker process when it pays for its start-up
    (about a second of CPU): 1000+ examples to check, two or more cores, and language or
    near-duplicate checks switched on."""
    mode = cfg.validation.check_worker
    if mode != "auto":
        return mode == "on"
    heavy = cfg.validation.policy("wrong_language") != "off" or cfg.validation.policy("near_duplicate") != "off"
    return heavy and todo >= 1000 and (os.cpu_count() or 1) >= 2


def prespawn_check_worker(cfg: RunConfig, limit: int | None = None) -> None:
    """Start stage 2's check worker while the command is still starting up; the stage claims it.

    Its start-up (~0.7 s of CPU) then overlaps this process's imports instead of holding up the
    first commits. If the stage turns out not to want it (a resume with little left), it exits
    with this process."""
    todo = plan_size(cfg, "generate")
    if _use_check_worker(cfg, todo if limit is None else min(todo, limit)):
        from .quality.precheck import prespawn

        prespawn(cfg.validation)


def plan_size(cfg: RunConfig, stage: str) -> int:
    if stage == "brainstorm":
        return sum(cfg.brainstorm_calls(g) for g in cfg.active_groups() if GROUPS[g].brainstorm)
    return sum(cfg.groups[g].examples for g in cfg.active_groups())


# -- running a stage -------------------------------------------------------------------------

async def _run_stage(stage_name: str, cfg: RunConfig, opts: RunOptions, journal: Journal,
                     progress: Progress) -> StageOutcome:
    from .budget import BudgetGate
    from .llm.connect import connect
    from .stages.brainstorm import BrainstormStage
    from .stages.engine import Engine
    from .stages.generate import GenerateStage

    out = Path(opts.out)
    if stage_name == "brainstorm":
        stage = BrainstormStage(cfg, out, journal)
        items = brainstorm_items(cfg)
        limit = opts.limit
    else:
        tasks_dir = Path(opts.tasks_from) if opts.tasks_from else out
        if any(GROUPS[g].brainstorm for g in cfg.active_groups()):
            _check_stage1(cfg, tasks_dir, journal if tasks_dir == out else None)
        try:
            items = generate_items(cfg, load_tasks(tasks_dir))
        except ValueError as exc:
            raise RunError(str(exc)) from None
        limit = opts.limit
    total = _count_selected(plan_size(cfg, stage_name), opts.shard, limit)
    last = journal.last_index(stage_name)
    if stage_name != "brainstorm":
        already_done = sum(g.get("items", 0) for g in journal.counters().get(stage_name, {}).values())
        stage = GenerateStage(cfg, out, journal, use_worker=_use_check_worker(cfg, total - already_done))
        if stage.pool is not None:
            await stage.pool.start()  # its start-up overlaps ours, not the first commits
    todo = (it for it in select(items, opts.shard, limit) if it.index > last)
    already = journal.counters().get(stage_name, {})
    done_before = sum(g.get("items", 0) for g in already.values())
    status_now = journal.get_meta(f"status:{stage_name}")
    if done_before >= total and (stage_name != "brainstorm" or status_now in ("complete", "failed")
                                 or limit is not None):
        await stage.aclose()
        stage.finalize_all()
        if journal.get_meta(f"status:{stage_name}") == "failed":
            return StageOutcome(stage_name, EXIT_FAILED, f"{stage_name} already failed in {out}: see run.json and rejects/")
        if limit is None:
            journal.set_meta(f"status:{stage_name}", "complete")
        write_manifest(cfg, journal, out, 0.0)
        return StageOutcome(stage_name, EXIT_OK, f"{stage_name}: nothing to do ({done_before} items already done)")

    _settle_heap()
    session_start = time.monotonic()
    async with connect(cfg, concurrency=opts.concurrency) as client:
        gate = BudgetGate(cfg, journal, opts.max_cost, opts.max_requests)
        c = progress.start(stage_name, total, client.concurrency_limit)
        c.done = done_before
        c.accepted, c.rejected = stage.accepted_total, stage.rejected_total
        c.cost = gate.cost_so_far

        def on_response(r) -> None:
            c.retries, c.rate_limited = client.retries, client.rate_limited
            c.prompt_tokens += r.prompt_tokens
            c.completion_tokens += r.completion_tokens
            c.requests += 1
            gate.add(r)
            c.cost = gate.cost_so_far

        def on_commit(res) -> None:
            c.done += 1
            c.accepted, c.rejected = stage.accepted_total, stage.rejected_total
            c.in_flight = client.in_flight
            c.concurrency = client.concurrency_limit
            c.rate_limited = client.rate_limited
            c.retries = client.retries
            progress.tick()

        last_manifest = [time.monotonic()]

        def checkpoint() -> None:
            if time.monotonic() - last_manifest[0] >= 2.0:
                write_manifest(cfg, journal, out, _elapsed(session_start))
                last_manifest[0] = time.monotonic()

        engine = Engine(stage, journal, client, cfg.llm.max_output_retries, client.max_concurrency,
                        gate=gate, on_commit=on_commit, on_response=on_response, checkpoint=checkpoint)
        loop = asyncio.get_running_loop()
        interrupted = []

        def on_signal(signame: str) -> None:
            interrupted.append(signame)
            engine.request_stop("interrupted")
            engine.cancel_in_flight()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig.name)
        try:
            stats = await engine.run(todo)
            if stage_name == "brainstorm" and limit is None:
                for r in range(1, cfg.brainstorm.max_rounds + 1):
                    if engine.stop_reason is not None or engine.fatal is not None:
                        break
                    calls = _round_calls(cfg, journal, stage, r)
                    if not calls:
                        break
                    key = f"brainstorm#{r}"
                    done_r = journal.last_index(key)
                    c.total = (c.total or 0) + sum(len(v) for v in calls.values())
                    engine = Engine(stage, journal, client, cfg.llm.max_output_retries, client.max_concurrency,
                                    gate=gate, on_commit=on_commit, on_response=on_response,
                                    checkpoint=checkpoint, progress_key=key)
                    more = await engine.run(i for i in brainstorm_items(cfg, calls) if i.index > done_r)
                    stats.committed += more.committed
                    stats.requests += more.requests
                    stats.failed += more.failed
                total = c.total or total
        finally:
            await stage.aclose()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            prior = float(journal.get_meta("elapsed_s", "0") or 0)
            journal.set_meta("elapsed_s", str(prior + _elapsed(session_start)))
            c.retries, c.rate_limited, c.in_flight = client.retries, client.rate_limited, client.in_flight
            progress.stop()

    complete = engine.stop_reason is None and c.done >= total
    if complete:
        stage.finalize_all()
    status = "complete" if complete and limit is None else (
        "partial" if complete else (engine.stop_reason or "stopped"))
    journal.set_meta(f"status:{stage_name}", status)
    write_manifest(cfg, journal, out, 0.0)
    if engine.fatal is not None:
        return StageOutcome(stage_name, EXIT_FAILED, f"{stage_name} stopped: the endpoint refused the request ({engine.fatal})",
                            stats.committed, stats.requests)
    if interrupted:
        return StageOutcome(stage_name, EXIT_INTERRUPTED,
                            f"{stage_name} interrupted; {c.done}/{total} items done; rerun the same command to resume",
                            stats.committed, stats.requests)
    if engine.stop_reason and engine.stop_reason.startswith("budget"):
        return StageOutcome(stage_name, EXIT_BUDGET,
                            f"{stage_name} stopped: {engine.stop_reason}; {c.done}/{total} items done; "
                            "rerun with a higher budget to continue", stats.committed, stats.requests)
    if engine.stop_reason == "request_failed":
        return StageOutcome(stage_name, EXIT_FAILED,
                            f"{stage_name} stopped: {stats.failed} request(s) still failing after "
                            f"{cfg.llm.max_attempts} attempts ({engine.last_failure}); {c.done}/{total} items done, "
                            "every response received is saved: rerun the same command to continue",
                            stats.committed, stats.requests)
    msg = f"{stage_name}: {c.done}/{total} items, {c.accepted} accepted, {c.rejected} rejected"
    if getattr(stage, "notice", ""):
        msg += f"; note: {stage.notice}"
    if stage_name == "brainstorm" and complete:
        kept = getattr(stage, "kept", {})
        short = [g for g in cfg.active_groups() if GROUPS[g].brainstorm and kept.get(g, 0) == 0]
        if short:
            journal.set_meta("status:brainstorm", "failed")
            write_manifest(cfg, journal, out, 0.0)
            return StageOutcome(stage_name, EXIT_FAILED,
                                msg + f"; no usable task for {', '.join(short)} (see rejects/); "
                                "try another model or prompts with a new --out", stats.committed, stats.requests)
        fewer = [f"{g} {kept.get(g, 0)}/{cfg.groups[g].tasks}" for g in cfg.active_groups()
                 if GROUPS[g].brainstorm and kept.get(g, 0) < (cfg.groups[g].tasks or 0)]
        if fewer:
            msg += "; fewer distinct tasks than asked: " + ", ".join(fewer)
    if stats.rejected_failed:
        msg += f"; {stats.rejected_failed} request(s) refused by the server (rejects: request_failed)"
    return StageOutcome(stage_name, EXIT_OK, msg, stats.committed, stats.requests)


def _round_calls(cfg: RunConfig, journal: Journal, stage, r: int) -> dict[str, range]:
    """Stage 1 top-up round r: more calls for groups short of tasks (fixed once decided)."""
    key = f"brainstorm_round:{r}"
    saved = journal.get_meta(key)
    if saved is None:
        missing = stage.missing()
        start = {g: cfg.brainstorm_calls(g) for g in missing}
        for prev in range(1, r):
            for g, (k0, n) in json.loads(journal.get_meta(f"brainstorm_round:{prev}") or "{}").items():
                if g in start:
                    start[g] = max(start[g], k0 + n)
        plan = {g: [start[g], math.ceil(n / cfg.brainstorm.tasks_per_call)] for g, n in missing.items()}
        journal.set_meta(key, json.dumps(plan, sort_keys=True))
        saved = journal.get_meta(key)
    return {g: range(k0, k0 + n) for g, (k0, n) in json.loads(saved or "{}").items()}


def _settle_heap() -> None:
    """Collect once, then freeze what start-up left behind (modules, classes, config).

    A full collection walks every tracked object: after importing the SDK, pydantic and numpy
    that took ~75 ms, and a run paid it again whenever enough of its own objects had survived
    to the oldest generation (the first time inside the first 64 requests): about 0.3 s of a
    2000-item run. Frozen objects are skipped by every collection; the run's own objects are
    collected as before."""
    import gc

    gc.collect()
    gc.freeze()


def _elapsed(start: float) -> float:
    return time.monotonic() - start


def run_stage(stage_name: str, cfg: RunConfig, opts: RunOptions, progress: Progress | None = None) -> StageOutcome:
    progress = progress or Progress(quiet=opts.quiet, interval=opts.progress_interval)
    if stage_name == "brainstorm" and opts.shard.n > 1:
        opts = RunOptions(**{**opts.__dict__, "shard": Shard()})
    with disk_faults(opts.out), open_run(cfg, opts, stage_name) as journal:
        return asyncio.run(_run_stage(stage_name, cfg, opts, journal, progress))


def run_all(cfg: RunConfig, opts: RunOptions, progress: Progress | None = None) -> list[StageOutcome]:
    """Stage 1 in full (no --limit, no --shard: the task list must be whole), then stage 2."""
    progress = progress or Progress(quiet=opts.quiet, interval=opts.progress_interval)
    outcomes = []
    if opts.tasks_from is None and any(GROUPS[g].brainstorm for g in cfg.active_groups()):
        b_opts = RunOptions(**{**opts.__dict__, "limit": None})
        outcomes.append(run_stage("brainstorm", cfg, b_opts, progress))
        if outcomes[-1].code != EXIT_OK:
            return outcomes
    outcomes.append(run_stage("generate", cfg, opts, progress))
    return outcomes


def env_api_key(cfg: RunConfig) -> str | None:
    return os.environ.get(cfg.llm.api_key_env)


__all__ = ["RunError", "RunOptions", "StageOutcome", "run_stage", "run_all", "open_run", "ConfigError"]
