"""`synthgen export`: a run's committed examples, filtered, with whole tasks held out, written by one
format writer (formats.py), and `export.json` (options, files, row counts, in-batch negatives).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import Iterable, Iterator

import jsonlines
import orjson

from ..errors import StorageError
from ..integrity import disk_faults, read_only_uri, verify_parts
from ..manifest import read_manifest
from ..shards import part_name
from ..taxonomy import GROUPS
from .formats import (DEFAULT_TEMPLATE, FORMATS, Example, ExportError, ExportOptions, check_parquet,
                      check_template, instruction_format)

__all__ = ["DEFAULT_TEMPLATE", "FORMATS", "Example", "ExportError", "ExportOptions", "export_run",
           "iter_run_records", "parse_list"]


def _committed_open_part(run_dir: Path, kind: str) -> tuple[int, int] | None:
    """(part number, committed bytes) of the open `kind` part, from the journal, opened
    read-only: an export must not write to (or wait on a lock of) a run in progress."""
    db_path = run_dir / "journal" / "state.sqlite"
    if not db_path.exists():
        return None
    try:
        with closing(sqlite3.connect(read_only_uri(db_path), uri=True)) as db:
            row = db.execute("SELECT part, offset FROM writers WHERE kind=?", (kind,)).fetchone()
    except sqlite3.Error as exc:
        raise ExportError(f"cannot read the journal of {run_dir}: {exc}") from None
    return (int(row[0]), int(row[1])) if row else None


def _lines(data: bytes, path: Path) -> Iterator[dict]:
    lines = data.splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n"):
        lines.pop()  # a published part never ends mid-line; an open part may, past its commit
    try:
        yield from jsonlines.Reader(lines, loads=orjson.loads).iter(type=dict)
    except jsonlines.InvalidLineError as exc:
        raise StorageError(f"{path}, line {exc.lineno}: not a whole JSON object; the file is damaged") from None


def iter_run_records(run_dir: Path, allow_partial: bool, kind: str = "examples") -> Iterator[dict]:
    """Every committed `kind` record of the run, in plan order. For an unfinished run the journal
    fixes the snapshot: the parts before its open part, then the open part (`.tmp` or published
    since) up to its committed offset, never lines a crash is about to roll back."""
    directory = run_dir / kind
    open_part = _committed_open_part(run_dir, kind) if allow_partial else None
    for path in sorted(directory.glob("part-*.jsonl")):
        if open_part is None or int(path.name[5:10]) < open_part[0]:
            yield from _lines(path.read_bytes(), path)
    if open_part is None or open_part[1] == 0:
        return
    name = part_name(open_part[0])
    for path in (directory / f"{name}.tmp", directory / name):
        try:
            with open(path, "rb") as f:
                data = f.read(open_part[1])
        except FileNotFoundError:
            continue  # published between the journal read and now: the next name has it
        yield from _lines(data, path)
        return
    raise ExportError(f"{directory / name}.tmp is missing but the journal says it holds data")


def parse_list(text: str | None, known: Iterable[str], what: str) -> tuple[str, ...] | None:
    """A comma-separated option checked against the names it may hold (None: no filter)."""
    if text is None:
        return None
    items = tuple(x.strip() for x in text.split(",") if x.strip())
    known = tuple(known)
    lower = {k.lower(): k for k in known}
    unknown = [x for x in items if x.lower() not in lower]
    if unknown or not items:
        hint = ", ".join(known) if len(known) <= 12 else "names as in the paper's XLM-R list"
        raise ExportError(f"unknown {what} {unknown or [text]}; known: {hint}")
    return tuple(lower[x.lower()] for x in items)


def select(records: Iterable[dict], opts: ExportOptions) -> Iterator[Example]:
    """The examples that pass the filters. A language filter keeps an example only when every
    language it was written in is listed (a German-English bitext pair needs both)."""
    wanted = set(opts.languages) if opts.languages else None
    for rec in records:
        if opts.groups is not None and rec.get("group") not in opts.groups:
            continue
        if opts.exclude_flagged and rec.get("flags"):
            continue
        try:
            group = GROUPS[rec["group"]]
            ph = rec.get("placeholders") or {}
            ex = Example(group=group.name, task=rec["task"], query=rec[group.query],
                         positive=rec[group.positive],
                         negative=rec[group.negative] if group.negative else None,
                         languages=tuple(ph[s] for s in group.language_slots if ph.get(s)), record=rec)
        except (KeyError, TypeError, AttributeError) as exc:
            raise StorageError(f"example {rec.get('id', '?')} is not a whole example record "
                              f"({type(exc).__name__}: {exc}): the file is damaged") from None
        if wanted is None or set(ex.languages) <= wanted:
            yield ex


def _unit(ex: Example) -> str:
    """What goes to one side as a whole: a brainstormed task (splitting it would leak), or the
    example in sts and bitext (one fixed instruction)."""
    return ex.task if GROUPS[ex.group].brainstorm else ex.id


def split(examples: list[Example], fraction: float, seed: int) -> dict[str, list[Example]]:
    """Train and eval sides (no eval at 0): per group, `fraction` of its units are eval (at least one,
    never all), chosen by a hash of (seed, group, unit) so a run merged from shards splits alike."""
    if fraction == 0.0:
        return {"train": examples}
    units: dict[str, set[str]] = {}
    for ex in examples:
        units.setdefault(ex.group, set()).add(_unit(ex))
    held: set[tuple[str, str]] = set()
    for group, names in units.items():
        n = min(max(round(fraction * len(names)), 1), len(names) - 1)
        rank = sorted(names, key=lambda u: hashlib.sha256(f"{seed}\x00{group}\x00{u}".encode()).hexdigest())
        held.update((group, name) for name in rank[:n])
    return {"train": [ex for ex in examples if (ex.group, _unit(ex)) not in held],
            "eval": [ex for ex in examples if (ex.group, _unit(ex)) in held]}


def export_run(run_dir: Path | str, fmt: str, out: Path | str, options: ExportOptions | None = None) -> dict:
    """Export the run at `run_dir` as `fmt` into the new directory `out`; returns export.json's data."""
    opts = options or ExportOptions()
    run_dir, out = Path(run_dir), Path(out)
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        check_parquet(opts)
    if opts.prompt_column and fmt not in ("sentence-transformers", "mteb"):
        raise ExportError(f"--prompt-column is for sentence-transformers and mteb: {fmt} keeps the "
                          "instruction apart already")
    manifest = read_manifest(run_dir)
    check_template(opts.query_template, opts.prompt_column)
    if not 0.0 <= opts.eval_fraction < 1.0:
        raise ExportError(f"--eval-fraction must be at least 0 and below 1, not {opts.eval_fraction}")
    if fmt == "mteb" and opts.eval_fraction == 0.0:
        raise ExportError("--format mteb writes the held-out split: give --eval-fraction (e.g. 0.2)")
    generate = manifest.get("stages", {}).get("generate", {})
    if generate.get("status") != "complete" and not opts.allow_partial:
        raise ExportError(f"{run_dir}: stage 2 is '{generate.get('status', 'not started')}', not complete "
                          "(finish the run, or use --allow-partial to export what is committed)")
    verify_parts(run_dir, manifest)  # a part changed since it was published is named, not exported
    examples = list(select(iter_run_records(run_dir, opts.allow_partial), opts))
    if not examples:
        if opts.groups or opts.languages or opts.exclude_flagged:
            raise ExportError(f"{run_dir}: no examples match (check --groups, --languages, --exclude-flagged)")
        raise ExportError(f"{run_dir}: the run has no accepted examples (see `synthgen stats {run_dir}`)")
    splits = split(examples, opts.eval_fraction, opts.seed)
    train, test = splits["train"], splits.get("eval", [])
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty directory: choose a new --out")
    summary = {
        "synthgen_export": 1, "format": fmt, "run": str(run_dir), "fingerprint": manifest.get("fingerprint"),
        "status": generate.get("status"),
        "examples": {"train": len(train), "eval": len(test)},
        "held_out_tasks": sorted({ex.task for ex in test if GROUPS[ex.group].brainstorm}),
        "options": asdict(opts),
    }
    if fmt != "parquet":
        del summary["options"]["metadata"]  # the other formats write no metadata columns
    # written beside `out` and renamed into place whole: a full disk or a crash leaves no half
    # export under the name a trainer would read
    staging = out.parent / f".{out.name}.export-{os.getpid()}"
    try:
        with disk_faults(out):
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(staging, ignore_errors=True)  # left by a killed export that had this pid
            staging.mkdir()
            summary["files"] = FORMATS[fmt](staging, splits, opts, (run_dir, manifest))
            if fmt == "flagembedding":
                summary["query_instruction_format"] = instruction_format(opts.query_template)
            text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
            (staging / "export.json").write_text(text, encoding="utf-8")
            os.replace(staging, out)  # onto an empty directory too
    except OSError as exc:  # not a disk fault: --out cannot be made (a file in the way, no permission)
        raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the export succeeded
    return summary
