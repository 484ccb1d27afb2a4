"""`synthgen validate RUN`: re-check published examples with the current rules, no LLM calls.

After tightening a threshold (say `validation.min_words_ratio`) a user re-judges what a run
already paid for. Records are re-checked in plan order with fresh dedup state, exactly as the
pipeline would judge them; the filtered copy is a new directory, the run itself is never touched.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from .config import RunConfig, ValidationConfig, load_config
from .integrity import check_run
from .journal import Journal
from .quality.gate import QualityGate
from .records import RejectRecord
from .shards import ShardWriter, iter_records
from .taxonomy import GROUPS


def run_config_of(run_dir: Path) -> RunConfig:
    from .pipeline import RunError

    try:
        data = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
        return RunConfig.model_validate(data["config"])
    except FileNotFoundError:
        raise RunError(f"{run_dir} is not a synthgen run directory (no run.json)") from None
    except (OSError, ValueError, KeyError) as exc:
        raise RunError(f"cannot read the config of {run_dir}: {str(exc).splitlines()[0]}") from None


def _fresh_out(out: Path) -> None:
    from .pipeline import RunError

    if out.exists() and any(out.iterdir()):
        raise RunError(f"--out {out} exists and is not empty; choose a new directory")
    out.mkdir(parents=True, exist_ok=True)


def recheck(run_dir: Path, config: Path | None = None, out: Path | None = None) -> dict:
    """Re-judge every published example; returns counts (and writes `out` when given)."""
    run_cfg = run_config_of(run_dir)
    check_run(run_dir)
    rules: ValidationConfig = load_config(config).validation if config else run_cfg.validation
    if out is not None:
        _fresh_out(Path(out))
    work = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="synthgen-validate-"))
    journal = Journal(work)
    try:
        gate = QualityGate(rules, journal)
        writers = None
        if out is not None:
            writers = {k: ShardWriter(work, k, journal, run_cfg.output.shard_size) for k in ("examples", "rejects")}
        checked, passed, reasons, flags = 0, 0, Counter(), Counter()
        journal.begin()
        for rec in iter_records(Path(run_dir) / "examples", include_open=False):
            checked += 1
            obj = {k: rec.get(k) for k in GROUPS[rec["group"]].output_keys}
            verdict = gate.check_example(rec["group"], obj, rec["placeholders"], rec["id"])
            flags.update(verdict.flags)
            if verdict.finding is None:
                passed += 1
                if writers:
                    writers["examples"].add({**rec, "flags": verdict.flags, "langid": verdict.langid})
            else:
                reasons[verdict.finding.reason] += 1
                if writers:
                    writers["rejects"].add(RejectRecord(
                        id=rec["id"], stage="validate", group=rec["group"], reason=verdict.finding.reason,
                        detail=verdict.finding.detail, field=verdict.finding.field,
                        duplicate_of=verdict.duplicate_of, task=rec.get("task"),
                        placeholders=rec["placeholders"], output=obj, model=rec.get("model"),
                        item_index=rec.get("item_index"), attempts=rec.get("attempts", 0),
                    ).model_dump(exclude_none=True))
            if writers and checked % 1000 == 0:
                for w in writers.values():
                    w.flush()
                journal.commit()
                for w in writers.values():
                    if w.full:
                        w.finalize()
                journal.begin()
        if writers:
            for w in writers.values():
                w.flush()
        journal.commit()
        if writers:
            for w in writers.values():
                w.finalize()
    finally:
        journal.close()
        if out is None:
            shutil.rmtree(work, ignore_errors=True)
    report = {"run_dir": str(run_dir), "checked": checked, "passed": passed, "failed": checked - passed,
              "failed_by_reason": dict(sorted(reasons.items())), "flagged": dict(sorted(flags.items()))}
    if out is not None:
        (Path(out) / "validate.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
