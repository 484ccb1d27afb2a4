"""`--format parquet`: one Parquet file per group and split, and a dataset card.

`<group>/train.parquet` (and `<group>/test.parquet` with --eval-fraction) hold the group's own
text columns (its output keys, no union of every group's keys full of nulls) plus the metadata
asked for. `datasets.load_dataset("parquet", data_dir="OUT/short-long")` reads one group;
`datasets.load_dataset("OUT", "short-long")` reads it through the card's configs.
"""

from __future__ import annotations

from pathlib import Path

from ..taxonomy import GROUPS
from .card import write_card
from .common import ExportOptions, RunInfo
from .reader import Example, ExportError

METADATA = ("id", "task", "language", "placeholders", "model", "item_index", "attempts", "usage",
            "flags", "langid")
SPLIT_FILES = {"train": "train", "eval": "test"}


def metadata_columns(ex: Example, names: tuple[str, ...]) -> dict:
    rec, out = ex.record, {}
    for name in names:
        if name == "language":
            ph = rec.get("placeholders") or {}
            for slot in GROUPS[ex.group].language_slots:  # bitext: src_lang and tgt_lang
                out[slot] = ph.get(slot)
        else:
            out[name] = rec.get(name)
    return out


def _table(examples: list[Example], opts: ExportOptions):
    import pyarrow as pa

    keys = GROUPS[examples[0].group].output_keys
    rows = [{**{k: ex.record[k] for k in keys}, **metadata_columns(ex, opts.metadata)} for ex in examples]
    return pa.Table.from_pylist(rows)


def check(opts: ExportOptions) -> None:
    """Refuse before anything is written."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ExportError("--format parquet needs pyarrow: pip install 'synthgen[parquet]'") from None
    unknown = sorted(set(opts.metadata) - set(METADATA))
    if unknown:
        raise ExportError(f"unknown --metadata column(s) {unknown}; known: {', '.join(METADATA)}")


def write(out: Path, splits: dict[str, list[Example]], opts: ExportOptions, run: RunInfo) -> list[dict]:
    import pyarrow.parquet as pq

    files = []
    for split_name, examples in splits.items():
        by_group: dict[str, list[Example]] = {}
        for ex in examples:
            by_group.setdefault(ex.group, []).append(ex)
        for group, rows in by_group.items():
            path = out / group / f"{SPLIT_FILES[split_name]}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(_table(rows, opts), path)
            files.append({"path": str(path), "rows": len(rows), "split": split_name, "groups": [group]})
    write_card(out, splits, run, opts)
    files.append({"path": str(out / "README.md"), "kind": "dataset card"})
    return files
