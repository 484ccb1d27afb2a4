"""The ordered executor both stages share: many requests in flight, commits in plan order.

Responses arrive in any order; each is journaled the moment it arrives. Results are then
committed to the output files strictly in plan order, so dedup decisions (first wins) are the
same in every run and after every resume, and "what is committed" is one number per stage: the
plan index of the last committed item. The window of launched-but-uncommitted items is bounded,
so memory does not grow with the run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

from ..journal import Journal
from ..llm.client import ChatResult, FatalLLMError, LLMClient, RequestFailed
from ..plan import WorkItem


# Commits done per turn of the event loop, counted across the answers taken from the queue in
# that turn. A gap filled late can release hundreds of ready items at once, and 64 answers can
# land in one turn, each committing one item and planning the next; doing all that in one go
# (~0.4 ms an item) held every answer already on its socket, and the next request of every
# freed slot, for 20-80 ms.
COMMIT_SLICE = 8


class StillFailing(Exception):
    """A request failed for a transient reason after every retry: stop; a rerun asks again."""


class BudgetExhausted(Exception):
    """A --max-cost or --max-requests budget was reached: stop launching, keep what we have."""


@dataclass
class ItemResult:
    item: WorkItem
    responses: list[ChatResult | None]  # None where the response was replayed from the journal
    content: str | None
    finish_reason: str | None
    parsed: object | None
    error: str | None  # reason code when nothing usable came back
    detail: str = ""
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    replayed: int = 0
    pre: object | None = None  # the stage's order-free checks, done as the response arrived


class Stage(Protocol):
    name: str

    def schema(self, item: WorkItem) -> tuple[dict | None, str]: ...

    def parse(self, content: str) -> object: ...

    def commit(self, result: ItemResult) -> None: ...

    def flush_needed(self) -> bool: ...  # a part reached shard_size: flush now for exact sizes

    def flush(self) -> bool: ...  # write pending lines, stage offsets; True if a part is full

    def finalize_full(self) -> None: ...

    def finalize_all(self) -> None: ...


class Gate(Protocol):
    def before_request(self) -> None: ...  # raises BudgetExhausted


@dataclass
class EngineStats:
    launched: int = 0
    committed: int = 0
    requests: int = 0
    replayed: int = 0
    failed: int = 0  # transient failures left uncommitted (a rerun retries them)
    rejected_failed: int = 0  # requests the server refused as such (HTTP 400): rejected
    in_flight: int = 0


class Engine:
    def __init__(self, stage: Stage, journal: Journal, client: LLMClient | None,
                 max_output_retries: int, concurrency_limit: int, gate: Gate | None = None,
                 on_commit: Callable[[ItemResult], None] | None = None,
                 on_response: Callable[[ChatResult], None] | None = None,
                 checkpoint: Callable[[], None] | None = None, commit_every: int = 64,
                 progress_key: str | None = None):
        self.stage, self.journal, self.client = stage, journal, client
        self.max_output_retries = max_output_retries
        # launched but not yet committed: bounds memory. A stage that checks answers elsewhere
        # (prepare) holds more, so a slow-starting checker does not stall the requests.
        self._prepare = getattr(stage, "prepare", None)
        self.window = max(256, 4 * concurrency_limit) * (2 if self._prepare is not None else 1)
        # launched per turn of the loop: the first requests go out after `burst` items are
        # planned, not after a whole window (512 items of planning: ~0.2 s before the first send)
        self.burst = max(16, concurrency_limit)
        self.gate = gate
        self.on_commit, self.on_response, self.checkpoint = on_commit, on_response, checkpoint
        self.commit_every = commit_every
        # where the commit point is kept: the stage name, or one per stage-1 top-up round
        self.progress_key = progress_key or stage.name
        self.stats = EngineStats()
        self.stop_reason: str | None = None
        self.last_failure = ""
        self.fatal: BaseException | None = None
        self._stopping = False

    def cancel_in_flight(self) -> None:
        """Ctrl-C: drop what is in flight (at most those requests are lost), keep the rest."""
        for t in list(getattr(self, "_tasks", {}).values()):
            t.cancel()

    def request_stop(self, reason: str) -> None:
        if not self._stopping:
            self._stopping = True
            self.stop_reason = reason

    async def _process(self, item: WorkItem) -> ItemResult:
        # a fresh stage has nothing to replay: skip the look-up (one query per item saved)
        stored = self.journal.responses_for(item.id) if self._may_replay else []
        schema, schema_name = self.stage.schema(item)
        responses: list[ChatResult | None] = []
        result = ItemResult(item, responses, None, None, None, None)
        attempt = 0
        while True:
            if attempt < len(stored):
                s = stored[attempt]
                content, finish = s.content, s.finish_reason
                result.prompt_tokens += s.prompt_tokens
                result.completion_tokens += s.completion_tokens
                result.replayed += 1
                responses.append(None)
            else:
                if self._stopping:
                    raise asyncio.CancelledError()
                assert self.client is not None
                self.stats.requests += 1
                try:
                    r = await self.client.chat(item.messages, item.seed + attempt, schema, schema_name,
                                               urgent=attempt > 0,
                                               before_send=self.gate.before_request if self.gate else None)
                except RequestFailed as exc:
                    self.journal.record_failure(item.id, attempt, "request_failed", str(exc))
                    if not exc.permanent:
                        raise StillFailing(str(exc)) from None
                    result.error, result.detail = "request_failed", str(exc)
                    result.attempts = attempt + 1
                    return result
                self.journal.record_response(
                    item.id, attempt, self.stage.name, r.content, r.finish_reason, r.prompt_tokens,
                    r.completion_tokens, r.usage_estimated, r.latency_s, r.model, r.endpoint)
                if self.on_response:
                    self.on_response(r)
                content, finish = r.content, r.finish_reason
                result.prompt_tokens += r.prompt_tokens
                result.completion_tokens += r.completion_tokens
                responses.append(r)
            result.attempts = attempt + 1
            result.content, result.finish_reason = content, finish
            if finish == "length":
                result.error, result.detail = "truncated", "finish_reason=length"
            else:
                try:
                    result.parsed = self.stage.parse(content or "")
                    result.error, result.detail = None, ""
                    if self._prepare is not None:
                        result.pre = await self._prepare(result)
                    return result
                except ValueError as exc:
                    result.error, result.detail = "bad_json", str(exc)[:200]
            if attempt >= self.max_output_retries:
                return result
            attempt += 1

    async def run(self, items: Iterable[WorkItem]) -> EngineStats:
        queue: asyncio.Queue = asyncio.Queue()
        ready: dict[int, ItemResult] = {}
        tasks: dict[int, asyncio.Task] = {}
        self._tasks = tasks
        self._may_replay = self.journal.has_responses(self.stage.name)
        last_committed: int | None = None
        it = iter(items)
        next_pos = 0  # next position to launch
        commit_pos = 0  # next position to commit
        exhausted = False
        since_flush = 0
        left = COMMIT_SLICE  # commits left before this turn of the loop gives way

        def done_cb(pos: int):
            def cb(task: asyncio.Task) -> None:
                queue.put_nowait((pos, task))
            return cb

        try:
            while True:
                burst = self.burst
                while not self._stopping and not exhausted and next_pos - commit_pos < self.window and burst:
                    burst -= 1
                    try:
                        item = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    t = asyncio.ensure_future(self._process(item))
                    t.add_done_callback(done_cb(next_pos))
                    tasks[next_pos] = t
                    next_pos += 1
                    self.stats.launched += 1
                self.stats.in_flight = len(tasks)
                if not tasks:
                    break
                if queue.empty() and not self._stopping and not exhausted and next_pos - commit_pos < self.window:
                    await asyncio.sleep(0)  # the requests just launched go out; then plan more
                    continue
                if queue.empty():  # about to wait: put the responses received so far on disk
                    self.journal.flush_responses()
                    left = COMMIT_SLICE
                pos, task = await queue.get()
                tasks.pop(pos, None)
                if task.cancelled():
                    self.request_stop(self.stop_reason or "cancelled")
                    continue
                exc = task.exception()
                if isinstance(exc, BudgetExhausted):
                    self.request_stop(str(exc) or "budget")
                    continue
                if isinstance(exc, StillFailing):
                    self.stats.failed += 1
                    self.last_failure = str(exc)
                    self.request_stop("request_failed")
                    continue
                if exc is not None:
                    if isinstance(exc, FatalLLMError):
                        self.fatal = exc
                        self.request_stop("fatal")
                        for t in tasks.values():
                            t.cancel()
                        continue
                    raise exc
                ready[pos] = task.result()
                # commit the contiguous prefix; nothing past a gap may be committed
                while commit_pos in ready:
                    if since_flush == 0:
                        self.journal.begin()
                    result = ready.pop(commit_pos)
                    self.stage.commit(result)
                    last_committed = result.item.index
                    commit_pos += 1
                    since_flush += 1
                    self.stats.committed += 1
                    self.stats.replayed += result.replayed
                    if result.error == "request_failed":
                        self.stats.rejected_failed += 1
                    if self.on_commit:
                        self.on_commit(result)
                    if since_flush >= self.commit_every or self.stage.flush_needed():
                        self._flush(last_committed)
                        since_flush = 0
                    left -= 1
                    if not left:  # answers waiting on sockets are read, and new requests sent
                        await asyncio.sleep(0)
                        left = COMMIT_SLICE
                if since_flush and (queue.empty() or since_flush >= self.commit_every):
                    self._flush(last_committed)
                    since_flush = 0
        except BaseException:
            for t in tasks.values():
                t.cancel()
            if since_flush:
                self._flush(last_committed)
            self.journal.flush_responses()
            raise
        if since_flush:
            self._flush(last_committed)
        self.journal.flush_responses()
        return self.stats

    def _flush(self, last_committed: int | None) -> None:
        if last_committed is not None:
            self.journal.set_last_index(self.progress_key, last_committed)
        full = self.stage.flush()
        self.journal.commit()
        if full:
            self.stage.finalize_full()
        if self.checkpoint:
            self.checkpoint()
