"""The bytes of every output part, kept in the journal, so a lost part can be written again.

Why keep the bytes rather than re-derive the lines from the journaled responses: a line depends
on the dedup state at its commit (first wins), on the language verdict and on everything
committed before it; re-running that for one part in the middle of a run would mean replaying
the run. One row per flush (the lines that flush appended) is exact and needs nothing but the
journal.

zlib level 1, measured on a 2000-item run (1997 examples, 6.7 MB of lines, flushes of 64): the
chunks take 2.5 MB (2.7x smaller than raw; the journal grew 9.9 -> 12.4 MB) for ~15 us more CPU
a line than storing them raw (29 vs 14 us a line, compress and insert); level 6 gave 3.1x for
133 us a line. Whole runs of the same 2000 items (`synthgen run`, scripted server, 5 interleaved
runs each, CPU of the synthgen process): median 2.48 s without chunks, 2.60 s raw, 2.68 s zlib.
"""

from __future__ import annotations

import zlib

from .journal import Journal


def add_chunk(journal: Journal, kind: str, part: int, offset: int, data: bytes) -> None:
    """The bytes one flush appended to a part, in the transaction that commits its offset."""
    journal.write_in_commit("INSERT OR REPLACE INTO chunks VALUES (?,?,?,?)",
                            (kind, part, offset, zlib.compress(data, 1)))


def part_bytes(journal: Journal, kind: str, part: int, upto: int) -> bytes | None:
    """The committed bytes of a part up to offset `upto`; None if its chunks are not all there
    (a journal older than this module)."""
    out, at = [], 0
    for offset, data in journal.db.execute(
            "SELECT offset, data FROM chunks WHERE kind=? AND part=? AND offset<? ORDER BY offset",
            (kind, part, upto)):
        if offset != at:
            return None
        out.append(zlib.decompress(data))
        at += len(out[-1])
    return b"".join(out) if at == upto else None


def publish(journal: Journal, kind: str, part: int, records: int, size: int, sha256: str) -> None:
    journal.write_in_commit("INSERT OR REPLACE INTO parts VALUES (?,?,?,?,?)", (kind, part, records, size, sha256))


def published(journal: Journal, kind: str | None = None) -> list[tuple[str, int, int, int, str]]:
    """(kind, part, records, bytes, sha256) of every published part, in order."""
    sql = "SELECT kind, part, records, bytes, sha256 FROM parts"
    if kind is None:
        return journal.db.execute(sql + " ORDER BY kind, part").fetchall()
    return journal.db.execute(sql + " WHERE kind=? ORDER BY part", (kind,)).fetchall()

