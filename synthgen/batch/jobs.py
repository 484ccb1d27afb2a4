"""Batch API jobs through the openai SDK's public files and batches calls.

Every id the server hands out is journaled before the next call, and a job whose batch id was
lost to a crash (created, not yet journaled) is found again by its input file id in
`batches.list`, so a rerun re-attaches instead of submitting twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import openai
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from ..config import BatchConfig
from ..journal import Journal
from .ingest import Ingested, ingest_lines
from .ledger import Job, Ledger

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
CHUNK = 500  # downloaded lines handed to the journal at a time


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in (408, 409, 429) or exc.status_code >= 500)


class BatchJobs:
    def __init__(self, sdk: openai.AsyncOpenAI, journal: Journal, cfg: BatchConfig, stage: str, model: str,
                 on_poll: Callable[[list[Job]], None] | None = None, attempts: int = 6, sleep=asyncio.sleep):
        self.sdk, self.journal, self.cfg, self.stage, self.model = sdk, journal, cfg, stage, model
        self.ledger = Ledger(journal)
        self.on_poll, self.sleep, self.attempts = on_poll, sleep, attempts

    async def _call(self, fn, *args, **kw):
        """One SDK call, retried on transport trouble (the SDK's own retries are off)."""
        async for attempt in AsyncRetrying(stop=stop_after_attempt(self.attempts), reraise=True,
                                           wait=wait_exponential(multiplier=0.5, max=30),
                                           retry=retry_if_exception(_transient)):
            with attempt:
                return await fn(*args, **kw)

    async def _uploaded(self, job: Job) -> str | None:
        """A file of ours uploaded before a crash let us journal its id."""
        async for f in await self._call(self.sdk.files.list, purpose="batch"):
            if f.filename == job.name and f.bytes == job.bytes:
                return f.id
        return None

    async def _created(self, file_id: str):
        async for b in await self._call(self.sdk.batches.list, limit=100):
            if b.input_file_id == file_id:
                return b
        return None

    async def submit(self, job: Job) -> None:
        """Upload the job's file and create its batch, unless that was done already."""
        if job.file_id is None:
            fid = await self._uploaded(job)
            if fid is None:
                with open(job.path, "rb") as f:
                    fid = (await self._call(self.sdk.files.create, file=(job.name, f), purpose="batch")).id
            self.ledger.update(job, file_id=fid, status="uploaded")
        if job.batch_id is None:
            batch = await self._created(job.file_id)
            if batch is None:
                batch = await self._call(self.sdk.batches.create, input_file_id=job.file_id,
                                         endpoint="/v1/chat/completions",
                                         completion_window=self.cfg.completion_window,
                                         metadata={"synthgen_job": job.name})
            self.ledger.update(job, batch_id=batch.id, status=batch.status, expires_at=batch.expires_at)

    async def wait(self, jobs: list[Job]) -> list:
        """Poll every job until its batch ends, the interval growing by half up to the cap."""
        interval = self.cfg.poll_interval_s
        batches = {}
        while True:
            for job in jobs:
                if job.batch_id in batches and batches[job.batch_id].status in TERMINAL:
                    continue
                b = await self._call(self.sdk.batches.retrieve, job.batch_id)
                batches[job.batch_id] = b
                counts = b.request_counts
                self.ledger.update(job, status=b.status, completed=counts.completed if counts else 0,
                                   failed=counts.failed if counts else 0)
            if self.on_poll:
                self.on_poll(jobs)
            if all(batches[j.batch_id].status in TERMINAL for j in jobs):
                return [batches[j.batch_id] for j in jobs]
            await self.sleep(interval)
            interval = min(self.cfg.max_poll_interval_s, interval * 1.5)

    async def ingest(self, job: Job, batch) -> Ingested:
        """Download the output and error files; journal each answer as it is read."""
        total = Ingested()
        for fid in (batch.output_file_id, batch.error_file_id):
            if fid:
                total.add(await self._download(fid, f"batch:{batch.id}"))
        self.ledger.update(job, ingested=1)
        return total

    async def _download(self, file_id: str, endpoint: str) -> Ingested:
        total = Ingested()
        chunk: list[str] = []
        async with self.sdk.files.with_streaming_response.content(file_id) as resp:
            async for line in resp.iter_lines():
                chunk.append(line)
                if len(chunk) >= CHUNK:
                    total.add(ingest_lines(self.journal, chunk, self.stage, endpoint, self.model))
                    chunk = []
        total.add(ingest_lines(self.journal, chunk, self.stage, endpoint, self.model))
        return total


def describe(jobs: list[Job], now: float | None = None) -> str:
    """One line for the progress display: batch states, requests done and failed, the window."""
    now = time.time() if now is None else now
    states: dict[str, int] = {}
    for j in jobs:
        states[j.status] = states.get(j.status, 0) + 1
    done = sum(j.completed for j in jobs)
    failed = sum(j.failed for j in jobs)
    total = sum(j.requests for j in jobs)
    started = min((j.created for j in jobs), default=now)
    left = [j.expires_at - now for j in jobs if j.expires_at]
    window = f", window left {_hms(min(left))}" if left else ""
    state = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    return f"batches: {state}; {done}/{total} requests done, {failed} failed; elapsed {_hms(now - started)}{window}"


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"
