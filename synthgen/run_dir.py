"""A run directory: locked against a second process, and bound to the config that started it."""

from __future__ import annotations

import fcntl
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

from .config import RunConfig
from .errors import RunError
from .integrity import verify_parts
from .journal import Journal
from .plan import Shard
from .shards import iter_records, restore_published


def _flatten(d: object, prefix: str = "") -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a.b": 1}"""
    if not isinstance(d, dict):
        return {prefix: d}
    return {key: leaf for k, v in d.items()
            for key, leaf in _flatten(v, f"{prefix}.{k}" if prefix else str(k)).items()}


def _bind(journal: Journal, cfg: RunConfig, out: Path, stage: str, shard: Shard, force: bool) -> None:
    """Refuse a journal made by another config (or shard) unless forced; then claim it."""
    fp = cfg.fingerprint()
    old_fp = journal.get_meta("fingerprint")
    if old_fp is not None and old_fp != fp and not force:
        a = _flatten(json.loads(journal.get_meta("fingerprinted_config", "{}") or "{}"))
        b = _flatten(cfg.fingerprint_data())
        changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))[:6]
        raise RunError(
            f"{out} was started with a different config (changed: {', '.join(changed) or 'prompts'}); "
            "use the original config, a new --out, or --force to continue anyway")
    if stage == "generate":
        old_shard = journal.get_meta("shard")
        if old_shard is not None and old_shard != str(shard) and not force:
            raise RunError(f"{out} holds shard {old_shard}, not {shard}; use a separate --out per shard")
        journal.set_meta("shard", str(shard))
    journal.set_meta("fingerprint", fp)
    journal.set_meta("fingerprinted_config", json.dumps(cfg.fingerprint_data(), sort_keys=True))


@contextmanager
def open_run(cfg: RunConfig, out: Path, stage: str = "generate", shard: Shard = Shard(), force: bool = False):
    """Lock the run directory, check it belongs to this config and shard, yield its journal."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} exists and is not a directory")
    try:
        (out / "journal").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create run directory {out}: {exc.strerror}") from None
    with open(out / "journal" / "lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"run directory {out} is in use by another synthgen process") from None
        journal = Journal(out)
        try:
            _bind(journal, cfg, out, stage, shard, force)
            restore_published(out, journal)  # lost or cut parts rebuilt from the journal
            yield journal
        finally:
            journal.close()


def _get(data: object, *keys: str) -> object:
    """data[k1][k2]..., None where a level is missing or not a table (another tool's run.json)."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def check_stage1(cfg: RunConfig, tasks_dir: Path, journal: Journal | None, own: bool) -> None:
    """Stage 2 needs stage 1 whole: a partial task list would change every item after it. `own`:
    the run's own directory (its journal, None before it is made), else --tasks-from's run.json."""
    if not own:
        try:
            data = json.loads((tasks_dir / "run.json").read_text())
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict):
            raise RunError(f"--tasks-from {tasks_dir}: no readable run.json there")
        status, seed = _get(data, "stages", "brainstorm", "status"), _get(data, "config", "seed")
        if seed != cfg.seed:
            raise RunError(f"--tasks-from {tasks_dir} was made with seed {seed}, not {cfg.seed}")
        verify_parts(tasks_dir, {"parts": {"tasks": _get(data, "parts", "tasks") or []}})  # no part cut
    else:
        status = journal.get_meta("status:brainstorm") if journal else None
    if status != "complete":
        where = str(tasks_dir) if own else f"--tasks-from {tasks_dir}"
        raise RunError(f"stage 1 is not complete in {where}: run `synthgen brainstorm` (same config and --out) first")


def load_tasks(run_dir: Path) -> dict[str, list[str]]:
    """Stage 1's tasks per group, in the order they were committed."""
    tasks: dict[str, list[str]] = {}
    for rec in iter_records(Path(run_dir) / "tasks"):
        tasks.setdefault(rec["group"], []).append(rec["task"])
    return tasks


def bind_tasks(journal: Journal, tasks: dict[str, list[str]], tasks_dir: Path, force: bool) -> None:
    """Stage 2 keeps to the task list it started from (run.json's "tasks"), which merge compares:
    another list (a brainstorm run again, each CI job's own) would change every item still to do."""
    digest = hashlib.sha256(json.dumps(tasks, sort_keys=True).encode()).hexdigest()[:16]
    if journal.get_meta("tasks", digest) != digest and not force:
        raise RunError(f"the stage 1 tasks in {tasks_dir} are not the ones this run's stage 2 started "
                       "from: give the --tasks-from it started with (or --force)")
    journal.set_meta("tasks", digest)
