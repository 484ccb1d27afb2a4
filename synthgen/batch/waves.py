"""A stage's requests through the Batch API in waves (what wave w left unanswered goes into w+1, up
to `llm.batch.max_waves`), each answer journaled as downloaded; the engine then commits as online.
Every id the server hands out is journaled before the next call, and one a crash lost is found in
the server's lists again: a rerun re-attaches.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import shutil
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

import openai
import orjson

from ..budget import BudgetExhausted, BudgetGate
from ..config import RunConfig
from ..errors import FatalLLMError, RunError
from ..integrity import disk_faults
from ..journal import Journal
from ..llm.client import RequestFailed
from ..llm.retry import RAW_HTTP_ERRORS, AnswerTooLarge, describe as describe_failure, retrying
from ..llm.tokens import count_message_tokens
from ..manifest import cost_of
from ..plan import Shard, WorkItem
from ..redact import redact
from .ingest import REJECTED, TOO_LARGE, ingest_lines
from .ledger import Job, Ledger

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
KNOWN = TERMINAL | {"validating", "in_progress", "finalizing", "cancelling"}
CHUNK = 500  # downloaded lines handed to the journal at a time


class Exported(Exception):
    """The stage's next requests were written for an engine elsewhere: stop until they are back."""


def needed_attempt(parse: Callable[[str], object], stored, max_output_retries: int) -> int | None:
    """The attempt still to ask for, or None when the item has its answer (or used them all):
    an answer cut by `max_tokens` or not the JSON asked for is asked again, as online."""
    for r in stored[:max_output_retries + 1]:
        if r.finish_reason == "length":
            continue
        try:
            parse(r.content or "")
        except ValueError:
            continue
        return None
    return len(stored) if len(stored) <= max_output_retries else None


def write_files(directory: Path, prefix: str, lines: Iterable[bytes], max_requests: int,
                max_bytes: int) -> list[tuple[Path, int, int]]:
    """(path, requests, bytes) of `prefix`-NNN.jsonl files of at most max_requests lines and
    max_bytes bytes each (a longer line alone), each fsynced and renamed before the next."""
    directory.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Path, int, int]] = []
    lines = iter(lines)
    line = next(lines, None)
    while line is not None:
        tmp = directory / f"{prefix}-{len(out):03d}.jsonl.tmp"
        n = size = 0
        with open(tmp, "wb") as f:
            while line is not None and (n == 0 or (n < max_requests and size + len(line) <= max_bytes)):
                f.write(line)
                n += 1
                size += len(line)
                line = next(lines, None)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, tmp.with_suffix(""))
        out.append((tmp.with_suffix(""), n, size))
    return out


class BatchWaves:
    def __init__(self, cfg: RunConfig, journal: Journal, out: Path, stage, client, gate: BudgetGate,
                 on_progress: Callable[[str], None] | None = None, export_dir: Path | None = None,
                 shard: Shard = Shard()):
        self.cfg, self.journal, self.stage, self.client, self.gate = cfg, journal, stage, client, gate
        self.dir = Path(out) / "batches"
        self.ledger = Ledger(journal)
        self.on_progress = on_progress
        self.sdk = client.clients[client.pool.urls[0]]  # files and batches go to the first endpoint
        # shards of one run share the fingerprint: their files, on one account, must not share names
        # (a rerun finds a lost upload again by name and size)
        self.prefix = cfg.fingerprint()[:8] + (f"-s{shard.k}of{shard.n}" if shard.n > 1 else "")
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self.why = ""  # why the last batch that failed as a whole did (its first error), for `missing`
        self.budget: BudgetExhausted | None = None  # the wave it stopped: what was answered is committed

    def _refusal(self, item: WorkItem, attempt: int) -> tuple[str, str] | None:
        """(kind, message) if the server refused this very request (HTTP 4xx) or its answer was too large."""
        return self.journal.db.execute(
            "SELECT kind, message FROM failures WHERE item_id=? AND attempt=? AND kind IN (?, ?)",
            (item.id, attempt, REJECTED, TOO_LARGE)).fetchone()

    def missing(self, item: WorkItem, attempt: int) -> Exception:
        """Why the journal holds no answer for (item, attempt): for the engine's commit pass."""
        refusal = self._refusal(item, attempt)
        if refusal is not None:
            kind, message = refusal
            return RequestFailed(message, permanent=True,
                                 reason="response_too_large" if kind == TOO_LARGE else "request_failed")
        if self.budget is not None:
            return self.budget
        return RequestFailed(f"no answer after {self.cfg.llm.batch.max_waves} batch waves{self.why}; rerun to "
                             "submit the rest again")

    async def run(self, key: str, make_items: Callable[[], Iterable[WorkItem]]) -> None:
        """Finish this key's open jobs (a crash left them), then waves until nothing is pending."""
        left = self.ledger.open_jobs(key)
        unsent = [j for j in left if j.file_id is None]  # written, then a crash or a refused --dir
        if self.export_dir is not None and unsent:
            self._export(unsent)  # exported again, never submitted
        await self._finish(left)
        first = self.ledger.next_wave(key)
        if self.export_dir is not None:
            self._export_again(key, first - 1)
        for wave in range(first, first + self.cfg.llm.batch.max_waves):
            jobs = self._write_wave(key, wave, make_items())
            if not jobs:
                return
            if self.export_dir is not None:
                self._export(jobs)
            await self._finish(jobs)

    def _export_again(self, key: str, wave: int) -> None:
        """A wave exported with no answer to any of its requests ingested since (the command run
        twice) goes out again as it was: a new wave would have written each request a second time."""
        jobs = [j for j in self.ledger.jobs("key=? AND wave=?", (key, wave)) if j.status == "exported"]
        if jobs and not any(map(self._answered, jobs)):
            self._export(jobs)

    def _answered(self, job: Job) -> bool:
        sql = "SELECT 1 FROM responses WHERE item_id=? AND attempt=? UNION ALL SELECT 1 FROM failures " \
              "WHERE item_id=? AND attempt=?"
        try:
            with open(job.path, "rb") as fh:
                keys = [orjson.loads(line)["custom_id"].rpartition("-")[::2] for line in fh]
        except OSError:  # its file is gone: a new wave
            return True
        return any(self.journal.db.execute(sql, (i, int(n), i, int(n))).fetchone() for i, n in keys)

    def _export(self, jobs: list[Job]) -> None:
        try:
            with disk_faults(self.export_dir):
                self.export_dir.mkdir(parents=True, exist_ok=True)
                for job in jobs:
                    tmp = self.export_dir / f"{job.name}.tmp"
                    shutil.copyfile(job.path, tmp)
                    tmp.replace(self.export_dir / job.name)
                    self.ledger.update(job, status="exported")
        except OSError as exc:  # not a disk fault: a file in the way, no permission
            raise RunError(f"cannot write to --dir {self.export_dir}: {exc.strerror or exc}") from None
        n = sum(j.requests for j in jobs)
        raise Exported(f"{n} requests written to {self.export_dir} in {len(jobs)} file(s) "
                       f"({', '.join(j.name for j in jobs)}); run them (e.g. vLLM's run_batch), then "
                       "`synthgen batch-ingest` the output files and run this command again")

    def _pending(self, items: Iterable[WorkItem]) -> Iterator[tuple[WorkItem, int]]:
        """(item, attempt) of every request still needed that the server has not refused."""
        for item in items:
            attempt = needed_attempt(self.stage.parse, self.journal.responses_for(item.id),
                                     self.cfg.llm.max_output_retries)
            if attempt is not None and self._refusal(item, attempt) is None:
                yield item, attempt

    def _write_wave(self, key: str, wave: int, items: Iterable[WorkItem]) -> list[Job]:
        """The wave's request files, each in the ledger once complete on disk."""
        limits = self.cfg.llm.batch
        self._worst = 0.0  # added up by _line, for --max-cost
        lines = (self._line(item, attempt) for item, attempt in self._pending(items))
        g = self.gate  # --max-requests: a wave of what it leaves (when it leaves none, _reserve stops)
        if g.max_requests is not None and g.max_requests > g.requests_so_far + g.sent:
            lines = itertools.islice(lines, g.max_requests - g.requests_so_far - g.sent)
        prefix = f"{self.prefix}-{key.replace('#', '-r')}-w{wave}"
        files = write_files(self.dir, prefix, lines, limits.max_requests, limits.max_bytes)
        self._reserve(sum(n for _, n, _ in files))  # before the ledger knows the wave: never submitted
        jobs = []
        for part, (path, requests, size) in enumerate(files):
            jobs.append(Job(name=path.name, key=key, wave=wave, part=part, path=str(path), requests=requests,
                            bytes=size))
            self.ledger.add(jobs[-1])
        return jobs

    def _line(self, item: WorkItem, attempt: int) -> bytes:
        schema, schema_name = self.stage.schema(item)
        body = self.client.build_body(item.messages, item.seed + attempt, schema, schema_name)
        if self.gate.max_cost is not None:
            rate_in, rate_out = self.cfg.prices[self.cfg.llm.model].rates(batch=True)
            self._worst += (count_message_tokens(item.messages, self.cfg.llm.model) * rate_in
                            + self.cfg.llm.max_tokens * rate_out) / 1e6
        return orjson.dumps({"custom_id": f"{item.id}-{attempt}", "method": "POST",
                             "url": "/v1/chat/completions", "body": body}) + b"\n"

    def _reserve(self, count: int) -> None:
        """--max-cost / --max-requests: a wave of `count` requests goes out only if its worst case fits."""
        g = self.gate
        if g.max_requests is not None and g.requests_so_far + g.sent + count > g.max_requests:
            raise BudgetExhausted(f"budget reached: max_requests={g.max_requests} (a wave of {count})")
        if g.max_cost is not None and (g.cost_so_far or 0.0) + self._worst > g.max_cost:
            raise BudgetExhausted(f"budget reached: max_cost=${g.max_cost:g} (the next wave could cost "
                                  f"${math.ceil(self._worst * 100) / 100:g})")
        g.sent += count

    async def _finish(self, jobs: list[Job]) -> None:
        """Submit, wait for and ingest the jobs, skipping what the ledger has done."""
        if not jobs:
            return
        for job in jobs:
            await self._submit(job)
        batches = await self._wait(jobs)
        for job, batch in zip(jobs, batches):
            error = (getattr(batch.errors, "data", None) or [None])[0]
            if error is not None:
                self.why = f" (batch {batch.status}: {redact(getattr(error, 'message', error))[:200]})"
            for fid in (batch.output_file_id, batch.error_file_id):
                if fid:
                    await self._download(fid, f"batch:{batch.id}")
            self.ledger.update(job, ingested=1)
        # what the answers cost counts for the next wave's --max-cost reservation (and the progress line)
        self.gate.cost_so_far = cost_of(self.cfg, self.journal)[0]

    async def _call(self, fn, *args, **kw):
        """One SDK call, retried as chat requests are (the SDK's own retries are off)."""
        with _one_line(fn.__qualname__.removeprefix("Async").lower()):
            async for attempt in retrying(self.cfg.llm.max_attempts):
                with attempt:
                    return await fn(*args, **kw)

    async def _find(self, fn, want: dict, **kw):
        """The first object listed with the `want`ed attributes (made before a crash lost its id)."""
        seen = set()  # a server saying has_more and ignoring `after` lists the same page forever
        with _one_line(fn.__qualname__.removeprefix("Async").lower()):  # a later page failing too
            async for obj in await self._call(fn, **kw):
                if (key := getattr(obj, "id", None) or repr(obj)) in seen:
                    return None
                seen.add(key)
                if all(getattr(obj, k, None) == v for k, v in want.items()):  # a server may list junk
                    return obj
        return None

    async def _submit(self, job: Job) -> None:
        if job.file_id is None:
            want = {"filename": job.name, "bytes": job.bytes}
            up = await self._find(self.sdk.files.list, want, purpose="batch")
            if up is None:
                with open(job.path, "rb") as fh:
                    up = await self._call(self.sdk.files.create, file=(job.name, fh), purpose="batch")
            self.ledger.update(job, file_id=up.id, status="uploaded")
        if job.batch_id is None:
            batch = await self._find(self.sdk.batches.list, {"input_file_id": job.file_id}, limit=100)
            if batch is None:
                try:
                    batch = await self._call(self.sdk.batches.create, input_file_id=job.file_id,
                                             endpoint="/v1/chat/completions",
                                             completion_window=self.cfg.llm.batch.completion_window,
                                             metadata={"synthgen_job": job.name})
                except FatalLLMError:  # the file deleted, or another base_url's: the rerun finds it again
                    self.ledger.update(job, file_id=None, status="written")  # (by name), else uploads it
                    raise
            self.ledger.update(job, batch_id=batch.id, status=batch.status, expires_at=batch.expires_at)

    async def _wait(self, jobs: list[Job]) -> list:
        """Poll every job until its batch ends, the interval growing by half up to the cap."""
        interval = self.cfg.llm.batch.poll_interval_s
        batches = {}
        while True:
            for job in jobs:
                if job.batch_id in batches and batches[job.batch_id].status in TERMINAL:
                    continue
                b = batches[job.batch_id] = await self._call(self.sdk.batches.retrieve, job.batch_id)
                if b.status not in KNOWN and (b.expires_at or 0) < time.time():  # else polled forever
                    raise FatalLLMError(f"batch {b.id} has status {redact(str(b.status))[:40]!r}, unknown to "
                                        "synthgen, past its window; rerun the same command once it ends")
                counts = b.request_counts
                self.ledger.update(job, status=b.status, completed=counts.completed if counts else 0,
                                   failed=counts.failed if counts else 0)
            if self.on_progress:
                self.on_progress(describe(jobs))
            if all(batches[j.batch_id].status in TERMINAL for j in jobs):
                return [batches[j.batch_id] for j in jobs]
            await asyncio.sleep(interval)
            interval = min(self.cfg.llm.batch.max_poll_interval_s, interval * 1.5)

    async def _download(self, file_id: str, endpoint: str) -> None:
        """Stream a result file into the journal, CHUNK lines at a time (all again after a failure
        the retry policy asks again: an answer read twice is journaled once)."""
        with _one_line("files.content"):
            async for attempt in retrying(self.cfg.llm.max_attempts):
                with attempt:
                    chunk: list[str] = []
                    async with self.sdk.files.with_streaming_response.content(file_id) as resp:
                        async for line in resp.iter_lines():
                            chunk.append(line)
                            if len(chunk) >= CHUNK:
                                self._ingest(chunk, endpoint)
                                chunk = []
                    self._ingest(chunk, endpoint)

    def _ingest(self, lines: list[str], endpoint: str) -> None:
        ingest_lines(self.journal, lines, self.stage.name, endpoint, self.cfg.llm.model,
                     max_bytes=self.cfg.llm.max_response_bytes)


@contextmanager
def _one_line(call: str) -> Iterator[None]:
    """A Batch API call that failed for good (after its retries) ends the run in one line."""
    try:
        yield
    except (openai.OpenAIError, AnswerTooLarge, *RAW_HTTP_ERRORS) as exc:
        hint = "rerun the same command to continue"
        if isinstance(exc, openai.NotFoundError):
            hint = ("has this endpoint a Batch API? vLLM and Ollama have none: use llm.mode = \"online\", "
                    "or batch-export and run the files there")
        raise FatalLLMError(f"Batch API call {call} failed: {describe_failure(exc)}; {hint}") from None


def describe(jobs: list[Job]) -> str:
    """One line for the progress display: batch states, requests done and failed, the window."""
    now = time.time()
    states = Counter(j.status for j in jobs)
    started = min((j.created for j in jobs), default=now)
    left = [j.expires_at - now for j in jobs if j.expires_at]
    window = f", window left {_hms(min(left))}" if left else ""
    state = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    done, total = sum(j.completed for j in jobs), sum(j.requests for j in jobs)
    return (f"batches: {state}; {done}/{total} requests done, {sum(j.failed for j in jobs)} failed; "
            f"elapsed {_hms(now - started)}{window}")


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"
