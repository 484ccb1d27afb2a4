"""The export options, the example as trainers see it, and the four format writers (docs/export.md).
Each returns its files for export.json: path, rows, split, groups, whether in-batch negatives are
safe (long-short's positives are labels many rows share: its in-batch negatives are false ones)."""

from __future__ import annotations

import hashlib
import json
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import SynthgenError
from ..shards import iter_records
from ..taxonomy import GROUPS

# the paper's training format (E5-mistral): the instruction on the query side only
DEFAULT_TEMPLATE = "Instruct: {task}\nQuery: {query}"
SHAPES = ("triplets", "pairs", "classification")
NO_IN_BATCH = "no_in_batch_neg"  # FlagEmbedding turns in-batch negatives off for names ending so
METADATA = ("id", "task", "language", "placeholders", "model", "item_index", "attempts", "usage",
            "flags", "langid")
SPLIT_FILES = {"train": "train", "eval": "test"}
LICENCE_NOTE = (
    "The texts were written by the language model named above. Its provider's terms of use may "
    "restrict what the outputs can be used for (some forbid training models that compete with "
    "theirs): check them before you publish or train on this data, and set `license` in this "
    "card to match. synthgen (Apache-2.0) claims no rights over the generated text.")


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
    def is_classification(self) -> bool:
        return self.group == "long-short"


@dataclass(frozen=True)
class ExportOptions:
    """The choices of one export, one field per CLI option."""

    eval_fraction: float = 0.0
    seed: int = 0
    groups: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    exclude_flagged: bool = False
    allow_partial: bool = False
    query_template: str = DEFAULT_TEMPLATE
    prompt_column: bool = False
    metadata: tuple[str, ...] = ("id", "task", "language")


def check_template(template: str, prompt_column: bool = False) -> None:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ExportError(f"--query-template is not a valid template: {exc}") from None
    if "query" not in names or not names <= {"task", "query"}:
        raise ExportError(f"--query-template must contain {{query}} and may contain {{task}}, "
                          f"nothing else: {template!r}")
    if prompt_column and not template.endswith("{query}"):
        raise ExportError("--prompt-column needs a --query-template that ends with {query} "
                          "(the prompt is what comes before it)")


def query_text(ex: Example, opts: ExportOptions) -> str:
    """The query as a trainer sees it: raw when the instruction has its own column, else templated."""
    if opts.prompt_column:
        return ex.query
    return opts.query_template.format(task=ex.task, query=ex.query)


def doc_id(text: str) -> str:
    """A document id that depends on the text alone: the same in every export of any run."""
    return "d" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# the line breaks json.dumps leaves raw but str.splitlines() splits on: escaped, one row a line for every reader
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def write_jsonl(out: Path, rel: str, rows: list[dict], **info) -> dict:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False).translate(_LINE_BREAKS) + "\n" for row in rows)
    return {"path": rel, "rows": len(rows), **info}


def by(examples: list[Example], key) -> dict[str, list[Example]]:
    """The examples grouped by `key`, in order of first appearance."""
    out: dict[str, list[Example]] = {}
    for ex in examples:
        out.setdefault(key(ex), []).append(ex)
    return out


def _shape(ex: Example) -> str:
    if ex.is_classification:
        return "classification"
    return "triplets" if ex.negative is not None else "pairs"


def _st_row(ex: Example, opts: ExportOptions) -> dict:
    out = {"anchor": query_text(ex, opts), "positive": ex.positive}
    if ex.negative is not None:
        out["negative"] = ex.negative
    if opts.prompt_column:  # the template's text before {query}: prompt + anchor == the templated query
        out["prompt"] = opts.query_template[: -len("{query}")].format(task=ex.task)
    return out


def write_sentence_transformers(out: Path, splits: dict, opts: ExportOptions, run: tuple) -> list[dict]:
    """One file per shape, of training texts only (the trainer takes every column as an input)."""
    files = []
    for split_name, examples in splits.items():
        for shape, exs in sorted(by(examples, _shape).items(), key=lambda kv: SHAPES.index(kv[0])):
            files.append(write_jsonl(out, f"{split_name}/{shape}.jsonl", [_st_row(ex, opts) for ex in exs],
                                     split=split_name, shape=shape, groups=sorted({ex.group for ex in exs}),
                                     in_batch_negatives=shape != "classification"))
    return files


def _fe_row(ex: Example) -> dict:
    out = {"query": ex.query, "pos": [ex.positive], "neg": [ex.negative] if ex.negative is not None else [],
           "prompt": ex.task}
    if ex.negative is None:
        out["train_group_size"] = 1  # with same-dataset batching: in-batch negatives only
    return out


def instruction_format(template: str) -> str:
    """The template as FlagEmbedding's `query_instruction_format`, filled with (prompt, query)."""
    return template.replace("{task}", "{0}").replace("{query}", "{1}")


def write_flagembedding(out: Path, splits: dict, opts: ExportOptions, run: tuple) -> list[dict]:
    """One file per group of `{query, pos, neg, prompt}` lines."""
    files = []
    for split_name, examples in splits.items():
        for group, exs in by(examples, lambda ex: ex.group).items():
            cls = exs[0].is_classification
            suffix = f"_{NO_IN_BATCH}" if cls else ""
            rows = [_fe_row(ex) for ex in exs]
            files.append(write_jsonl(out, f"{split_name}{suffix}/{group}{suffix}.jsonl", rows,
                                     split=split_name, groups=[group], in_batch_negatives=not cls))
    return files


def write_mteb(out: Path, splits: dict, opts: ExportOptions, run: tuple) -> list[dict]:
    """BEIR-style corpus (positives and hard negatives), queries and qrels per group, from the
    held-out split; long-short, a classification, is left out."""
    held = [ex for ex in splits.get("eval", []) if not ex.is_classification]
    if not held:
        raise ExportError("the held-out split has no retrieval examples (long-short is not exported "
                          "to mteb); raise --eval-fraction or select more groups")
    files = []
    for group, exs in by(held, lambda ex: ex.group).items():
        corpus = {doc_id(t): {"_id": doc_id(t), "title": "", "text": t}
                  for ex in exs for t in (ex.positive, ex.negative) if t is not None}
        queries = [{"_id": ex.id, "text": query_text(ex, opts), "instruction": ex.task, "query": ex.query}
                   for ex in exs]
        for name, rows in (("corpus", list(corpus.values())), ("queries", queries)):
            files.append(write_jsonl(out, f"{group}/{name}.jsonl", rows, split="eval", groups=[group],
                                     kind=name))
        qrels = ["query-id\tcorpus-id\tscore\n", *(f"{ex.id}\t{doc_id(ex.positive)}\t1\n" for ex in exs)]
        (out / group / "qrels").mkdir()
        (out / group / "qrels" / "test.tsv").write_text("".join(qrels), encoding="utf-8")
        files.append({"path": f"{group}/qrels/test.tsv", "rows": len(exs), "split": "eval", "groups": [group],
                      "kind": "qrels"})
    return files


def check_parquet(opts: ExportOptions) -> None:
    """Refuse before anything is written."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ExportError("--format parquet needs pyarrow: pip install 'synthgen[parquet]'") from None
    unknown = sorted(set(opts.metadata) - set(METADATA))
    if unknown:
        raise ExportError(f"unknown --metadata column(s) {unknown}; known: {', '.join(METADATA)}")


def _parquet_row(ex: Example, opts: ExportOptions) -> dict:
    """The group's own text columns (no union of every group's keys full of nulls), then metadata."""
    rec = ex.record
    row = {k: rec[k] for k in GROUPS[ex.group].output_keys}
    for name in opts.metadata:
        if name == "language":
            for slot in GROUPS[ex.group].language_slots:  # bitext: src_lang and tgt_lang
                row[slot] = (rec.get("placeholders") or {}).get(slot)
        else:
            row[name] = rec.get(name)
    return row


def write_parquet(out: Path, splits: dict, opts: ExportOptions, run: tuple) -> list[dict]:
    """`<group>/train.parquet` (and test.parquet) per group, and the dataset card."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = []
    for split_name, examples in splits.items():
        for group, exs in by(examples, lambda ex: ex.group).items():
            rel = f"{group}/{SPLIT_FILES[split_name]}.parquet"
            (out / group).mkdir(exist_ok=True)
            pq.write_table(pa.Table.from_pylist([_parquet_row(ex, opts) for ex in exs]), out / rel)
            files.append({"path": rel, "rows": len(exs), "split": split_name, "groups": [group]})
    (out / "README.md").write_text(card_text(splits, *run, opts), encoding="utf-8")
    files.append({"path": "README.md", "kind": "dataset card"})
    return files


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows] + [""]


def card_text(splits: dict[str, list[Example]], run_dir: Path, m: dict, opts: ExportOptions) -> str:
    """The dataset card: one Hub config per group, the model, the fingerprint, counts per group and
    language, the rejects, the licence caveat."""
    examples = [ex for exs in splits.values() for ex in exs]
    groups = [g for g in GROUPS if any(ex.group == g for ex in examples)]
    models = Counter(ex.record.get("model") or "unknown" for ex in examples)
    configured = (m.get("config") or {}).get("llm", {}).get("model", "unknown")
    # one language label per example: "German", or "Dutch-English" for a bitext pair
    counts = Counter((ex.group, "-".join(ex.languages) or "unknown", split)
                     for split, exs in splits.items() for ex in exs)
    lines = ["---", "license: other", "tags:", "- synthetic", "- synthgen", "- text-embeddings",
             "task_categories:", "- sentence-similarity", "- text-retrieval", "configs:"]
    for group in groups:
        lines += [f"- config_name: {group}", "  data_files:"]
        for split_name, file_name in SPLIT_FILES.items():
            if any(ex.group == group for ex in splits.get(split_name, [])):
                lines += [f"  - split: {file_name}", f"    path: {group}/{file_name}.parquet"]
    lines += ["---", "", "# Synthetic embedding training data (synthgen)", "",
              "Made with synthgen, following the E5-mistral recipe (Wang et al., ACL 2024): an LLM "
              "brainstorms retrieval tasks and writes one example per task and sampled placeholders. "
              "Each group is its own config with its own columns.", "",
              f"- Model: {', '.join(f'{k} ({v} examples)' for k, v in models.most_common())} "
              f"(configured: {configured})",
              f"- Run fingerprint: `{m.get('fingerprint', 'unknown')}` (shard: {m.get('shard', '0/1')})",
              f"- Stage 2 status: {m.get('stages', {}).get('generate', {}).get('status', 'unknown')}",
              f"- Held out for evaluation (the test split): {opts.eval_fraction:g} of each group's tasks, "
              f"seed {opts.seed}; no task is on both sides (sts and bitext have one fixed instruction: "
              "their examples are split instead)", ""]
    filters = [f"groups {', '.join(opts.groups)}" if opts.groups else "",
               f"languages {', '.join(opts.languages)}" if opts.languages else "",
               "flagged examples left out" if opts.exclude_flagged else ""]
    if any(filters):
        lines += [f"Filters: {'; '.join(f for f in filters if f)}.", ""]
    keys = sorted({(g, lang) for g, lang, _ in counts}, key=lambda k: (list(GROUPS).index(k[0]), k[1]))
    lines += ["## Examples per group and language", ""]
    lines += _table(("group", "language", "train", "test"),
                    [(g, lang, counts[(g, lang, "train")], counts[(g, lang, "eval")]) for g, lang in keys])
    reasons = Counter(f"{rec.get('stage', '?')}: {rec.get('reason', '?')}"  # over the published parts
                      for rec in iter_records(run_dir / "rejects", include_open=False))
    surplus = {k: reasons.pop(k) for k in [k for k in reasons if k.endswith(": surplus")]}  # not rejects
    lines += ["## Rejected during generation", ""]
    lines += _table(("stage: reason", "count"), sorted(reasons.items())) if reasons else ["None.", ""]
    past = ", ".join(f"{k} {n}" for k, n in sorted(surplus.items()))
    lines += [f"Also left out, as good but past their group's target: {past}.", ""] if surplus else []
    lines += ["## Licence", "", LICENCE_NOTE, "", "## Loading", "", "```python",
              "from datasets import load_dataset", "",
              f'ds = load_dataset("parquet", data_dir="{groups[0]}")',  # export_run refuses no examples
              "```", ""]
    return "\n".join(lines)


FORMATS = {"sentence-transformers": write_sentence_transformers, "flagembedding": write_flagembedding,
           "mteb": write_mteb, "parquet": write_parquet}
