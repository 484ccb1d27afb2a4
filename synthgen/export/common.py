"""What every format shares: the query text with its instruction, document ids, JSONL files."""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass, field
from pathlib import Path

from .reader import Example, ExportError

# the paper's training format (E5-mistral): the instruction on the query side only
DEFAULT_TEMPLATE = "Instruct: {task}\nQuery: {query}"


@dataclass(frozen=True)
class ExportOptions:
    """The choices of one export; the CLI's options map one to one onto these fields."""

    eval_fraction: float = 0.0
    seed: int = 0
    groups: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    exclude_flagged: bool = False
    allow_partial: bool = False
    query_template: str = DEFAULT_TEMPLATE
    prompt_column: bool = False
    metadata: tuple[str, ...] = field(default=("id", "task", "language"))


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
    """The query side as a trainer sees it: the raw query when the instruction has its own
    column, else the template filled in (what queries at inference must look like too)."""
    if opts.prompt_column:
        return ex.query
    return opts.query_template.format(task=ex.task, query=ex.query)


def prompt_text(ex: Example, opts: ExportOptions) -> str:
    """The template's text before {query}: prompt + raw query == the templated query."""
    return opts.query_template[: -len("{query}")].format(task=ex.task)


def doc_id(text: str) -> str:
    """A document id that depends on the text alone: the same in every export of any run."""
    return "d" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def write_jsonl(path: Path, rows: list[dict]) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {"path": str(path), "rows": len(rows)}


@dataclass(frozen=True)
class RunInfo:
    """The run being exported, for writers that describe it (the dataset card)."""

    run_dir: Path
    manifest: dict
