"""`synthgen export`: a run's examples in the files trainers and evaluators read.

`export_run` reads the run (refusing an unfinished one unless `allow_partial`), filters, holds
out whole tasks, and hands both sides to one format writer. Every export also writes
`export.json`: the options, the files with their row counts, and which datasets must be trained
without in-batch negatives.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..taxonomy import GROUPS
from .formats import (DEFAULT_TEMPLATE, FORMATS, ExportOptions, check_parquet, check_template,
                      instruction_format)
from .reader import (GROUP_NAMES, LANGUAGE_NAMES, Example, ExportError, iter_run_records, parse_list,
                     read_manifest, select)

__all__ = ["DEFAULT_TEMPLATE", "FORMATS", "Example", "ExportError", "ExportOptions", "export_run",
           "parse_list", "GROUP_NAMES", "LANGUAGE_NAMES"]


def _unit(ex: Example) -> str:
    """What goes to one side as a whole: a brainstormed task (its examples share its instruction and
    topic, so splitting them would leak), or the example in sts and bitext (one fixed instruction)."""
    return ex.task if GROUPS[ex.group].brainstorm else ex.id


def held_out_units(examples: list[Example], fraction: float, seed: int) -> set[tuple[str, str]]:
    """(group, unit) pairs of the eval side: per group, `fraction` of its units (rounded; at least
    one when the fraction is above 0 and the group has two units or more, never all). The choice
    is a hash of (seed, group, unit), not a shuffle, so a run merged from shards splits alike."""
    held: set[tuple[str, str]] = set()
    if fraction == 0.0:
        return held
    units: dict[str, set[str]] = {}
    for ex in examples:
        units.setdefault(ex.group, set()).add(_unit(ex))
    for group, names in units.items():
        n = min(max(round(fraction * len(names)), 1), len(names) - 1)
        rank = sorted(names, key=lambda u: hashlib.sha256(f"{seed}\x00{group}\x00{u}".encode()).hexdigest())
        held.update((group, name) for name in rank[:n])
    return held


def export_run(run_dir: Path | str, fmt: str, out: Path | str, options: ExportOptions | None = None) -> dict:
    """Export the run at `run_dir` as `fmt` into the new directory `out`; returns export.json's data."""
    opts = options or ExportOptions()
    run_dir, out = Path(run_dir), Path(out)
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        check_parquet(opts)
    manifest = read_manifest(run_dir)
    check_template(opts.query_template, opts.prompt_column)
    if not 0.0 <= opts.eval_fraction < 1.0:
        raise ExportError(f"--eval-fraction must be at least 0 and below 1, not {opts.eval_fraction}")
    if fmt == "mteb" and opts.eval_fraction == 0.0:
        raise ExportError("--format mteb writes the held-out split: give --eval-fraction (e.g. 0.2)")
    examples = list(select(iter_run_records(run_dir, opts.allow_partial), opts.groups, opts.languages,
                           opts.exclude_flagged))
    if not examples:
        raise ExportError(f"{run_dir}: no examples match (check --groups, --languages, --exclude-flagged)")
    held = held_out_units(examples, opts.eval_fraction, opts.seed)
    test = [ex for ex in examples if (ex.group, _unit(ex)) in held]
    train = [ex for ex in examples if (ex.group, _unit(ex)) not in held]
    splits = {"train": train, "eval": test} if opts.eval_fraction > 0 else {"train": train}
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty directory: choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "synthgen_export": 1, "format": fmt, "run": str(run_dir), "fingerprint": manifest.get("fingerprint"),
        "status": manifest.get("stages", {}).get("generate", {}).get("status"),
        "examples": {"train": len(train), "eval": len(test)},
        "held_out_tasks": sorted({ex.task for ex in test if GROUPS[ex.group].brainstorm}),
        "options": {"eval_fraction": opts.eval_fraction, "seed": opts.seed, "groups": opts.groups,
                    "languages": opts.languages, "exclude_flagged": opts.exclude_flagged,
                    "allow_partial": opts.allow_partial, "query_template": opts.query_template,
                    "prompt_column": opts.prompt_column},
        "files": FORMATS[fmt](out, splits, opts, (run_dir, manifest)),
    }
    if fmt == "flagembedding":
        summary["query_instruction_format"] = instruction_format(opts.query_template)
    if fmt == "parquet":
        summary["options"]["metadata"] = list(opts.metadata)
    text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    (out / "export.json").write_text(text, encoding="utf-8")
    return summary
