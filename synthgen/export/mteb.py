"""`--format mteb`: BEIR-style retrieval evaluation files from the held-out split.

Per group, `<group>/corpus.jsonl` (`_id`, `title`, `text`), `<group>/queries.jsonl` (`_id`,
`text`, plus `instruction` and the raw `query`) and `<group>/qrels/test.tsv` (query-id,
corpus-id, score), the layout BEIR's GenericDataLoader and MTEB's custom retrieval tasks read.
Document ids are content hashes, so one text has one id in every export; a query's id is its
example's id. The corpus holds the held-out positives and hard negatives (the negatives are the
distractors that make the ranking mean something). long-short is left out: its "documents" are
class labels, a classification task, not retrieval.
"""

from __future__ import annotations

from pathlib import Path

from .common import ExportOptions, RunInfo, doc_id, query_text, write_jsonl
from .reader import Example, ExportError


def group_files(examples: list[Example], opts: ExportOptions) -> tuple[list[dict], list[dict], list[tuple]]:
    corpus: dict[str, dict] = {}
    queries, qrels = [], []
    for ex in examples:
        for text in (ex.positive, ex.negative):
            if text is not None:
                corpus.setdefault(doc_id(text), {"_id": doc_id(text), "title": "", "text": text})
        queries.append({"_id": ex.id, "text": query_text(ex, opts), "instruction": ex.task, "query": ex.query})
        qrels.append((ex.id, doc_id(ex.positive), 1))
    return list(corpus.values()), queries, qrels


def write(out: Path, splits: dict[str, list[Example]], opts: ExportOptions, run: RunInfo) -> list[dict]:
    held = [ex for ex in splits.get("eval", []) if not ex.is_classification]
    if not held:
        raise ExportError("the held-out split has no retrieval examples (long-short is not exported "
                          "to mteb); raise --eval-fraction or select more groups")
    by_group: dict[str, list[Example]] = {}
    for ex in held:
        by_group.setdefault(ex.group, []).append(ex)
    files = []
    for group, examples in by_group.items():
        corpus, queries, qrels = group_files(examples, opts)
        for name, rows in (("corpus", corpus), ("queries", queries)):
            info = write_jsonl(out / group / f"{name}.jsonl", rows)
            info.update(split="eval", groups=[group], kind=name)
            files.append(info)
        path = out / group / "qrels" / "test.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            f.writelines(f"{q}\t{d}\t{s}\n" for q, d, s in qrels)
        files.append({"path": str(path), "rows": len(qrels), "split": "eval", "groups": [group], "kind": "qrels"})
    return files
