"""`--format sentence-transformers`: one dataset per shape, columns exactly as the trainer wants.

sentence-transformers takes every column as an input text (a column named `label` as the
target), so each file holds the training texts and nothing else:
- `triplets.jsonl`: anchor, positive, negative (short-long, sts, bitext);
- `pairs.jsonl`: anchor, positive (short-short, long-long have no negative);
- `classification.jsonl`: anchor, positive, negative (long-short: text, label, misleading
  label). Kept apart because its positives are labels that many rows share: in-batch negatives
  there are mostly false negatives, so train it without them (or leave it out).
With `prompt_column` the anchor is the raw query and `prompt` holds the instruction prefix.
"""

from __future__ import annotations

from pathlib import Path

from .common import ExportOptions, RunInfo, prompt_text, query_text, write_jsonl
from .reader import Example

SHAPES = ("triplets", "pairs", "classification")


def shape_of(ex: Example) -> str:
    if ex.is_classification:
        return "classification"
    return "triplets" if ex.negative is not None else "pairs"


def row(ex: Example, opts: ExportOptions) -> dict:
    out = {"anchor": query_text(ex, opts), "positive": ex.positive}
    if ex.negative is not None:
        out["negative"] = ex.negative
    if opts.prompt_column:
        out["prompt"] = prompt_text(ex, opts)
    return out


def write(out: Path, splits: dict[str, list[Example]], opts: ExportOptions, run: RunInfo) -> list[dict]:
    files = []
    for split_name, examples in splits.items():
        by_shape: dict[str, list[dict]] = {}
        groups: dict[str, set[str]] = {}
        for ex in examples:
            shape = shape_of(ex)
            by_shape.setdefault(shape, []).append(row(ex, opts))
            groups.setdefault(shape, set()).add(ex.group)
        for shape in SHAPES:
            if shape in by_shape:
                info = write_jsonl(out / split_name / f"{shape}.jsonl", by_shape[shape])
                info.update(split=split_name, shape=shape, groups=sorted(groups[shape]),
                            in_batch_negatives=shape != "classification")
                files.append(info)
    return files
