"""WAL checkpoints of the journal, on a thread of their own."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class Checkpointer:
    """Copies the WAL into the database on a thread of its own (PASSIVE: never blocks the writer).

    SQLite's automatic checkpoint runs inside whichever commit crosses 1000 WAL pages, 25-35 ms
    in which the event loop reads no answers; sqlite3 lets go of the GIL, so here it costs the
    loop nothing. The writer's automatic checkpoint stays on at a high mark as a backstop."""

    INTERVAL_S = 0.5  # at most this often

    def __init__(self, path: Path) -> None:
        self._path = path
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="synthgen-wal-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return  # the writer's automatic checkpoint does the job
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._halt.is_set():
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    return
                if self._halt.wait(self.INTERVAL_S):
                    return
        finally:
            db.close()

    def stop(self) -> None:
        self._halt.set()
        self._wake.set()
        self._thread.join()
