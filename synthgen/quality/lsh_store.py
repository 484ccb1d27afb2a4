"""Near-duplicate search whose state lives in the run's SQLite file, not in memory.

Same answers as `NearDupIndex` (same MinHash signatures, band layout and verification: the
earliest stored text with the most equal signature slots, if it reaches the threshold), but the
band hashes sit in an index-organised SQLite table. Memory stays flat however long the run (a
500k-example run holds about a million texts), and a resume has nothing to rebuild.
"""

from __future__ import annotations

import zlib

import numpy as np

from .neardup import NearDupIndex

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lsh (
  ns INTEGER NOT NULL, band INTEGER NOT NULL, h INTEGER NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (ns, band, h, seq)
) WITHOUT ROWID;
"""


def _ns_id(ns: str) -> int:
    return zlib.crc32(ns.encode())


class DiskNearDup:
    def __init__(self, db, threshold: float, num_perm: int = 128, ngram: int = 3, seed: int = 1):
        self.db = db
        db.executescript(_SCHEMA)
        # an empty in-memory index lends its hashing (signature, band hashes) and threshold maths
        self._idx = NearDupIndex(threshold=threshold, num_perm=num_perm, ngram=ngram, seed=seed)
        self._need = self._idx._need

    def check_and_add(self, ns: str, key: str, text: str) -> str | None:
        """The key of the earliest near-copy of `text` in `ns`, else None (and `text` is stored)."""
        idx = self._idx
        sig = idx.signature(text)
        hashes = idx._band_hashes(idx._parse(sig)).astype(np.int64).tolist()  # SQLite integers are signed
        return self.check_prepared(ns, key, sig, hashes)

    def check_prepared(self, ns: str, key: str, sig: bytes, hashes: list[int]) -> str | None:
        """check_and_add for a signature and band hashes made elsewhere (precheck.py)."""
        idx = self._idx
        digest = idx._parse(sig)
        nid = _ns_id(ns)
        # one primary-key look-up per band (a row-value IN list would scan the whole table)
        union = " UNION ALL ".join(["SELECT seq FROM lsh WHERE ns=? AND band=? AND h=?"] * len(hashes))
        params: list[int] = []
        for band, h in enumerate(hashes):
            params += [nid, band, h]
        seqs = sorted({r[0] for r in self.db.execute(union, params)})
        if seqs:
            marks = ",".join("?" * len(seqs))
            rows = self.db.execute(f"SELECT seq, key, sig FROM neardup WHERE seq IN ({marks}) ORDER BY seq",
                                   seqs).fetchall()
            low = (digest & 0xFFFF).astype(np.uint16)
            best, best_equal = None, self._need - 1
            for _, k, stored in rows:
                other = (idx._parse(stored) & 0xFFFF).astype(np.uint16)
                equal = int(np.count_nonzero(other == low))
                if equal > best_equal:
                    best, best_equal = k, equal
            if best is not None:
                return best
        cur = self.db.execute("INSERT INTO neardup (ns, key, sig) VALUES (?,?,?)", (ns, key, sig))
        seq = cur.lastrowid
        self.db.executemany("INSERT INTO lsh VALUES (?,?,?,?)",
                            [(nid, band, h, seq) for band, h in enumerate(hashes)])
        return None
