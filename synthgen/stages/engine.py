"""What both stages share: the ordered executor and the base of their writers and counts.

Each response is journaled before anything is done with it (one transaction per turn of the
event loop), so a kill costs at most the requests in flight. Results are committed in plan order
(dedup, first wins, is the same in every run and resume), gathered in memory and written in one
transaction per COMMIT_EVERY items or when the engine waits, none open across an await. The
window of launched-but-uncommitted items is bounded, so memory does not grow with the run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..budget import BudgetExhausted, BudgetGate
from ..errors import FatalLLMError
from ..journal import Journal
from ..llm.client import ChatResult, LLMClient, RequestFailed
from ..plan import WorkItem
from ..records import RejectRecord
from ..shards import ShardWriter

COMMIT_SLICE = 8  # commits per turn of the loop (64 in one go held every socket for 20-80 ms)
COMMIT_EVERY = 64  # commits gathered per transaction at the most
# gathered commits are written once the engine has waited this long (each transaction rewrites
# the band pages it touches: writing them as soon as it waited made 59 MB of WAL, not 18)
FLUSH_IDLE_S = 0.5


class StillFailing(Exception):
    """A request failed for a transient reason after every retry: stop; a rerun asks again."""


@dataclass
class ItemResult:
    item: WorkItem
    content: str | None = None
    parsed: object | None = None
    error: str | None = None  # reason code when nothing usable came back
    detail: str = ""
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    pre: object | None = None  # the stage's order-free checks, done as the response arrived


@dataclass
class EngineStats:
    failed: int = 0  # transient failures left uncommitted (a rerun retries them)
    rejected_failed: int = 0  # requests the server refused as such (HTTP 400): rejected


class OutputStage:
    """The engine calls schema, parse, prepare (order-free checks as an answer arrives), commit (in
    plan order), flush (write pending lines) and finalize_full (publish the full parts)."""

    name = ""
    kinds: tuple[str, ...] = ()

    def __init__(self, run_dir: Path, journal: Journal, shard_size: int):
        self.journal = journal
        counts = journal.counters().get(self.name, {})
        self.items_total = sum(c.get("items", 0) for c in counts.values())
        self.accepted = {g: c.get("accepted", 0) for g, c in counts.items()}
        self.accepted_total = sum(self.accepted.values())
        self.rejected_total = sum(n for c in counts.values() for k, n in c.items()
                                  if k.startswith("rejected:"))
        self.writers = {k: ShardWriter(run_dir, k, journal, shard_size) for k in self.kinds}

    def count(self, group: str, key: str) -> None:
        """Bump a counter in the gathered commit (and the live totals)."""
        self.journal.bump(self.name, group, key)
        if key == "items":
            self.items_total += 1
        elif key == "accepted":
            self.accepted_total += 1
            self.accepted[group] = self.accepted.get(group, 0) + 1
        elif key.startswith("rejected:"):
            self.rejected_total += 1

    def reject(self, rec: RejectRecord) -> None:
        self.writers["rejects"].add(rec.model_dump(exclude_none=True))
        # surplus: a good one past the group's quota, kept in rejects but not counted as bad
        self.count(rec.group, "surplus" if rec.reason == "surplus" else f"rejected:{rec.reason}")

    async def start(self) -> None:
        """Start what the stage needs before the first request (a worker process)."""

    async def aclose(self) -> None:
        """Release what the stage started; output files are not touched."""

    async def prepare(self, result) -> object | None:
        return None

    def flush_needed(self) -> bool:
        return any(w.full for w in self.writers.values())

    def flush(self) -> None:
        for w in self.writers.values():
            w.flush()

    def finalize_full(self) -> None:
        for w in self.writers.values():
            if w.full:
                w.finalize()

    def finalize_all(self) -> None:
        for w in self.writers.values():
            w.finalize()


class Engine:
    def __init__(self, stage, journal: Journal, client: LLMClient,
                 max_output_retries: int, concurrency_limit: int, gate: BudgetGate | None = None,
                 on_commit: Callable[[ItemResult], None] | None = None,
                 on_response: Callable[[ChatResult], None] | None = None,
                 checkpoint: Callable[[], None] | None = None, progress_key: str | None = None):
        self.stage, self.journal, self.client, self.gate = stage, journal, client, gate
        self.missing: Callable[[WorkItem, int], RequestFailed] | None = None  # batch: why an answer is absent
        self.max_output_retries = max_output_retries
        self.window = 2 * max(256, 4 * concurrency_limit)  # launched but not committed
        self.burst = max(16, concurrency_limit)  # launched per turn: the first requests go out early
        self.on_commit, self.on_response, self.checkpoint = on_commit, on_response, checkpoint
        self.progress_key = progress_key or stage.name  # the stage's, or a top-up round's
        self.stats = EngineStats()
        self.stop_reason: str | None = None
        self.last_failure = ""
        self.fatal: BaseException | None = None
        self._tasks: dict[int, asyncio.Task] = {}
        self._durable: asyncio.Future | None = None
        self._may_replay = False
        self._gathered, self._last = 0, -1  # item commits held in memory, not yet written; the last's index
        self._left = COMMIT_SLICE

    def cancel_in_flight(self) -> None:
        """Ctrl-C: drop what is in flight (at most those requests are lost), keep the rest."""
        for t in list(self._tasks.values()):
            t.cancel()

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    async def _journaled(self, item: WorkItem, attempt: int, r: ChatResult) -> None:
        """Record the response and wait until it is committed (with the others of this turn)."""
        self.journal.record_response(
            item.id, attempt, self.stage.name, r.content, r.finish_reason, r.prompt_tokens,
            r.completion_tokens, r.usage_estimated, r.latency_s, r.model, r.endpoint)
        if self._durable is None:
            self._durable = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._group_commit, self._durable)
        await asyncio.shield(self._durable)

    def _group_commit(self, fut: asyncio.Future) -> None:
        self._durable = None
        try:
            self.journal.flush_responses()
        except BaseException as exc:  # a full disk: every waiting task learns it
            fut.set_exception(exc)
            return
        fut.set_result(None)

    def _before_send(self) -> None:
        """Before each attempt: once the run stops, the items queued for a slot or a retry send
        nothing more (each would spend its attempts on a server that is down), nor over budget."""
        if self.stop_reason is not None:
            raise asyncio.CancelledError()
        if self.gate is not None:
            self.gate.before_request()

    async def _ask(self, item: WorkItem, attempt: int, schema, schema_name, result: ItemResult):
        if self.stop_reason is not None:
            raise asyncio.CancelledError()
        try:
            if self.missing is not None:
                raise self.missing(item, attempt)
            r = await self.client.chat(
                item.messages, item.seed + attempt, schema, schema_name, urgent=attempt > 0,
                on_answer=lambda r: self._journaled(item, attempt, r), before_send=self._before_send)
        except RequestFailed as exc:
            if self.missing is None:
                self.journal.record_failure(item.id, attempt, "request_failed", str(exc))
            if not exc.permanent:
                raise StillFailing(str(exc)) from None
            result.error, result.detail = exc.reason, str(exc)
            return None
        if self.on_response:
            self.on_response(r)
        return r

    async def _process(self, item: WorkItem) -> ItemResult:
        """Ask (or replay), journal, parse; retry on a cut or unparseable answer."""
        stored = self.journal.responses_for(item.id) if self._may_replay else []
        schema, schema_name = self.stage.schema(item)
        result = ItemResult(item)
        for attempt in range(self.max_output_retries + 1):
            result.attempts = attempt + 1
            if attempt < len(stored):
                r = stored[attempt]
            else:
                r = await self._ask(item, attempt, schema, schema_name, result)
                if r is None:  # refused by the server as such: rejected
                    return result
            result.prompt_tokens += r.prompt_tokens
            result.completion_tokens += r.completion_tokens
            result.content = r.content
            if r.finish_reason == "length":
                result.error, result.detail = "truncated", "finish_reason=length"
                continue
            try:
                result.parsed = self.stage.parse(r.content or "")
            except ValueError as exc:  # a finish_reason other than stop (content_filter) says why
                why = "" if r.finish_reason in (None, "stop") else f" (finish_reason={r.finish_reason})"
                result.error, result.detail = "bad_json", str(exc)[:200] + why
                continue
            result.error, result.detail = None, ""
            result.pre = await self.stage.prepare(result)
            return result
        return result

    def _launch(self, it: Iterator[WorkItem], next_pos: int, commit_pos: int, queue) -> tuple[int, bool]:
        for _ in range(self.burst):
            if self.stop_reason is not None or next_pos - commit_pos >= self.window:
                return next_pos, False
            item = next(it, None)
            if item is None:
                return next_pos, True
            t = asyncio.ensure_future(self._process(item))
            t.add_done_callback(lambda task, pos=next_pos: queue.put_nowait((pos, task)))
            self._tasks[next_pos] = t
            next_pos += 1
        return next_pos, False

    def _outcome(self, task: asyncio.Task) -> ItemResult | None:
        """The task's result, or None after recording why the run must stop."""
        if task.cancelled():
            self.request_stop("cancelled")  # unless a reason was given first
            return None
        exc = task.exception()
        if exc is None:
            return task.result()
        if isinstance(exc, BudgetExhausted):
            self.request_stop(str(exc) or "budget")
        elif isinstance(exc, StillFailing):
            self.stats.failed += 1
            self.last_failure = str(exc)
            self.request_stop("request_failed")
        elif isinstance(exc, FatalLLMError):
            self.fatal = exc
            self.request_stop("fatal")
            self.cancel_in_flight()
        else:
            raise exc
        return None

    async def run(self, items: Iterable[WorkItem]) -> None:
        queue: asyncio.Queue = asyncio.Queue()
        ready: dict[int, ItemResult] = {}
        self._may_replay = self.journal.has_responses(self.stage.name)
        it = iter(items)
        next_pos = commit_pos = 0
        exhausted = False
        try:
            while True:
                if not exhausted:
                    next_pos, exhausted = self._launch(it, next_pos, commit_pos, queue)
                if not self._tasks:
                    break
                stopping = self.stop_reason is not None or exhausted
                if queue.empty() and not stopping and next_pos - commit_pos < self.window:
                    await asyncio.sleep(0)  # the requests just launched go out; then plan more
                    continue
                entries = [await self._next_answer(queue)]
                while not queue.empty():  # and every answer that landed meanwhile
                    entries.append(queue.get_nowait())
                for pos, task in entries:
                    self._tasks.pop(pos, None)
                    result = self._outcome(task)
                    if result is not None:
                        ready[pos] = result
                commit_pos = await self._commit_ready(ready, commit_pos)
        finally:
            self.cancel_in_flight()
            try:  # gathered commits are whole items, so they are written; after a failed write
                self._flush()  # nothing more is (the journal refuses it) and they are dropped
            finally:
                self.journal.flush_responses()

    async def _next_answer(self, queue: asyncio.Queue):
        """The next finished task; gathered commits are written if it takes FLUSH_IDLE_S."""
        if not queue.empty() or self._gathered == 0:
            return await queue.get()
        failed: list[BaseException] = []

        def flush() -> None:
            try:
                self._flush()
            except BaseException as exc:  # a full disk: raised in the engine, not in the loop
                failed.append(exc)

        timer = asyncio.get_running_loop().call_later(FLUSH_IDLE_S, flush)
        try:
            entry = await queue.get()
        finally:
            timer.cancel()
        if failed:
            raise failed[0]
        return entry

    async def _commit_ready(self, ready: dict[int, ItemResult], commit_pos: int) -> int:
        """Commit the contiguous prefix; the loop is given back every COMMIT_SLICE commits."""
        while commit_pos in ready:
            if self._gathered == 0:
                self.journal.hold()
            result = ready.pop(commit_pos)
            self.stage.commit(result)
            if result.error == "request_failed":
                self.stats.rejected_failed += 1
            if self.on_commit:
                self.on_commit(result)
            self._last = result.item.index
            self._gathered += 1
            commit_pos += 1
            if self._gathered >= COMMIT_EVERY or self.stage.flush_needed():
                self._flush()
            self._left -= 1
            if self._left <= 0:
                self._left = COMMIT_SLICE
                await asyncio.sleep(0)  # answers waiting on sockets are read, new requests sent
        return commit_pos

    def _flush(self) -> None:
        """Write the gathered commits in one transaction: outputs, offsets, counts, dedup state."""
        if self._gathered == 0:
            return
        self.journal.begin()
        try:
            self.journal.set_last_index(self.progress_key, self._last)
            self.stage.flush()
            self.journal.commit()
        except BaseException:  # a part the disk refused: drop these items (the rerun replays
            self._gathered = 0  # them), else the stop's last flush opens a second transaction
            self.journal.rollback()
            raise
        self._gathered = 0
        self.stage.finalize_full()
        if self.checkpoint:
            self.checkpoint()
