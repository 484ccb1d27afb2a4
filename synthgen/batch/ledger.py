"""The batch jobs of a run in the journal, one row per input file, its ids written as the server
hands them out; a rerun finishes every row not yet ingested first, so nothing is submitted twice."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from ..journal import Journal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
  name TEXT PRIMARY KEY, key TEXT NOT NULL, wave INTEGER NOT NULL, part INTEGER NOT NULL,
  path TEXT NOT NULL, requests INTEGER NOT NULL, bytes INTEGER NOT NULL,
  file_id TEXT, batch_id TEXT, status TEXT NOT NULL, completed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0, ingested INTEGER NOT NULL DEFAULT 0,
  created REAL NOT NULL, expires_at REAL
);
"""


@dataclass
class Job:
    """A row of batch_jobs (the fields in the table's column order)."""

    name: str
    key: str
    wave: int
    part: int
    path: str
    requests: int
    bytes: int
    file_id: str | None = None
    batch_id: str | None = None
    status: str = "written"  # written | exported | the server's batch status
    completed: int = 0
    failed: int = 0
    ingested: int = 0
    created: float = 0.0
    expires_at: float | None = None


class Ledger:
    def __init__(self, journal: Journal):
        self.db = journal.db
        self.db.execute(_SCHEMA)  # one statement: never commits a transaction that is open

    def add(self, job: Job) -> None:
        job.created = job.created or time.time()
        values = tuple(getattr(job, f.name) for f in fields(Job))
        self.db.execute(f"INSERT OR REPLACE INTO batch_jobs VALUES ({','.join('?' * len(values))})", values)

    def update(self, job: Job, **values) -> None:
        for k, v in values.items():
            setattr(job, k, v)
        sets = ", ".join(f"{k}=?" for k in values)
        self.db.execute(f"UPDATE batch_jobs SET {sets} WHERE name=?", (*values.values(), job.name))

    def jobs(self, where: str = "1", args: tuple = ()) -> list[Job]:
        sql = f"SELECT * FROM batch_jobs WHERE {where} ORDER BY created, name"
        return [Job(*row) for row in self.db.execute(sql, args)]

    def open_jobs(self, key: str) -> list[Job]:
        """The key's jobs a crash left neither ingested nor exported."""
        return self.jobs("key=? AND ingested=0 AND status != 'exported'", (key,))

    def next_wave(self, key: str) -> int:
        row = self.db.execute("SELECT MAX(wave) FROM batch_jobs WHERE key=?", (key,)).fetchone()
        return (row[0] or 0) + 1

    def summary(self) -> list[dict]:
        """For run.json and `stats`: one entry per job."""
        keys = ("name", "key", "wave", "requests", "batch_id", "status", "completed", "failed", "expires_at")
        return [{c: getattr(j, c) for c in keys} | {"ingested": bool(j.ingested)} for j in self.jobs()]
