"""The dataset card (README.md) written next to a Parquet export, from run.json and the files.

It says what the Hugging Face Hub and a reader need: the configs (one per group, so
`load_dataset(dir, group)` works), the model that wrote the data, the run's fingerprint, counts
per group and language of what was exported, why the rest was rejected, and the licence caveat.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ..taxonomy import GROUPS
from .common import ExportOptions, RunInfo
from .reader import Example

LICENCE_NOTE = (
    "The texts were written by the language model named above. Its provider's terms of use may "
    "restrict what the outputs can be used for (some forbid training models that compete with "
    "theirs): check them before you publish or train on this data, and set `license` in this "
    "card to match. synthgen (Apache-2.0) claims no rights over the generated text.")


def reject_reasons(run_dir: Path) -> Counter:
    """stage:reason -> count over the run's published reject parts."""
    counts: Counter = Counter()
    for path in sorted((Path(run_dir) / "rejects").glob("part-*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                counts[f"{rec.get('stage', '?')}: {rec.get('reason', '?')}"] += 1
    return counts


def _front_matter(groups: list[str], splits: dict[str, list[Example]]) -> list[str]:
    lines = ["---", "license: other", "tags:", "- synthetic", "- synthgen", "- text-embeddings",
             "task_categories:", "- sentence-similarity", "- text-retrieval", "configs:"]
    for group in groups:
        lines += [f"- config_name: {group}", "  data_files:"]
        for split_name, file_name in (("train", "train"), ("eval", "test")):
            if any(ex.group == group for ex in splits.get(split_name, [])):
                lines += [f"  - split: {file_name}", f"    path: {group}/{file_name}.parquet"]
    return lines + ["---", ""]


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


def card_text(splits: dict[str, list[Example]], run: RunInfo, opts: ExportOptions) -> str:
    m = run.manifest
    examples = [ex for exs in splits.values() for ex in exs]
    groups = [g for g in GROUPS if any(ex.group == g for ex in examples)]
    models = Counter(ex.record.get("model") or "unknown" for ex in examples)
    configured = (m.get("config") or {}).get("llm", {}).get("model", "unknown")
    counts = Counter((ex.group, ex.language, split) for split, exs in splits.items() for ex in exs)
    lines = _front_matter(groups, splits)
    lines += ["# Synthetic embedding training data (synthgen)", "",
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
    lines += ["## Examples per group and language", ""]
    lines += _table(("group", "language", "train", "test"), [
        (g, lang, counts[(g, lang, "train")], counts[(g, lang, "eval")])
        for g, lang in sorted({(g, lang) for g, lang, _ in counts}, key=lambda k: (list(GROUPS).index(k[0]), k[1]))])
    reasons = reject_reasons(run.run_dir)
    lines += ["## Rejected during generation", ""]
    lines += _table(("stage: reason", "count"), sorted(reasons.items())) if reasons else ["None.", ""]
    lines += ["## Licence", "", LICENCE_NOTE, "", "## Loading", "", "```python",
              "from datasets import load_dataset", "",
              f'ds = load_dataset("parquet", data_dir="{groups[0] if groups else "short-long"}")',
              "```", ""]
    return "\n".join(lines)


def write_card(out: Path, splits: dict[str, list[Example]], run: RunInfo, opts: ExportOptions) -> None:
    (Path(out) / "README.md").write_text(card_text(splits, run, opts), encoding="utf-8")
