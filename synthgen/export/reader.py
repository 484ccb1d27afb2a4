"""Read a run directory's examples as training examples: one role-named view per record.

Reads the files, not the pipeline: run.json for the run's status, `examples/part-*.jsonl` for the
published parts and, for an unfinished run, the open part up to the byte offset the journal
committed (a reader globbing `part-*.jsonl` alone would silently miss it; one reading the whole
`.tmp` file could see lines a crash is about to roll back).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import SynthgenError
from ..taxonomy import ALL_LANGUAGES, GROUP_NAMES, GROUPS  # noqa: F401  (GROUP_NAMES: re-exported)


class ExportError(SynthgenError):
    """The run or the export options cannot be used as given (exit 2)."""


@dataclass(frozen=True)
class Example:
    """One record seen through its group's training roles (taxonomy.Group query/positive/negative)."""

    group: str
    task: str
    query: str
    positive: str
    negative: str | None
    languages: tuple[str, ...]
    record: dict

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def language(self) -> str:
        """One label for counting: "German", or "Dutch-English" for a bitext pair."""
        return "-".join(self.languages) or "unknown"

    @property
    def is_classification(self) -> bool:
        """long-short: its positives are labels many rows share (no in-batch negatives)."""
        return self.group == "long-short"


def example_of(record: dict) -> Example:
    group = GROUPS[record["group"]]
    ph = record.get("placeholders") or {}
    return Example(
        group=group.name, task=record["task"], query=record[group.query], positive=record[group.positive],
        negative=record[group.negative] if group.negative else None,
        languages=tuple(ph[s] for s in group.language_slots if ph.get(s)), record=record)


def read_manifest(run_dir: Path) -> dict:
    path = Path(run_dir) / "run.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{run_dir} is not a synthgen run directory (no run.json)") from None
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None


def _committed_open_part(run_dir: Path) -> tuple[int, int] | None:
    """(part number, committed bytes) of the open examples part, from the journal, opened
    read-only: an export must not write to (or wait on a lock of) a run in progress."""
    db_path = Path(run_dir) / "journal" / "state.sqlite"
    if not db_path.exists():
        return None
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT part, offset FROM writers WHERE kind='examples'").fetchone()
    except sqlite3.Error as exc:
        raise ExportError(f"cannot read the journal of {run_dir}: {exc}") from None
    return (int(row[0]), int(row[1])) if row else None


def _lines(data: bytes, path: Path) -> Iterator[dict]:
    for n, line in enumerate(data.splitlines(keepends=True), 1):
        if not line.endswith(b"\n"):
            return  # a published part never ends mid-line; an open part may, past its commit
        try:
            yield json.loads(line)
        except ValueError:
            raise ExportError(f"{path} line {n} is not JSON: the file is damaged") from None


def iter_run_records(run_dir: Path, allow_partial: bool = False) -> Iterator[dict]:
    """Every committed example record of the run, in file (plan) order.

    For an unfinished run the journal is read first and fixes the snapshot: the parts before its
    open part are published, and the open part counts up to its committed offset, whether it is
    still `.tmp` or was published since. Parts a live run opens later are not read."""
    run_dir = Path(run_dir)
    status = read_manifest(run_dir).get("stages", {}).get("generate", {}).get("status", "not started")
    if status != "complete" and not allow_partial:
        raise ExportError(f"{run_dir}: stage 2 is '{status}', not complete "
                          "(finish the run, or use --allow-partial to export what is committed)")
    directory = run_dir / "examples"
    open_part = _committed_open_part(run_dir) if allow_partial else None
    for path in sorted(directory.glob("part-*.jsonl")):
        if open_part is None or int(path.name[5:10]) < open_part[0]:
            yield from _lines(path.read_bytes(), path)
    if open_part is None or open_part[1] == 0:
        return
    name = f"part-{open_part[0]:05d}.jsonl"
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


def select(records: Iterable[dict], groups: tuple[str, ...] | None = None,
           languages: tuple[str, ...] | None = None, exclude_flagged: bool = False) -> Iterator[Example]:
    """The examples that pass the filters. A language filter keeps an example only when every
    language it was written in is listed (a German-English bitext pair needs both)."""
    wanted = set(languages) if languages else None
    for rec in records:
        if (groups is not None and rec.get("group") not in groups) or (exclude_flagged and rec.get("flags")):
            continue
        ex = example_of(rec)
        if wanted is not None and not set(ex.languages) <= wanted:
            continue
        yield ex


LANGUAGE_NAMES = ALL_LANGUAGES
