"""Stage 2: check each example (quality/checks.py), write it to examples/ or rejects/.

With a check worker (validation.check_worker), each answer's order-free checks run in a worker
process as it arrives (`prepare`); `commit` then only does the dedup look-ups, in plan order.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ..config import RunConfig
from ..journal import Journal
from ..parse import parse_object
from ..plan import WorkItem
from ..prompts import generate_schema
from ..records import RejectRecord, example_record
from ..taxonomy import GROUPS
from ..quality.checks import ExampleChecker
from ..quality.check_worker import PrecheckPool
from ..quality.precheck import Precheck
from ..validate import Finding
from .engine import ItemResult, OutputStage


def use_check_worker(cfg: RunConfig, todo: int) -> bool:
    """validation.check_worker: "auto" takes a worker process when it pays for its start-up
    (about a second of CPU): 1000+ examples to check, two or more cores, and language or
    near-duplicate checks switched on."""
    mode = cfg.validation.check_worker
    if mode != "auto":
        return mode == "on"
    heavy = cfg.validation.policy("wrong_language") != "off" or cfg.validation.policy("near_duplicate") != "off"
    return heavy and todo >= 1000 and (os.cpu_count() or 1) >= 2


class GenerateStage(OutputStage):
    name = "generate"
    kinds = ("examples", "rejects")

    def __init__(self, cfg: RunConfig, run_dir: Path, journal: Journal, todo: int = 0):
        super().__init__(run_dir, journal, cfg.output.shard_size)
        self.cfg = cfg
        # accepted examples wanted per group (this shard's share); past it an example is surplus
        self.targets: dict[str, int] = {}
        self._schemas = {g: generate_schema(g) for g in GROUPS}
        self.notice = ""
        rules = cfg.validation.rules_for_checks()
        self.checker = ExampleChecker(rules, journal)
        use_worker = use_check_worker(cfg, todo - self.items_total)
        self.pool: PrecheckPool | None = PrecheckPool(rules) if use_worker else None  # see start()
        self._model: asyncio.Future | None = None  # the language model loading in-process

    async def prepare(self, result: ItemResult) -> Precheck | None:
        """Order-free checks in the worker as each answer arrives; commit does the rest."""
        obj, item = result.parsed, result.item
        if self.pool is None and self._model is not None and not self._model.done():
            await asyncio.wait([self._model])  # commits wait for the model; requests go on
        if not isinstance(obj, dict) or self.pool is None:
            return None
        return await self.pool.check((item.group, obj, item.placeholders), item.index)

    async def start(self) -> None:
        if self.pool is not None:
            await self.pool.start()
        elif self.checker.pre.lang_on:
            # the model loads (~0.8 s of LZMA, which releases the GIL) in a thread while requests go
            # on; answers wait for it in prepare, not the event loop in commit (3.19 s vs 3.41 s)
            self._model = asyncio.get_running_loop().run_in_executor(None, self.checker.pre.warm)

    async def aclose(self) -> None:
        if self.pool is not None:
            if self.pool.broken:  # said in the stage's last line: the run went on, more slowly
                self.notice = f"{self.pool.broken}; checked in-process instead"
            await self.pool.aclose()
            self.pool = None

    def schema(self, item: WorkItem) -> tuple[dict | None, str]:
        return self._schemas[item.group], item.group.replace("-", "_")

    def parse(self, content: str) -> object:
        return parse_object(content)

    def task_of(self, item: WorkItem) -> str:
        return item.task or GROUPS[item.group].instruction or ""

    def _reject(self, result: ItemResult, finding: Finding, duplicate_of: str | None = None) -> None:
        item = result.item
        self.reject(RejectRecord(
            id=item.id, stage="generate", group=item.group, reason=finding.reason, detail=finding.detail,
            field=finding.field, duplicate_of=duplicate_of, task=self.task_of(item),
            placeholders=item.placeholders, output=result.parsed,
            raw=None if result.parsed is not None else result.content,
            model=self.cfg.llm.model, item_index=item.index, attempts=result.attempts,
        ))

    def commit(self, result: ItemResult) -> None:
        item = result.item
        self.count(item.group, "items")
        if result.error:
            self._reject(result, Finding(result.error, result.detail))
            return
        obj = result.parsed
        assert isinstance(obj, dict)
        # past the target only a good example is surplus (checked, claiming no dedup entry)
        full = self.accepted.get(item.group, 0) >= self.targets.get(item.group, 1 << 62)
        verdict = self.checker.check_example(item.group, obj, item.placeholders, item.id, result.pre,
                                             claim=not full)
        flags = verdict.flags
        if verdict.finding or full:
            self._reject(result, verdict.finding or Finding("surplus", "group already has its accepted target"),
                         duplicate_of=verdict.duplicate_of)
            return
        values = {k: obj[k] for k in GROUPS[item.group].output_keys}  # strings: check_shape said so
        values.update(
            id=item.id, group=item.group, task=self.task_of(item), placeholders=item.placeholders,
            model=self.cfg.llm.model, item_index=item.index, attempts=result.attempts,
            usage={"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens},
            flags=flags, langid=verdict.langid,
        )
        self.writers["examples"].add(example_record(item.group, values))
        self.count(item.group, "accepted")
        for flag in flags:
            self.count(item.group, f"flagged:{flag}")
