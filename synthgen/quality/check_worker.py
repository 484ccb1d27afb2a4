"""The order-free checks (precheck.py) in a spawned worker process, so the main process only sends
requests, journals and commits.

On 2 cores the stage takes about 0.75x the wall time of checking in-process (`python
bench/check_worker.py`) for ~105 MB of RSS in the worker, most of it the language model; its
~1 s start-up overlaps the first requests. The worker imports the checks alone: no SDK, no
pydantic (it is sent `validate.Rules`). The answers are the same wherever it runs; if the worker
dies, the pool checks in-process from then on (both tested).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import cached_property

from ..blas import one_blas_thread
from ..validate import Rules
from .precheck import Example, Precheck, Prechecker

_checker: Prechecker | None = None  # the worker's own, made once by _start_worker


def _exit_with(parent: int) -> None:
    """End the worker when its parent is gone: a SIGKILLed parent cannot shut the pool down, and
    the worker's own copy of its task queue's write end means it never reads an end of file."""
    while os.getppid() == parent:
        time.sleep(0.25)
    os._exit(0)


def _start_worker(cfg: Rules, parent: int) -> None:
    """Runs first in the worker: a watch on the parent, the checks set up, the model loaded."""
    global _checker
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    _checker = Prechecker(cfg)
    _checker.warm()
    gc.collect()
    gc.freeze()  # start-up's objects are never garbage: later collections skip them


def _check_in_worker(examples: list[Example]) -> list[Precheck]:
    assert _checker is not None
    return _checker.run(examples)


class PrecheckPool:
    """Prechecks in a worker process, batched: whatever arrives while a batch is out goes next.

    At most MAX_OUT batches are in the worker at a time, so batches grow with the load and the cost
    of crossing processes stays small. If the worker cannot start or dies, the pool checks
    in-process from then on (`broken` says why).
    """

    MAX_BATCH, MAX_OUT = 128, 2
    # While a batch is in the worker, the next one waits for this many examples: each batch has
    # fixed costs (pickling, a wake-up on each side). With nothing in flight, anything goes.
    MIN_BATCH = 64

    def __init__(self, cfg: Rules) -> None:
        self.cfg = cfg
        # (example, future, plan position): sent lowest position first, so the example the
        # ordered commit waits for is not queued behind later ones that happened to answer first
        self._pending: list[tuple[Example, asyncio.Future, int]] = []
        self._out = 0  # batches in the worker
        self._scheduled = False
        self.broken: str | None = None
        self._executor: ProcessPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker_pid: Future | None = None

    @cached_property
    def local(self) -> Prechecker:
        """The in-process checks, made the first time the worker cannot answer."""
        return Prechecker(self.cfg)

    @property
    def pid(self) -> int | None:
        """The worker's process id, once it has started."""
        done = self._worker_pid
        ok = done is not None and done.done() and not done.cancelled() and done.exception() is None
        return done.result() if ok else None

    async def start(self) -> None:
        """Start the worker now, so its start-up overlaps the first requests."""
        if self._executor is not None or self.broken is not None:
            return
        self._loop = asyncio.get_running_loop()
        one_blas_thread()  # inherited by the worker: numpy reads it once, when the model loads
        # the pool starts the resource tracker; after a kill -9 it unlinks the pool's semaphores, as
        # it should, and would warn of them as leaked on the user's terminal (unless asked to)
        os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning:multiprocessing.resource_tracker")
        try:
            self._executor = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(self.cfg, os.getpid()))
            # a terminal's Ctrl-C goes to the whole process group: the worker is born with it blocked
            # (after the pool started the resource tracker, which unblocks it), so this process stops
            # the run; in the worker it broke into the checks or printed a traceback
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                self._worker_pid = self._executor.submit(os.getpid)  # the worker is spawned at the first submit
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        except (OSError, RuntimeError) as exc:
            self.broken = f"could not start the check worker: {exc}"

    async def check(self, example: Example, position: int = 0) -> Precheck:
        await self.start()
        if self.broken is not None or self._executor is None:
            return self.local.run([example])[0]
        fut = self._loop.create_future()  # type: ignore[union-attr]
        self._pending.append((example, fut, position))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)  # type: ignore[union-attr]  # one batch per loop turn
        return await fut

    def _flush(self) -> None:
        self._scheduled = False
        if self._pending and self._out < self.MAX_OUT:
            self._pending.sort(key=lambda entry: entry[2])
        while self._pending and self._out < self.MAX_OUT:
            if self._out and len(self._pending) < self.MIN_BATCH:
                break  # the worker is busy: let the next batch grow; it goes when the worker is back
            batch = self._pending[: self.MAX_BATCH]
            del self._pending[: self.MAX_BATCH]
            try:  # pending only grows while the executor is up: check() and _give_up see to it
                sent = self._executor.submit(_check_in_worker, [e for e, _, _ in batch])  # type: ignore
            except (BrokenProcessPool, RuntimeError):
                self._give_up("the check worker exited")  # checks what is pending
                self._resolve_locally(batch)
                return
            self._out += 1
            # answered on the loop's thread; nothing happens if the loop has closed meanwhile
            done = asyncio.wrap_future(sent, loop=self._loop)
            done.add_done_callback(lambda f, b=batch: self._answered(b, f))

    def _answered(self, batch: list[tuple[Example, asyncio.Future, int]], done: asyncio.Future) -> None:
        self._out -= 1
        results = None
        try:
            if not done.cancelled():  # cancelled: the pool gave up on the worker and dropped what it held
                results = done.result()
        except BrokenProcessPool:
            self._give_up("the check worker exited")
        except Exception as exc:  # a check that fails in the worker fails here too, with its message
            self._give_up(f"the check worker failed: {type(exc).__name__}: {exc}")
        if results is None:
            self._resolve_locally(batch)
        else:
            for (_, fut, _), result in zip(batch, results):
                if not fut.done():
                    fut.set_result(result)
        if self._pending:
            self._flush()

    def _resolve_locally(self, batch: list[tuple[Example, asyncio.Future, int]]) -> None:
        live = [(e, fut) for e, fut, _ in batch if not fut.done()]
        if live:
            for (_, fut), result in zip(live, self.local.run([e for e, _ in live])):
                fut.set_result(result)

    def _give_up(self, why: str) -> None:
        """Check in-process from now on; what waits for the worker is checked here instead."""
        if self.broken is None:
            self.broken = why
        pending, self._pending = self._pending, []
        self._resolve_locally(pending)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """Stop the worker; batches still inside it are dropped (their items were not committed)."""
        for _, fut, _ in self._pending:
            fut.cancel()
        self._pending.clear()
        executor, self._executor = self._executor, None
        if executor is not None:
            # joining the worker blocks: done off the loop, which may still have answers to read
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
