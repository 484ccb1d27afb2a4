"""The run's durable state: one SQLite file, <run>/journal/state.sqlite (WAL mode).

SQLite gives atomic multi-row commits that survive SIGKILL, constant memory however long the
run, and indexed look-ups for resume. Every paid response is committed as it arrives, before it
counts for anything; output files are derived from this state (synthgen.shards). After a failed
commit (a full disk) no more writes are taken: the caller's memory is ahead of the journal.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter, namedtuple
from pathlib import Path
from typing import Iterator

from .errors import StorageError
from .integrity import check_journal, damaged, is_disk_fault, refuse_fresh_start, storage_error

# responses: appended in arrival order (only the key index takes random inserts); the usage index
# covers the totals the manifest reads every couple of seconds. seen: exact-dedup hashes; neardup,
# bands: MinHash signatures, LSH band keys; writers, chunks, parts: each output part's state.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS responses (
  item_id TEXT NOT NULL, attempt INTEGER NOT NULL, stage TEXT NOT NULL,
  content TEXT, finish_reason TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,
  usage_estimated INTEGER NOT NULL DEFAULT 0, latency_s REAL, model TEXT, endpoint TEXT,
  created REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS responses_key ON responses (item_id, attempt);
DROP INDEX IF EXISTS responses_usage;
CREATE INDEX IF NOT EXISTS responses_usage_road
  ON responses (stage, model, endpoint, prompt_tokens, completion_tokens, usage_estimated);
CREATE TABLE IF NOT EXISTS failures (
  item_id TEXT NOT NULL, attempt INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT,
  created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS progress (stage TEXT PRIMARY KEY, last_index INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seen (
  ns TEXT NOT NULL, h INTEGER NOT NULL, item_id TEXT NOT NULL, PRIMARY KEY (ns, h)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
  stage TEXT NOT NULL, grp TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (stage, grp, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS neardup (
  seq INTEGER PRIMARY KEY, ns TEXT NOT NULL, key TEXT NOT NULL, sig BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS bands (k INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (k, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS writers (
  kind TEXT PRIMARY KEY, part INTEGER NOT NULL, offset INTEGER NOT NULL, records INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
  kind TEXT NOT NULL, part INTEGER NOT NULL, offset INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (kind, part, offset)
);
CREATE TABLE IF NOT EXISTS parts (
  kind TEXT NOT NULL, part INTEGER NOT NULL, records INTEGER NOT NULL, bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL, PRIMARY KEY (kind, part)
);
"""

StoredResponse = namedtuple("StoredResponse", "attempt content finish_reason prompt_tokens completion_tokens")


class Journal:
    def __init__(self, run_dir: Path):
        path = Path(run_dir) / "journal" / "state.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._failed: StorageError | None = None
        if not path.exists() or path.stat().st_size == 0:
            refuse_fresh_start(Path(run_dir), path)  # before connecting makes an empty file
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            fresh = self.db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
            if fresh:  # a new journal, or one killed as it was made
                refuse_fresh_start(Path(run_dir), path)
            else:
                check_journal(self.db, path)
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives a killed process; only a power cut can lose
            # the last commits, and those are re-requested
            self.db.execute("PRAGMA synchronous=NORMAL")
            # checkpoints are the Checkpointer's; 16k pages (64 MB) is a backstop
            self.db.execute("PRAGMA wal_autocheckpoint=16000")
            self.db.execute(f"PRAGMA journal_size_limit={64 << 20}")
            # a new journal's schema and its 'journal' row (every journal has one) arrive together
            self.db.executescript("BEGIN;" + _SCHEMA + "INSERT INTO meta VALUES ('journal', '1'); COMMIT;"
                                  if fresh else _SCHEMA)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) in (5, 6):  # busy or locked: not damage
                raise
            raise (storage_error(exc, path) if is_disk_fault(exc) else damaged(path, str(exc))) from None
        self._pending_counts: Counter[tuple[str, str, str]] = Counter()
        self._responses: list[tuple] = []
        self._held = False
        self._claims: dict[tuple[str, int], str] = {}  # (ns, hash) -> item id, not yet written
        self._near: list[tuple[str, str, bytes, list[int]]] = []  # (ns, key, sig, bands), not yet written
        self._near_by_band: dict[int, list[int]] = {}  # band key -> positions in _near
        self._checkpointer: _Checkpointer | None = None

    def close(self) -> None:
        self.rollback()  # what was not committed does not count
        self.flush_responses()  # but every paid response is kept
        if self._checkpointer is not None:
            self._checkpointer.stop()  # before the last close, which checkpoints and drops the WAL
            self._checkpointer = None
        self.db.close()

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def record_response(self, item_id: str, attempt: int, stage: str, content: str | None,
                        finish_reason: str | None, prompt_tokens: int, completion_tokens: int,
                        usage_estimated: bool, latency_s: float, model: str | None,
                        endpoint: str | None) -> None:
        """Queue one paid response for `flush_responses` (the engine's group commit, once per turn
        of the event loop, before any is checked)."""
        self._responses.append((item_id, attempt, stage, content, finish_reason, prompt_tokens,
                                completion_tokens, int(usage_estimated), latency_s, model, endpoint, time.time()))

    def flush_responses(self) -> None:
        if not self._responses:
            return
        rows, self._responses = self._responses, []
        sql = "INSERT OR REPLACE INTO responses VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
        if self.db.in_transaction:
            self.db.executemany(sql, rows)
            return
        self.db.execute("BEGIN IMMEDIATE")
        with self.db:  # COMMIT, or ROLLBACK on an error
            self.db.executemany(sql, rows)

    def record_failure(self, item_id: str, attempt: int, kind: str, message: str) -> None:
        self.db.execute("INSERT INTO failures VALUES (?,?,?,?,?)",
                        (item_id, attempt, kind, message[:500], time.time()))

    def responses_for(self, item_id: str) -> list[StoredResponse]:
        self.flush_responses()
        return [StoredResponse(*r) for r in self.db.execute(
            "SELECT attempt, content, finish_reason, COALESCE(prompt_tokens, 0),"
            " COALESCE(completion_tokens, 0) FROM responses WHERE item_id=? ORDER BY attempt", (item_id,))]

    def token_totals(self) -> dict[str, dict[str, int]]:
        """Per stage: responses, prompt and completion tokens (every paid response counts)."""
        self.flush_responses()
        return {stage: {"responses": n, "prompt_tokens": p or 0, "completion_tokens": c or 0,
                        "estimated_usage_responses": est or 0}
                for stage, n, p, c, est in self.db.execute(
                    "SELECT stage, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(usage_estimated)"
                    " FROM responses GROUP BY stage")}

    def tokens_by_model(self) -> Iterator[tuple[str | None, int, int, int]]:
        """(model, answered in a batch?, prompt tokens, completion tokens) per model and road."""
        self.flush_responses()
        yield from self.db.execute(
            "SELECT model, endpoint LIKE 'batch:%', SUM(prompt_tokens), SUM(completion_tokens)"
            " FROM responses GROUP BY model, endpoint LIKE 'batch:%'")

    def failure_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM failures").fetchone()[0]

    def has_responses(self, stage: str) -> bool:
        self.flush_responses()
        row = self.db.execute("SELECT 1 FROM responses WHERE stage=? LIMIT 1", (stage,)).fetchone()
        return row is not None

    def last_index(self, stage: str) -> int:
        row = self.db.execute("SELECT last_index FROM progress WHERE stage=?", (stage,)).fetchone()
        return row[0] if row else -1

    @property
    def buffering(self) -> bool:
        """Item commits are being gathered: their writes wait in memory for `commit`."""
        return self._held or self.db.in_transaction

    def hold(self) -> None:
        """Gather the item commits that follow in memory, no SQL transaction open, until `begin` ...
        `commit` writes them in one (a transaction per item: 66 MB of WAL for a 600-item run)."""
        self._held = True

    def begin(self) -> None:
        if self._failed is not None:
            raise self._failed
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self._failed is not None:
            raise self._failed
        try:
            self.flush_responses()
            self.db.executemany(
                "INSERT INTO counters VALUES (?,?,?,?)"
                " ON CONFLICT(stage,grp,key) DO UPDATE SET n=n+excluded.n",
                [(*k, n) for k, n in self._pending_counts.items()])
            self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?,?,?)",
                                [(*k, v) for k, v in self._claims.items()])
            for row in self._near:
                self._insert_near(*row)
            self._drop_gathered()
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise self._write_failed(exc) from None
        self._held = False
        if self._checkpointer is None:
            self._checkpointer = _Checkpointer(self.path)
        self._checkpointer.wake.set()

    def rollback(self) -> None:
        self._drop_gathered()
        self._held = False
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def _drop_gathered(self) -> None:
        self._pending_counts.clear()
        self._claims.clear()
        self._near.clear()
        self._near_by_band.clear()

    def set_last_index(self, stage: str, index: int) -> None:
        self.write_in_commit("INSERT OR REPLACE INTO progress VALUES (?, ?)", (stage, index))

    def bump(self, stage: str, group: str, key: str) -> None:
        """Count one inside the open commit (written by `commit`, in the same transaction)."""
        self._pending_counts[(stage, group, key)] += 1

    def counters(self) -> dict[str, dict[str, dict[str, int]]]:
        out: dict[str, dict[str, dict[str, int]]] = {}
        for stage, grp, key, n in self.db.execute("SELECT stage, grp, key, n FROM counters"):
            out.setdefault(stage, {}).setdefault(grp, {})[key] = n
        return out

    def writer_state(self, kind: str) -> tuple[int, int, int]:
        row = self.db.execute("SELECT part, offset, records FROM writers WHERE kind=?", (kind,)).fetchone()
        return tuple(row) if row else (0, 0, 0)  # type: ignore[return-value]

    def set_writer_state(self, kind: str, part: int, offset: int, records: int) -> None:
        self.write_in_commit("INSERT OR REPLACE INTO writers VALUES (?,?,?,?)", (kind, part, offset, records))

    def write_in_commit(self, sql: str, args: tuple) -> None:
        """Progress, offsets and output bytes move only in the transaction that commits what they count."""
        if self._failed is not None:
            raise self._failed
        if not self.db.in_transaction:
            raise RuntimeError("journal progress written outside a transaction")
        try:
            self.db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            raise self._write_failed(exc) from None

    def _write_failed(self, exc: sqlite3.OperationalError) -> BaseException:
        """End the transaction (SQLite may have rolled it back already); after a full disk,
        refuse every later write of this process: the caller's memory is ahead of the journal."""
        self.rollback()
        if is_disk_fault(exc):
            self._failed = storage_error(exc, self.path)
            return self._failed
        return exc

    # -- dedup: while commits are gathered, claims and signatures wait in memory (look-ups see
    # them) and are written by `commit`; a rollback drops them
    def seen(self, ns: str, h: int) -> str | None:
        pending = self._claims.get((ns, h))
        if pending is not None:
            return pending
        row = self.db.execute("SELECT item_id FROM seen WHERE ns=? AND h=?", (ns, h)).fetchone()
        return row[0] if row else None

    def claim(self, ns: str, h: int, item_id: str) -> None:
        """Record a hash already checked with `seen` (no second look-up; an earlier claim stays)."""
        if self.buffering:
            self._claims.setdefault((ns, h), item_id)
        else:
            self.db.execute("INSERT OR IGNORE INTO seen VALUES (?,?,?)", (ns, h, item_id))

    def add_near(self, ns: str, key: str, sig: bytes, bands: list[int]) -> None:
        """Store a text's near-dup signature and band keys."""
        if not self.buffering:
            self._insert_near(ns, key, sig, bands)
            return
        for k in bands:
            self._near_by_band.setdefault(k, []).append(len(self._near))
        self._near.append((ns, key, sig, bands))

    def near_candidates(self, bands: list[int]) -> list[tuple[str, bytes]]:
        """(key, signature) of the stored texts sharing a band key with these, earliest first."""
        marks = ",".join("?" * len(bands))
        found = self.db.execute(
            f"SELECT key, sig FROM neardup WHERE seq IN (SELECT seq FROM bands WHERE k IN ({marks}))"
            " ORDER BY seq", bands).fetchall()
        if self._near_by_band:
            pending = sorted({i for k in bands for i in self._near_by_band.get(k, ())})
            found += [(self._near[i][1], self._near[i][2]) for i in pending]
        return found

    def _insert_near(self, ns: str, key: str, sig: bytes, bands: list[int]) -> None:
        seq = self.db.execute("INSERT INTO neardup (ns, key, sig) VALUES (?,?,?)", (ns, key, sig)).lastrowid
        self.db.executemany("INSERT OR IGNORE INTO bands VALUES (?, ?)", [(k, seq) for k in bands])


class _Checkpointer(threading.Thread):
    """Copies the WAL into the database on a thread of its own (PASSIVE: never blocks the writer).

    SQLite's automatic checkpoint runs inside whichever commit crosses 1000 WAL pages, 25-35 ms
    in which the event loop reads no answers; sqlite3 lets go of the GIL, so here it costs the
    loop nothing. The writer's automatic checkpoint stays on at a high mark as a backstop."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="synthgen-wal-checkpoint", daemon=True)
        self.path, self.wake, self.halt = path, threading.Event(), threading.Event()
        self.start()

    def run(self) -> None:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return  # the writer's automatic checkpoint does the job
        try:
            while self.wake.wait() and not self.halt.is_set():
                self.wake.clear()
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if self.halt.wait(0.5):  # at most this often
                    return
        except sqlite3.Error:
            return
        finally:
            db.close()

    def stop(self) -> None:
        self.halt.set()
        self.wake.set()
        self.join()
