"""`--format flagembedding`: the JSONL lines FlagEmbedding's embedder fine-tuning reads.

Each line is `{"query", "pos": [...], "neg": [...], "prompt"}`: `query` raw, `prompt` the task
instruction (FlagEmbedding joins them with `--query_instruction_format`, recorded in export.json
from `--query-template`), `pos`/`neg` always lists. One file per group. FlagEmbedding reads the
no-in-batch-negatives mark from the name (a file whose stem, or a directory whose name, ends in
`no_in_batch_neg`), so long-short goes to `<split>_no_in_batch_neg/long-short_no_in_batch_neg.jsonl`.
short-short and long-long have no hard negative: `neg` is empty and `train_group_size` is 1, which
FlagEmbedding's same-dataset batching (`--same_dataset_within_batch True`) reads as "in-batch
negatives only".
"""

from __future__ import annotations

from pathlib import Path

from .common import ExportOptions, RunInfo, write_jsonl
from .reader import Example

NO_IN_BATCH = "no_in_batch_neg"


def row(ex: Example) -> dict:
    out = {"query": ex.query, "pos": [ex.positive], "neg": [ex.negative] if ex.negative is not None else [],
           "prompt": ex.task}
    if ex.negative is None:
        out["train_group_size"] = 1
    return out


def instruction_format(template: str) -> str:
    """The template as FlagEmbedding's `query_instruction_format`, which it fills positionally
    with (prompt, query)."""
    return template.replace("{task}", "{0}").replace("{query}", "{1}")


def write(out: Path, splits: dict[str, list[Example]], opts: ExportOptions, run: RunInfo) -> list[dict]:
    files = []
    for split_name, examples in splits.items():
        by_group: dict[str, list[dict]] = {}
        kinds: dict[str, bool] = {}
        for ex in examples:
            by_group.setdefault(ex.group, []).append(row(ex))
            kinds[ex.group] = ex.is_classification
        for group, rows in by_group.items():
            if kinds[group]:
                path = out / f"{split_name}_{NO_IN_BATCH}" / f"{group}_{NO_IN_BATCH}.jsonl"
            else:
                path = out / split_name / f"{group}.jsonl"
            info = write_jsonl(path, rows)
            info.update(split=split_name, groups=[group], in_batch_negatives=not kinds[group])
            files.append(info)
    return files
