"""The order-free half of the quality checks, done as responses arrive, optionally in a worker.

Judging an example has two halves. Validation, language identity, the exact-dedup hash and the
MinHash signature depend on the example alone; looking those up against earlier examples (first
wins, in plan order) depends on everything committed before it. `precheck_batch` is the first
half for many examples at once (the language model classifies a batch in one vectorised pass);
`QualityGate.check_example` does the second half at commit time, in plan order.

At 64 requests in flight the first half was about half of the client's CPU, so `PrecheckPool`
runs it in a separate process (a fresh interpreter, not a fork of the threaded parent) and the
main process only sends requests, journals and commits. The answers are the same wherever it
runs: the same function, the same inputs (tested by running a pipeline both ways). If the worker
dies, the pool checks in-process from then on and the run goes on (tested with kill -9).
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from dataclasses import dataclass, field

from ..blas import one_blas_thread
from ..config import ValidationConfig
from ..taxonomy import GROUPS
from ..validate import DEDUP_FIELDS, Finding, apply_policy, validate_example
from .textnorm import normalize

# what one example is checked on: (group, parsed object, placeholders)
Example = tuple[str, dict, dict]


def text_hash(text: str) -> int:
    """64-bit signed hash of the normalised text (SQLite integers are signed)."""
    return normalized_hash(normalize(text))


def normalized_hash(normalized: str) -> int:
    """text_hash for a text already passed through normalize()."""
    digest = hashlib.blake2b(normalized.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def language_fields(group: str, placeholders: dict[str, str]) -> list[tuple[str, str]]:
    """(field, expected language) pairs: what each text was asked to be written in."""
    return GROUPS[group].language_fields(placeholders)


@dataclass
class Precheck:
    """What an example earned on its own; dedup against earlier examples is still to come."""

    finding: Finding | None
    flags: list[str] = field(default_factory=list)
    langid: str = "ok"  # "ok" | "unchecked" (some text could not be judged) | "off"
    hashes: list[tuple[str, str, int]] = field(default_factory=list)  # (field, namespace, exact hash)
    # (field, ns, sig, band keys, their filter slots): lsh_store.prepared_many
    near: list[tuple[str, str, bytes, list[int], tuple[list[int], list[int]]]] = field(default_factory=list)


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
        normalized: list[dict[str, str]] = []  # each text normalised once, for every check below
        for group, obj, placeholders in examples:
            norm = {k: normalize(v) for k, v in obj.items() if isinstance(v, str)}
            finding, flags = validate_example(group, obj, placeholders, self.cfg, norm)
            out.append(Precheck(finding, flags))
            normalized.append(norm)
        if self.lang_on:
            self._languages(examples, out)
        else:
            for p in out:
                if p.finding is None:
                    p.langid = "off"
        near: list[tuple[int, str, str]] = []  # (example, field, namespace) to sign
        for n, ((group, obj, _), p, norm) in enumerate(zip(examples, out, normalized)):
            if p.finding is None:
                p.hashes = [(f, ns, normalized_hash(norm[f])) for f, ns in DEDUP_FIELDS[group]]
                near += [(n, f, ns) for f, ns in DEDUP_FIELDS[group]]
        if self._hasher is not None and near:
            from .lsh_store import prepared_many

            sigs, hashes = self._hasher.signatures_normalized([normalized[n][f] for n, f, _ in near])
            prepared = prepared_many([ns for _, _, ns in near], hashes)
            for (n, f, ns), sig, (keys, slots) in zip(near, sigs, prepared):
                out[n].near.append((f, ns, sig, keys, slots))
        return out

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
#
# A plain child process (`_worker_main`) talking over its stdin/stdout:
# frames of a 4-byte length and a pickle. No multiprocessing machinery: no resource tracker
# process, no feeder threads in the parent competing for the GIL. The child exits when its stdin
# closes, so a killed parent (kill -9, OOM) leaves nothing behind.

_FRAME = struct.Struct("<I")


def _worker_main() -> None:
    import os
    import pickle
    import signal
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # frames go to a private copy of stdout; fd 1 itself becomes stderr, so a library that
    # prints cannot corrupt the protocol
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    checker = Prechecker(ValidationConfig.model_validate_json(sys.argv[1]))
    checker.warm()
    import gc

    gc.collect()
    gc.freeze()  # start-up's objects are never garbage: later collections skip them
    while True:
        head = stdin.read(_FRAME.size)
        if len(head) < _FRAME.size:
            # the parent closed the pipe or is gone. Nothing here needs flushing or cleaning up,
            # and a normal interpreter exit (module teardown, numpy, the mapped model) took
            # ~130 ms that the parent's stage spent waiting
            stdout.close()
            os._exit(0)
        examples = pickle.loads(stdin.read(_FRAME.unpack(head)[0]))
        try:
            reply = ("ok", checker.run(examples))
        except Exception as exc:  # reported to the parent, which checks in-process from then on
            reply = ("error", f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(_FRAME.pack(len(data)) + data)
        stdout.flush()


def _position(entry: tuple[Example, asyncio.Future, int]) -> int:
    return entry[2]


class PrecheckPool:
    """Prechecks in a worker process, batched: whatever arrives while a batch is out goes next.

    `await pool.check(example)` from any task; at most two batches are in the worker at a time,
    so batches grow with the load and the per-batch cost of crossing processes stays small. If
    the worker cannot start or dies, the pool checks in-process from then on (`broken` says why).
    """

    MAX_BATCH = 128
    MAX_OUT = 2
    # While a batch is in the worker, the next one waits for this many examples. Each batch has
    # fixed costs in the worker (the vectorised language walk steps through 256 byte positions
    # whatever the batch size, a pickle, a wake-up); batches of ~20 paid them ~100 times a
    # 2000-item run. The worker is never idle for it: with nothing in flight, anything goes.
    MIN_BATCH = 64

    def __init__(self, cfg: ValidationConfig) -> None:
        self.cfg = cfg
        self._local: Prechecker | None = None
        # (example, future, plan position): sent lowest position first, so the example the
        # ordered commit waits for is not queued behind later ones that happened to answer first
        self._pending: list[tuple[Example, asyncio.Future, int]] = []
        self._sent: list[list[tuple[Example, asyncio.Future, int]]] = []  # batches in the worker, in order
        self._scheduled = False
        self.broken: str | None = None
        self._proc: subprocess.Popen | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._stdout: asyncio.StreamReader | None = None
        self._reader: asyncio.Task | None = None
        self._starting: asyncio.Task | None = None
        self._closed = False

    def local(self) -> Prechecker:
        if self._local is None:
            self._local = Prechecker(self.cfg)
        return self._local

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        """Start the worker (imports, language model: well under a second once cached)."""
        if self._proc is not None or self._closed or self.broken is not None:
            return
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._spawn())
        await asyncio.shield(self._starting)

    async def _spawn(self) -> None:
        key = self.cfg.model_dump_json()
        proc = _PRESPAWNED.pop(key, None)
        try:
            if proc is None or proc.poll() is not None:
                proc = _popen(key)
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader(limit=1 << 24)
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), proc.stdout)
            self._stdin, _ = await loop.connect_write_pipe(asyncio.Protocol, proc.stdin)
        except OSError as exc:
            self.broken = f"could not start the check worker: {exc}"
            if proc is not None and proc.poll() is None:
                proc.kill()
            return
        self._proc, self._stdout = proc, reader
        self._reader = asyncio.ensure_future(self._read())

    async def check(self, example: Example, position: int = 0) -> Precheck:
        await self.start()
        if self._proc is None or self.broken is not None:
            return self.local().run([example])[0]
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending.append((example, fut, position))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # everything that arrives in this loop turn goes together
        return await fut

    def _flush(self) -> None:
        import pickle

        self._scheduled = False
        if self._pending and len(self._sent) < self.MAX_OUT:
            self._pending.sort(key=_position)
        while self._pending and len(self._sent) < self.MAX_OUT:
            if self._sent and len(self._pending) < self.MIN_BATCH:
                break  # the worker is busy: let the next batch grow; it goes when the worker is back
            batch = self._pending[: self.MAX_BATCH]
            del self._pending[: self.MAX_BATCH]
            if self.broken is not None or self._stdin is None:
                self._resolve_locally(batch)
                continue
            if self._stdin.is_closing():
                self._give_up("the check worker stopped")
                self._resolve_locally(batch)
                continue
            data = pickle.dumps([e for e, _, _ in batch], protocol=pickle.HIGHEST_PROTOCOL)
            try:
                self._stdin.write(_FRAME.pack(len(data)) + data)
            except (OSError, RuntimeError) as exc:
                self._give_up(f"the check worker stopped: {exc}")
                self._resolve_locally(batch)
                continue
            self._sent.append(batch)

    async def _read(self) -> None:
        import pickle

        out = self._stdout
        assert out is not None
        try:
            while True:
                head = await out.readexactly(_FRAME.size)
                status, payload = pickle.loads(await out.readexactly(_FRAME.unpack(head)[0]))
                batch = self._sent.pop(0)
                if status != "ok":
                    self._give_up(f"the check worker failed: {payload}")
                    self._resolve_locally(batch)
                    return
                for (_, fut, _), result in zip(batch, payload):
                    if not fut.done():
                        fut.set_result(result)
                if self._pending:
                    self._flush()
        except asyncio.CancelledError:
            return
        except Exception as exc:  # exited, killed, or sent something that is not a frame
            if not self._closed:
                self._give_up(f"the check worker exited ({type(exc).__name__})")

    def _resolve_locally(self, batch: list[tuple[Example, asyncio.Future, int]]) -> None:
        live = [(e, fut) for e, fut, _ in batch if not fut.done()]
        if live:
            for (_, fut), result in zip(live, self.local().run([e for e, _ in live])):
                fut.set_result(result)

    def _give_up(self, why: str) -> None:
        """Check in-process from now on; what the worker held is checked here instead."""
        if self.broken is None:
            self.broken = why
        sent, self._sent = self._sent, []
        for batch in sent:
            self._resolve_locally(batch)
        pending, self._pending = self._pending, []
        self._resolve_locally(pending)
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.kill()
            except ProcessLookupError:
                pass

    async def aclose(self) -> None:
        """Stop the worker: its stdin closes, it exits; killed if it has not within 5 s."""
        self._closed = True
        if self._starting is not None and not self._starting.done():
            await asyncio.shield(self._starting)
        for _, fut, _ in self._pending:
            fut.cancel()
        self._pending.clear()
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if self._stdin is not None:
            self._stdin.close()  # EOF: the worker exits
        deadline = time.monotonic() + 5.0
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                break
            await asyncio.sleep(0.005)
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except BaseException:
                pass
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass


_PRESPAWNED: dict[str, subprocess.Popen] = {}  # started early, not yet claimed by a pool


def _popen(cfg_json: str) -> subprocess.Popen:
    # run from the directory this synthgen was imported from: `python -c` puts the working
    # directory first on sys.path, and the user's may hold another `synthgen`
    home = Path(__file__).resolve().parent.parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-c", "from synthgen.quality.precheck import _worker_main; _worker_main()", cfg_json],
        cwd=str(home), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
        env=one_blas_thread(dict(os.environ)))
    _widen_pipes(proc)
    return proc


def _widen_pipes(proc: subprocess.Popen) -> None:
    """A batch (~400 KB) crosses in one write instead of seven 64 KB rounds of wake-ups.

    Linux only, and up to the system's pipe-max-size (1 MB by default); elsewhere, or if the
    system says no, the pipes keep their size and work as before."""
    import fcntl

    size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if size is None:
        return
    for pipe in (proc.stdin, proc.stdout):
        try:
            fcntl.fcntl(pipe.fileno(), size, 1 << 20)
        except OSError:
            pass


def prespawn(cfg: ValidationConfig) -> None:
    """Start a check worker now, for a PrecheckPool of this config to claim later.

    Called while the command is still importing its way up (~1-2 s): the worker's own start
    (an interpreter, numpy, the language model) then overlaps ours instead of holding up the
    first commits. A worker nobody claims exits with this process (EOF on its stdin)."""
    key = cfg.model_dump_json()
    if key in _PRESPAWNED:
        return
    try:
        _PRESPAWNED[key] = _popen(key)
    except OSError:
        return  # the pool will try again, and fall back in-process if it cannot
    if len(_PRESPAWNED) == 1:
        atexit.register(_release_prespawned)


def _release_prespawned() -> None:
    for proc in _PRESPAWNED.values():
        try:
            proc.stdin.close()  # type: ignore[union-attr]
            proc.stdout.close()  # type: ignore[union-attr]
        except OSError:
            pass
    _PRESPAWNED.clear()
