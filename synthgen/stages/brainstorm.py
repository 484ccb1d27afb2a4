"""Stage 1: parse each brainstormed list, keep distinct tasks up to the group's quota."""

from __future__ import annotations

from pathlib import Path

from ..config import RunConfig
from ..journal import Journal
from ..parse import parse_task_list
from ..plan import WorkItem
from ..prompts import brainstorm_schema
from ..records import RejectRecord, TaskRecord
from ..validate import count_words
from ..quality.neardup import NearDupStore
from ..quality.precheck import text_hash
from .engine import ItemResult, OutputStage


class BrainstormStage(OutputStage):
    name = "brainstorm"
    kinds = ("tasks", "rejects")

    def __init__(self, cfg: RunConfig, run_dir: Path, journal: Journal):
        super().__init__(run_dir, journal, cfg.output.shard_size)
        self.cfg = cfg
        self._schema = brainstorm_schema()
        v = cfg.validation
        self.near_policy = v.policy("near_duplicate")
        self.near = NearDupStore(journal, v.near_duplicate_threshold) if self.near_policy != "off" else None

    def missing(self) -> dict[str, int]:
        """Groups still short of their `tasks` quota, with how many tasks they lack."""
        return {g: gc.tasks - self.accepted.get(g, 0) for g, gc in self.cfg.groups.items()
                if gc.examples and gc.tasks and self.accepted.get(g, 0) < gc.tasks}

    def schema(self, item: WorkItem) -> tuple[dict | None, str]:
        return self._schema, "tasks"

    def parse(self, content: str) -> object:
        return parse_task_list(content)

    def _reject(self, result: ItemResult, reason: str, detail: str, rid: str, **kw) -> None:
        item = result.item
        self.reject(RejectRecord(id=rid, stage="brainstorm", group=item.group, reason=reason,
                                 detail=detail, model=self.cfg.llm.model, item_index=item.index,
                                 attempts=result.attempts, **kw))

    def commit(self, result: ItemResult) -> None:
        item = result.item
        self.count(item.group, "items")
        if result.error:
            self._reject(result, result.error, result.detail, item.id, raw=result.content)
            return
        quota = self.cfg.groups[item.group].tasks or 0
        min_words = self.cfg.brainstorm.min_task_words
        ns = f"task/{item.group}"
        for i, task in enumerate(result.parsed):  # type: ignore[arg-type]
            rid = f"{item.id}-{i}"
            if not isinstance(task, str):
                self._reject(result, "wrong_type", f"task is {type(task).__name__}", rid, output=task)
                continue
            task = " ".join(task.split())
            if count_words(task) < min_words:
                self._reject(result, "too_short", f"task has fewer than {min_words} words", rid, output=task)
                continue
            h = text_hash(task)
            prior = self.journal.seen(ns, h)
            if prior is not None:
                self._reject(result, "duplicate", "same task brainstormed before", rid, output=task,
                             duplicate_of=prior)
                continue
            if self.accepted.get(item.group, 0) >= quota:
                self._reject(result, "surplus", f"group already has its {quota} tasks", rid, output=task)
                continue
            if self.near is not None:
                prior = self.near.check_and_add(ns, rid, task)
                if prior is not None and self.near_policy == "reject":
                    self._reject(result, "near_duplicate", "near-copy of an earlier task", rid, output=task,
                                 duplicate_of=prior)
                    continue
            self.journal.claim(ns, h, rid)
            rec = TaskRecord(id=rid, group=item.group, task=task, item_id=item.id, model=self.cfg.llm.model)
            self.writers["tasks"].add(rec.model_dump())
            self.count(item.group, "accepted")
