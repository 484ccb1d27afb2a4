"""The journal's dedup state: exact-duplicate hashes and near-duplicate bands.

While item commits are gathered (`Journal.buffering`), claimed hashes and near-dup signatures
wait in memory and go to disk with the commit, in one statement each (the same transaction,
so the same atomicity); look-ups see them; a rollback drops them. Bounded: a batch holds at
most one commit's worth of items.
"""

from __future__ import annotations

import sqlite3


class DedupTables:
    db: sqlite3.Connection
    buffering: bool

    def init_dedup(self) -> None:
        self._claims: dict[tuple[str, int], str] = {}  # (ns, hash) -> item id, not yet written
        self._near: list[tuple[str, str, bytes, list[int]]] = []  # (ns, key, sig, bands), not yet written
        self._near_by_band: dict[int, list[int]] = {}  # band key -> positions in _near

    def drop_dedup(self) -> None:
        self._claims.clear()
        self._near.clear()
        self._near_by_band.clear()

    def seen_or_add(self, ns: str, h: int, item_id: str) -> str | None:
        """The item id that first used this hash, or None after claiming it for `item_id`."""
        prior = self.seen(ns, h)
        if prior is None:
            self.claim(ns, h, item_id)
        return prior

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
        """Store a text's near-dup signature and band keys (with the commit, when gathering)."""
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

    def write_dedup(self) -> None:
        """Write what the gathered commits claimed (inside the commit's transaction)."""
        if self._claims:
            self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?,?,?)",
                                [(*k, v) for k, v in self._claims.items()])
        for row in self._near:
            self._insert_near(*row)
        self.drop_dedup()
