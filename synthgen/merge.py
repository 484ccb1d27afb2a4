"""`synthgen merge OUT PART...`: join the parts made with `generate --shard K/N` on several machines.

Examples stream in plan order (a k-way merge) through the same first-wins dedup as on one machine;
every part's rejects are kept, and cross-part duplicates become rejects with stage "merge".
"""

from __future__ import annotations

import heapq
import shutil
from collections import Counter
from pathlib import Path

from .config import RunConfig
from .errors import RunError
from .export import iter_run_records
from .integrity import check_run_journal, disk_faults, verify_parts
from .journal import Journal
from .manifest import TOKEN_KEYS, atomic_write_json, parts_of, read_manifest
from .quality.checks import ExampleChecker
from .records import RejectRecord
from .revalidate import commit_copy, fresh_out
from .shards import ShardWriter
from .taxonomy import GROUPS


def _check_parts(parts: list[Path], allow_partial: bool) -> tuple[list[dict], RunConfig]:
    manifests = [read_manifest(p) for p in parts]
    for p, m in zip(parts, manifests):
        check_run_journal(p)
        verify_parts(p, m)
    fps = {m["fingerprint"] for m in manifests}
    if len(fps) != 1:
        raise RunError(f"parts come from different configs (fingerprints {sorted(fps)})")
    if len({m["tasks"] for m in manifests if m.get("tasks")}) > 1:
        raise RunError("parts were generated from different stage 1 tasks: brainstorm once and give "
                       "every shard that run as --tasks-from")
    shards = [m.get("shard", "0/1") for m in manifests]
    for p, s in zip(parts, shards):
        if "/" not in s:  # a merged run (or a validated copy of one) is no shard
            raise RunError(f"{p} is a merged run, not a shard: merge the shards it was made from")
    if len(set(shards)) != len(shards):
        raise RunError(f"the same shard is given twice: {sorted(shards)}")
    ns = {int(s.split("/")[1]) for s in shards}
    if len(ns) != 1:
        raise RunError(f"parts were split different ways: {sorted(shards)}")
    n = ns.pop()
    if len(parts) != n and not allow_partial:
        missing = sorted(set(range(n)) - {int(s.split("/")[0]) for s in shards})
        raise RunError(f"shards {missing} of {n} are missing (use --allow-partial to merge anyway)")
    for p, m in zip(parts, manifests):
        status = m.get("stages", {}).get("generate", {}).get("status")
        if status != "complete" and not allow_partial:
            raise RunError(f"{p}: stage 2 is '{status}', not complete (finish it or use --allow-partial)")
    return manifests, RunConfig.model_validate(manifests[0]["config"])


def merge(out: Path, parts: list[Path], allow_partial: bool = False) -> dict:
    manifests, cfg = _check_parts(parts, allow_partial)
    with fresh_out(out, "OUT"), disk_faults(out):  # OUT: merge's positional argument, not an option
        journal = Journal(out)
        checker = ExampleChecker(cfg.validation.rules_for_checks(), journal)
        writers = {k: ShardWriter(out, k, journal, cfg.output.shard_size) for k in ("examples", "rejects")}
        # an unfinished part (--allow-partial) up to its last commit, open part included
        streams = [iter_run_records(p, allow_partial) for p in parts]
        cross, per_group = 0, Counter()

        def add(kind: str, rec: dict) -> None:
            writers[kind].add(rec)
            if writers[kind].full:  # publish parts of exactly shard_size records
                commit_copy(journal, writers, finalize=False)
                journal.begin()

        journal.begin()
        for rec in heapq.merge(*streams, key=lambda r: r["item_index"]):
            obj = {k: rec[k] for k in GROUPS[rec["group"]].output_keys}
            verdict = checker.check_example(rec["group"], obj, rec["placeholders"], rec["id"])
            if verdict.finding is None:
                add("examples", rec)
                per_group[rec["group"]] += 1
            else:
                cross += 1
                f = verdict.finding
                add("rejects", RejectRecord(
                    id=rec["id"], stage="merge", group=rec["group"], reason=f.reason, detail=f.detail,
                    field=f.field, duplicate_of=verdict.duplicate_of, task=rec.get("task"),
                    placeholders=rec["placeholders"], output=obj, model=rec.get("model"),
                    item_index=rec.get("item_index"), attempts=rec.get("attempts", 0),
                ).model_dump(exclude_none=True))
        for p in parts:
            for rec in iter_run_records(p, allow_partial, "rejects"):
                add("rejects", rec)
        commit_copy(journal, writers, finalize=True)
        accepted, targets = sum(per_group.values()), {g: cfg.groups[g].examples for g in cfg.active_groups()}
        published = parts_of(journal)
        journal.close()
        tasks_dir = parts[0] / "tasks"
        if tasks_dir.is_dir():
            shutil.copytree(tasks_dir, out / "tasks", ignore=shutil.ignore_patterns("*.tmp"))
        summary = {
            "synthgen_manifest": 1, "merged_from": [str(p) for p in parts],
            "fingerprint": manifests[0]["fingerprint"], "shard": "merged", "tasks": manifests[0].get("tasks"),
            "accepted": accepted, "cross_part_rejects": cross,
            **_spent(manifests),
            "stages": {**_brainstorm_of(manifests[0], copied=tasks_dir.is_dir()),
                       "generate": {"status": "partial" if allow_partial else "complete",
                                    "accepted": accepted,
                                    # the groups the shards together (after cross-part dedup) left short
                                    "shortfall": {g: {"accepted": per_group[g], "target": t}
                                                  for g, t in targets.items() if per_group[g] < t}}},
            "parts": published,
            "config": manifests[0]["config"],
        }
        atomic_write_json(out / "run.json", summary)
        return summary


def _spent(manifests: list[dict]) -> dict:
    """What the parts spent together: tokens, cost and cost per model (None if a part has no price)."""
    by_model: dict[str, float] = {}
    for m in manifests:
        for model, c in (m.get("cost_by_model") or {}).items():
            by_model[model] = round(by_model.get(model, 0.0) + c, 6)
    return {"tokens": {k: sum(m.get("tokens", {}).get(k, 0) for m in manifests) for k in TOKEN_KEYS},
            "cost_usd": None if any(m.get("cost_usd") is None for m in manifests)
            else round(sum(m["cost_usd"] for m in manifests), 6),
            "cost_by_model": by_model}


def _brainstorm_of(first: dict, copied: bool) -> dict:
    """Stage 1 of the merged run: the parts share one task list (merge checks its digest), which is
    copied from the first part; without it stats read "brainstorm: not started"."""
    stage = (first.get("stages") or {}).get("brainstorm")
    return {"brainstorm": stage} if copied and isinstance(stage, dict) else {}
