"""`synthgen validate RUN`: re-check published examples with the current rules, no LLM calls.

After tightening a threshold a user re-judges what a run already paid for: records in plan
order, with fresh dedup state, exactly as the pipeline would judge them; the filtered copy is a
new directory, the run itself is never touched. Memory stays flat however large the run:
records stream from the parts, and the dedup state (a scratch journal) is committed every
COMMIT_EVERY records (`python bench/validate_memory.py` measures it).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from contextlib import contextmanager, nullcontext
from pathlib import Path

from .config import RunConfig, load_config
from .errors import RunError
from .integrity import check_run_journal, verify_parts
from .journal import Journal
from .manifest import atomic_write_json, parts_of, read_manifest
from .quality.checks import ExampleChecker
from .records import RejectRecord
from .shards import ShardWriter, iter_records
from .taxonomy import GROUPS

COMMIT_EVERY = 1000  # records judged per journal transaction (and per flush of the copy)


@contextmanager
def fresh_out(out: Path, flag: str = "--out"):
    """Make `out` for a new copy (refusing one that already holds files); a copy that fails (a
    full disk) is removed, else rerunning the same command would be refused."""
    if out.exists() and any(out.iterdir()):
        raise RunError(f"{flag} {out} exists and is not empty; choose a new directory")
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise


def _judge_all(run_dir: Path, checker: ExampleChecker, journal: Journal,
               writers: dict[str, ShardWriter]) -> dict:
    """Every published record, in plan order, one transaction per COMMIT_EVERY records."""
    checked, passed, reasons, flags = 0, 0, Counter(), Counter()
    journal.begin()
    for rec in iter_records(Path(run_dir) / "examples", include_open=False):
        checked += 1
        obj = {k: rec.get(k) for k in GROUPS[rec["group"]].output_keys}
        verdict = checker.check_example(rec["group"], obj, rec["placeholders"], rec["id"])
        flags.update(verdict.flags)
        finding = verdict.finding
        if finding is None:
            passed += 1
            if writers:
                writers["examples"].add({**rec, "flags": verdict.flags, "langid": verdict.langid})
        else:
            reasons[finding.reason] += 1
            if writers:
                writers["rejects"].add(RejectRecord(
                    id=rec["id"], stage="validate", group=rec["group"], reason=finding.reason,
                    detail=finding.detail, field=finding.field, duplicate_of=verdict.duplicate_of,
                    task=rec.get("task"), placeholders=rec["placeholders"], output=obj,
                    model=rec.get("model"), item_index=rec.get("item_index"), attempts=rec.get("attempts", 0),
                ).model_dump(exclude_none=True))
        if checked % COMMIT_EVERY == 0 or any(w.full for w in writers.values()):  # parts of shard_size
            commit_copy(journal, writers, finalize=False)
            journal.begin()
    commit_copy(journal, writers, finalize=True)
    return {"run_dir": str(run_dir), "checked": checked, "passed": passed, "failed": checked - passed,
            "failed_by_reason": dict(sorted(reasons.items())), "flagged": dict(sorted(flags.items()))}


def commit_copy(journal: Journal, writers: dict[str, ShardWriter], finalize: bool) -> None:
    for w in writers.values():
        w.flush()
    journal.commit()
    for w in writers.values():
        if finalize or w.full:
            w.finalize()


def revalidate(run_dir: Path, config: Path | None = None, out: Path | None = None) -> dict:
    """Re-judge every published example; returns counts (and writes `out` when given)."""
    data = read_manifest(run_dir)
    try:
        run_cfg = RunConfig.model_validate(data["config"])
    except (ValueError, KeyError) as exc:
        raise RunError(f"cannot read the config of {run_dir}: {str(exc).splitlines()[0]}") from None
    check_run_journal(run_dir)  # the journal is whole and the published parts intact
    verify_parts(run_dir, data)
    cfg = run_cfg.model_copy(update={"validation": load_config(config).validation}) if config else run_cfg
    rules = cfg.validation.rules_for_checks()
    with fresh_out(Path(out)) if out is not None else nullcontext():
        work = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="synthgen-validate-"))
        journal = Journal(work)
        try:
            writers = {}
            if out is not None:
                writers = {k: ShardWriter(work, k, journal, run_cfg.output.shard_size)
                           for k in ("examples", "rejects")}
            report = _judge_all(Path(run_dir), ExampleChecker(rules, journal), journal, writers)
            parts = parts_of(journal)
        finally:
            journal.close()
            if out is None:
                shutil.rmtree(work, ignore_errors=True)
        if out is not None:
            (Path(out) / "validate.json").write_text(json.dumps(report, indent=2) + "\n")
            # the copy is a run of its own: stats, export, validate and merge read its run.json
            atomic_write_json(Path(out) / "run.json", {
                "synthgen_manifest": 1, "validated_from": str(run_dir), "fingerprint": cfg.fingerprint(),
                "shard": data.get("shard", "0/1"), "tasks": data.get("tasks"), "tokens": data.get("tokens", {}),
                "cost_usd": data.get("cost_usd"),
                "stages": {"generate": {"status": data.get("stages", {}).get("generate", {}).get("status"),
                                        "accepted": report["passed"]}},
                "parts": parts, "config": cfg.model_dump(mode="json")})
    return report
