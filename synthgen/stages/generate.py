"""Stage 2: validate each example, drop exact duplicates, write records or rejects."""

from __future__ import annotations

from pathlib import Path

from ..config import RunConfig
from ..journal import Journal
from ..parse import parse_object
from ..plan import WorkItem
from ..prompts import generate_schema
from ..records import RECORD_TYPES, RejectRecord
from ..taxonomy import GROUPS
from ..validate import DEDUP_FIELDS, Finding, validate_example
from .base import OutputStage, text_hash
from .engine import ItemResult


class GenerateStage(OutputStage):
    name = "generate"
    kinds = ("examples", "rejects")

    def __init__(self, cfg: RunConfig, run_dir: Path, journal: Journal):
        super().__init__(run_dir, journal, cfg.output.shard_size)
        self.cfg = cfg
        self._schemas = {g: generate_schema(g) for g in GROUPS}

    def schema(self, item: WorkItem) -> tuple[dict | None, str]:
        return self._schemas[item.group], item.group.replace("-", "_")

    def parse(self, content: str) -> object:
        return parse_object(content)

    def task_of(self, item: WorkItem) -> str:
        return item.task or GROUPS[item.group].instruction or ""

    def _reject(self, result: ItemResult, finding: Finding, duplicate_of: str | None = None) -> None:
        item = result.item
        rec = RejectRecord(
            id=item.id, stage="generate", group=item.group, reason=finding.reason, detail=finding.detail,
            field=finding.field, duplicate_of=duplicate_of, task=self.task_of(item),
            placeholders=item.placeholders, output=result.parsed,
            raw=None if result.parsed is not None else result.content,
            model=self.cfg.llm.model, item_index=item.index, attempts=result.attempts,
        )
        self.writers["rejects"].add(rec.model_dump(exclude_none=True))
        self.count(item.group, f"rejected:{finding.reason}")

    def _duplicate(self, item: WorkItem, obj: dict) -> tuple[Finding, str] | None:
        """Exact dedup (first in plan order wins); claims the hashes only if all are new."""
        hashes = [(f, ns, text_hash(obj[f])) for f, ns in DEDUP_FIELDS[item.group]]
        for f, ns, h in hashes:
            row = self.journal.db.execute("SELECT item_id FROM seen WHERE ns=? AND h=?", (ns, h)).fetchone()
            if row:
                return Finding("duplicate", f"'{f}' duplicates an earlier {ns}", f), row[0]
        for f, ns, h in hashes:
            self.journal.seen_or_add(ns, h, item.id)
        return None

    def commit(self, result: ItemResult) -> None:
        item = result.item
        self.count(item.group, "items")
        if result.error:
            self._reject(result, Finding(result.error, result.detail))
            return
        obj = result.parsed
        assert isinstance(obj, dict)
        finding = validate_example(item.group, obj, item.placeholders, self.cfg.validation)
        if finding:
            self._reject(result, finding)
            return
        dup = self._duplicate(item, obj)
        if dup:
            self._reject(result, dup[0], duplicate_of=dup[1])
            return
        record = RECORD_TYPES[item.group](
            id=item.id, task=self.task_of(item), placeholders=item.placeholders,
            model=self.cfg.llm.model, item_index=item.index, attempts=result.attempts,
            usage={"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens},
            **{k: obj[k] for k in GROUPS[item.group].output_keys},
        )
        self.writers["examples"].add(record.model_dump())
        self.count(item.group, "accepted")
