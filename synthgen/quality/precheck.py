"""The order-free half of the quality checks, done as responses arrive, optionally in a worker.

Judging an example has two halves. Validation, language identity, the exact-dedup hash and the
MinHash signature depend on the example alone; looking those up against earlier examples (first
wins, in plan order) depends on everything committed before it. `precheck_batch` is the first
half for many examples at once (the language model classifies a batch in one vectorised pass);
`QualityGate.check_example` does the second half at commit time, in plan order.

At 64 requests in flight the first half is about half of the client's CPU, so `PrecheckPool`
runs it in a separate process (spawned, so no fork of a threaded parent) and the main process
only sends requests, journals and commits. The answers are the same wherever it runs: the same
function, the same inputs (tested by running a pipeline both ways). If the worker dies, the pool
falls back to checking in-process and the run goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from ..config import ValidationConfig
from ..taxonomy import GROUPS
from ..validate import DEDUP_FIELDS, Finding, apply_policy, validate_example
from .textnorm import normalize

# what one example is checked on: (group, parsed object, placeholders)
Example = tuple[str, dict, dict]


def text_hash(text: str) -> int:
    """64-bit signed hash of the normalised text (SQLite integers are signed)."""
    digest = hashlib.blake2b(normalize(text).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def language_fields(group: str, placeholders: dict[str, str]) -> list[tuple[str, str]]:
    """(field, expected language) pairs: what each text was asked to be written in."""
    if group == "bitext":
        return [("S1", placeholders["src_lang"]), ("S2", placeholders["tgt_lang"]), ("S3", placeholders["tgt_lang"])]
    lang = placeholders.get("language")
    if not lang:
        return []
    if group == "long-short":  # the prompt fixes the language of input_text only
        return [("input_text", lang)]
    return [(k, lang) for k in GROUPS[group].output_keys]


@dataclass
class Precheck:
    """What an example earned on its own; dedup against earlier examples is still to come."""

    finding: Finding | None
    flags: list[str] = field(default_factory=list)
    langid: str = "ok"  # "ok" | "unchecked" (some text could not be judged) | "off"
    hashes: list[tuple[str, str, int]] = field(default_factory=list)  # (field, namespace, exact hash)
    near: list[tuple[str, str, bytes, list[int]]] = field(default_factory=list)  # (field, ns, sig, bands)


class Prechecker:
    """Runs the order-free checks under one validation config."""

    def __init__(self, cfg: ValidationConfig) -> None:
        self.cfg = cfg
        self.lang_on = cfg.policy("wrong_language") != "off"
        self.near_on = cfg.policy("near_duplicate") != "off"
        self._lang = None
        self._hasher = None
        if self.near_on:
            from .neardup import NearDupIndex

            # an empty index lends its hashing (signature, band hashes); DiskNearDup uses the same
            self._hasher = NearDupIndex(threshold=cfg.near_duplicate_threshold)

    @property
    def lang(self):
        if self._lang is None:
            from .langid import LanguageChecker

            self._lang = LanguageChecker()
        return self._lang

    def warm(self) -> None:
        """Load the language model now rather than at the first check."""
        if self.lang_on:
            from .langid import _load_model

            _load_model()

    def run(self, examples: list[Example]) -> list[Precheck]:
        out: list[Precheck] = []
        for group, obj, placeholders in examples:
            finding, flags = validate_example(group, obj, placeholders, self.cfg)
            out.append(Precheck(finding, flags))
        if self.lang_on:
            self._languages(examples, out)
        else:
            for p in out:
                if p.finding is None:
                    p.langid = "off"
        for (group, obj, _), p in zip(examples, out):
            if p.finding is None:
                p.hashes = [(f, ns, text_hash(obj[f])) for f, ns in DEDUP_FIELDS[group]]
                if self._hasher is not None:
                    p.near = [(f, ns, *self._near_key(obj[f])) for f, ns in DEDUP_FIELDS[group]]
        return out

    def _near_key(self, text: str) -> tuple[bytes, list[int]]:
        import numpy as np

        idx = self._hasher
        sig = idx.signature(text)
        bands = idx._band_hashes(idx._parse(sig)).astype(np.int64).tolist()  # SQLite integers are signed
        return sig, bands

    def _languages(self, examples: list[Example], out: list[Precheck]) -> None:
        """One batched language pass over every text of every example still standing."""
        pairs, owners = [], []
        for n, ((group, obj, placeholders), p) in enumerate(zip(examples, out)):
            if p.finding is None:
                for key, expected in language_fields(group, placeholders):
                    pairs.append((obj[key], expected))
                    owners.append((n, key, expected))
        answers = self.lang.check_many(pairs) if pairs else []
        done: set[int] = set()
        found: dict[int, list[Finding]] = {}
        for (n, key, expected), (verdict, detected) in zip(owners, answers):
            if n in done:  # the first mismatching text decides, as a text-by-text check would
                continue
            if verdict == "unchecked":
                out[n].langid = "unchecked"
            elif verdict == "mismatch":
                seen = detected or "another language"
                found[n] = [Finding("wrong_language", f"'{key}' is in {seen}, not {expected}", key)]
                done.add(n)
        for n, findings in found.items():
            finding, more = apply_policy(findings, self.cfg)
            out[n].flags += more
            out[n].finding = finding


# -- the worker process ----------------------------------------------------------------------

_worker: Prechecker | None = None


def _init_worker(cfg_json: str, parent: int) -> None:
    global _worker
    _watch_parent(parent)
    _worker = Prechecker(ValidationConfig.model_validate_json(cfg_json))
    _worker.warm()


def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone: a killed `synthgen` (kill -9, OOM) leaves no worker behind."""
    import os
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _run_in_worker(examples: list[Example]) -> list[Precheck]:
    assert _worker is not None
    return _worker.run(examples)


class PrecheckPool:
    """Prechecks in a worker process, batched: whatever arrives while a batch is out goes next.

    `await pool.check(example)` from any task; at most two batches are in the worker at a time,
    so batches grow with the load and the per-batch cost of crossing processes stays small.
    """

    MAX_BATCH = 256
    MAX_OUT = 2

    def __init__(self, cfg: ValidationConfig) -> None:
        self.cfg = cfg
        self._local: Prechecker | None = None
        self._pending: list[tuple[Example, asyncio.Future]] = []
        self._out = 0
        self._scheduled = False
        self.broken: str | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    def start(self) -> None:
        """Start the worker (imports, language model: about a second) if it is not running."""
        if self._pool is None and not self._closed and self.broken is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_worker,
                                             initargs=(self.cfg.model_dump_json(), os.getpid()))
            self._pool.submit(_run_in_worker, [])

    def local(self) -> Prechecker:
        if self._local is None:
            self._local = Prechecker(self.cfg)
        return self._local

    async def check(self, example: Example) -> Precheck:
        self.start()
        if self._pool is None:
            return self.local().run([example])[0]
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending.append((example, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # everything that arrives in this loop turn goes together
        return await fut

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending and self._out < self.MAX_OUT:
            batch = self._pending[: self.MAX_BATCH]
            del self._pending[: self.MAX_BATCH]
            if self._pool is None:
                self._resolve_locally(batch)
                continue
            try:
                cf = self._pool.submit(_run_in_worker, [e for e, _ in batch])
            except Exception as exc:  # the pool broke (worker killed): check here from now on
                self._give_up(exc)
                self._resolve_locally(batch)
                continue
            self._out += 1
            asyncio.wrap_future(cf).add_done_callback(lambda f, b=batch: self._done(f, b))

    def _done(self, f: asyncio.Future, batch: list[tuple[Example, asyncio.Future]]) -> None:
        self._out -= 1
        if f.cancelled() or f.exception() is not None:
            self._give_up(f.exception() if not f.cancelled() else None)
            self._resolve_locally(batch)
        else:
            for (_, fut), result in zip(batch, f.result()):
                if not fut.done():
                    fut.set_result(result)
        if self._pending:
            self._flush()

    def _resolve_locally(self, batch: list[tuple[Example, asyncio.Future]]) -> None:
        live = [(e, fut) for e, fut in batch if not fut.done()]
        if live:
            for (_, fut), result in zip(live, self.local().run([e for e, _ in live])):
                fut.set_result(result)

    def _give_up(self, exc: BaseException | None) -> None:
        if self._pool is not None:
            self.broken = f"{type(exc).__name__}: {exc}" if exc else "cancelled"
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for _, fut in self._pending:
            fut.cancel()
        self._pending.clear()
