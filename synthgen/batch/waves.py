"""A stage's requests through the Batch API, in waves, then committed like online answers.

Wave w writes every request the stage still needs (`requests.pending`) into input files, submits
them, waits for the batches, and journals every answer as it is downloaded. Requests left
without a usable answer (per-line errors, missing lines, an expired or cancelled batch, answers
cut by `max_tokens` or not JSON) go into wave w+1, up to `llm.batch.max_waves` in a session.
The engine then commits the stage in plan order from the journal alone, exactly as it commits
online results; an item still without an answer stops the stage (a rerun submits it again).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Callable, Iterable

from ..budget import BudgetExhausted, BudgetGate
from ..config import RunConfig
from ..journal import Journal
from ..llm.client import RequestFailed
from ..llm.tokens import count_message_tokens
from ..plan import WorkItem
from .jobs import BatchJobs, describe
from .ledger import Job, Ledger
from .requests import REJECTED, custom_id, pending, request_line, write_files


class Exported(Exception):
    """The stage's next requests were written for an engine elsewhere: stop until they are back."""


class BatchWaves:
    def __init__(self, cfg: RunConfig, journal: Journal, out: Path, stage, client, gate: BudgetGate,
                 on_progress: Callable[[str], None] | None = None, export_dir: Path | None = None):
        self.cfg, self.journal, self.stage, self.client, self.gate = cfg, journal, stage, client, gate
        self.dir = Path(out) / "batches"
        self.ledger = Ledger(journal)
        self.on_progress = on_progress
        self.jobs = BatchJobs(client.sdk(), journal, cfg.llm.batch, stage.name, cfg.llm.model,
                              on_poll=self._polled, attempts=cfg.llm.max_attempts)
        self.fingerprint = cfg.fingerprint()[:8]
        self.export_dir = Path(export_dir) if export_dir is not None else None

    def _polled(self, jobs: list[Job]) -> None:
        if self.on_progress:
            self.on_progress(describe(jobs))

    def _export(self, jobs: list[Job]) -> None:
        self.export_dir.mkdir(parents=True, exist_ok=True)
        for job in jobs:
            target = self.export_dir / job.name
            tmp = target.with_suffix(".jsonl.tmp")
            shutil.copyfile(job.path, tmp)
            tmp.replace(target)
            self.ledger.update(job, status="exported")
        n = sum(j.requests for j in jobs)
        raise Exported(f"{n} requests written to {self.export_dir} in {len(jobs)} file(s) "
                       f"({', '.join(j.name for j in jobs)}); run them (e.g. vLLM's run_batch), then "
                       "`synthgen batch-ingest` the output files and run this command again")

    def missing(self, item: WorkItem, attempt: int) -> RequestFailed:
        """Why the journal holds no answer for (item, attempt): for the engine's commit pass."""
        row = self.journal.db.execute("SELECT message FROM failures WHERE item_id=? AND attempt=? AND kind=?",
                                      (item.id, attempt, REJECTED)).fetchone()
        if row is not None:
            return RequestFailed(row[0], permanent=True)
        return RequestFailed(f"no answer after {self.cfg.llm.batch.max_waves} batch waves; rerun to submit "
                             "the rest again")

    async def run(self, key: str, make_items: Callable[[], Iterable[WorkItem]]) -> None:
        """Finish this key's open jobs (a crash left them), then waves until nothing is pending."""
        await self._finish(self.ledger.jobs(key, open_only=True))
        first = self.ledger.next_wave(key)
        for wave in range(first, first + self.cfg.llm.batch.max_waves):
            jobs = self._write_wave(key, wave, make_items())
            if not jobs:
                return
            if self.export_dir is not None:
                self._export(jobs)
            await self._finish(jobs)

    async def _finish(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        for job in jobs:
            await self.jobs.submit(job)
        batches = await self.jobs.wait(jobs)
        for job, batch in zip(jobs, batches):
            await self.jobs.ingest(job, batch)

    def _write_wave(self, key: str, wave: int, items: Iterable[WorkItem]) -> list[Job]:
        """The wave's request files, each in the ledger once complete on disk."""
        limits = self.cfg.llm.batch
        self._worst = 0.0
        self._count = 0
        lines = (self._line(item, attempt) for item, attempt in
                 pending(self.stage, self.journal, items, self.cfg.llm.max_output_retries))
        prefix = f"{self.fingerprint}-{key.replace('#', '-r')}-w{wave}"
        files = write_files(self.dir, prefix, lines, limits.max_requests, limits.max_bytes)
        self._reserve()  # before the ledger knows the wave: a refused wave is never submitted
        jobs = []
        for part, f in enumerate(files):
            job = Job(name=f.path.name, key=key, wave=wave, part=part, path=str(f.path),
                      requests=f.requests, bytes=f.bytes)
            self.ledger.add(job)
            jobs.append(job)
        return jobs

    def _line(self, item: WorkItem, attempt: int) -> bytes:
        schema, schema_name = self.stage.schema(item)
        body = self.client.build_body(item.messages, item.seed + attempt, schema, schema_name)
        self._count += 1
        if self.gate.max_cost is not None:
            price = self.cfg.prices[self.cfg.llm.model]
            rate_in, rate_out = price.rates(batch=True)
            self._worst += (count_message_tokens(item.messages, self.cfg.llm.model) * rate_in
                            + self.cfg.llm.max_tokens * rate_out) / 1e6
        return request_line(custom_id(item.id, attempt), body)

    def _reserve(self) -> None:
        """--max-cost / --max-requests: a wave goes out only if its worst case fits."""
        g = self.gate
        if g.max_requests is not None and g.requests_so_far + g.sent + self._count > g.max_requests:
            raise BudgetExhausted(f"budget reached: max_requests={g.max_requests} (a wave of {self._count})")
        if g.max_cost is not None and (g.cost_so_far or 0.0) + self._worst > g.max_cost:
            raise BudgetExhausted(f"budget reached: max_cost=${g.max_cost:g} (the next wave could cost "
                                  f"${math.ceil(self._worst * 100) / 100:g})")
        g.sent += self._count
