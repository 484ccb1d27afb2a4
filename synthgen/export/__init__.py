"""`synthgen export`: a run's examples in the files trainers and evaluators read.

`export_run(run_dir, fmt, out, options)` reads the run (refusing an unfinished one unless
`allow_partial`), filters, splits by task, and hands the train and eval sides to one format
writer. Every export also writes `export.json`: the options, the files with their row counts,
and which datasets must be trained without in-batch negatives.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..taxonomy import GROUPS
from .common import DEFAULT_TEMPLATE, ExportOptions, RunInfo, check_template
from .reader import GROUP_NAMES, LANGUAGE_NAMES, Example, ExportError, iter_run_records, parse_list, read_manifest, select
from .split import split

FORMATS = ("sentence-transformers", "flagembedding", "mteb", "parquet")

__all__ = ["DEFAULT_TEMPLATE", "FORMATS", "Example", "ExportError", "ExportOptions", "export_run",
           "parse_list", "GROUP_NAMES", "LANGUAGE_NAMES"]


def _writer(fmt: str, opts: ExportOptions):
    """The format's `write`, once its own checks of the options have passed."""
    if fmt == "sentence-transformers":
        from .sentencetransformers import write
    elif fmt == "flagembedding":
        from .flagembedding import write
    elif fmt == "mteb":
        from .mteb import write
    elif fmt == "parquet":
        from .parquet import check, write

        check(opts)
    else:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return write


def _fresh_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty directory: choose a new --out")
    out.mkdir(parents=True, exist_ok=True)


def export_run(run_dir: Path | str, fmt: str, out: Path | str, options: ExportOptions | None = None) -> dict:
    """Export the run at `run_dir` as `fmt` into the new directory `out`; returns export.json's data."""
    opts = options or ExportOptions()
    run_dir, out = Path(run_dir), Path(out)
    write = _writer(fmt, opts)
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
    train, test = split(examples, opts.eval_fraction, opts.seed)
    splits = {"train": train, "eval": test} if opts.eval_fraction > 0 else {"train": train}
    _fresh_dir(out)
    files = write(out, splits, opts, RunInfo(run_dir, manifest))
    for f in files:
        f["path"] = Path(f["path"]).relative_to(out).as_posix()
    summary = {
        "synthgen_export": 1, "format": fmt, "run": str(run_dir), "fingerprint": manifest.get("fingerprint"),
        "status": manifest.get("stages", {}).get("generate", {}).get("status"),
        "examples": {"train": len(train), "eval": len(test)},
        "held_out_tasks": sorted({ex.task for ex in test if GROUPS[ex.group].brainstorm}),
        "options": {"eval_fraction": opts.eval_fraction, "seed": opts.seed, "groups": opts.groups,
                    "languages": opts.languages, "exclude_flagged": opts.exclude_flagged,
                    "allow_partial": opts.allow_partial, "query_template": opts.query_template,
                    "prompt_column": opts.prompt_column},
        "files": files,
    }
    if fmt == "flagembedding":
        from .flagembedding import instruction_format

        summary["query_instruction_format"] = instruction_format(opts.query_template)
    if fmt == "parquet":
        summary["options"]["metadata"] = list(opts.metadata)
    (out / "export.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary
