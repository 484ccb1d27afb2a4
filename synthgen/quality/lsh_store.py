"""Near-duplicate search whose state lives on disk, not in memory.

Same answers as `NearDupIndex` (same MinHash signatures, band layout and verification: the
earliest stored text with the most equal signature slots, if it reaches the threshold), but:

- the signatures sit in the run journal's `neardup` table, committed with the examples they
  belong to (the journal is the truth);
- the LSH band hashes sit in `journal/lsh.sqlite`, an index *derived* from those signatures.
  Each text adds 21 rows at random places in a B-tree; inserted one text at a time and committed
  with every journal commit, that cost ~270 us per text (most of the table's pages rewritten into
  the WAL at each commit). So new rows wait in a bounded in-memory buffer (searched like the
  table) and go to disk sorted, in bulk, every BUFFER_ROWS rows, always right after a journal
  commit so the file never holds a text the journal does not; no fsync. A writer thread stores
  them (SQLite releases the GIL) while the buffer, frozen, still answers look-ups. After a crash the file
  lacks at most the buffered texts; opening it re-adds them from the journal's signatures.

Memory stays flat however long the run (a 500k-example run holds about a million texts: the
buffer is capped), and a resume rebuilds at most one buffer's worth.
"""

from __future__ import annotations

import operator
import sqlite3
import threading
import zlib

import numpy as np
import orjson

from .neardup import NearDupIndex, multimap_add

# One row per (text, band): k mixes namespace, band number and band hash into one 63-bit
# integer, so a text's 21 look-ups are one `k IN (...)` on the primary key (~30 us, against
# ~50-70 us for 21 three-column look-ups joined by UNION ALL) and rows are two integers. A
# collision of k only adds a candidate, which the signature check drops.
_SCHEMA = """
DROP TABLE IF EXISTS lsh;
CREATE TABLE IF NOT EXISTS bands (k INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (k, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
BUFFER_ROWS = 20_000  # band rows held in memory before a sorted bulk write (~4 MB)
_M1, _M2, _MASK = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, (1 << 63) - 1


_MARKS: dict[int, str] = {}
_INSERT = ("INSERT OR IGNORE INTO bands SELECT k.value, json_extract(t.value, '$[1]') FROM json_each(?1) AS t, "
           "json_each(t.value, '$[0]') AS k ORDER BY 1, 2")


def _ns_id(ns: str) -> int:
    return zlib.crc32(ns.encode())


def band_keys(ns: str, hashes: list[int]) -> list[int]:
    """The table keys of a text's band hashes in namespace `ns` (made where the signature is)."""
    return _LshFile.keys(_ns_id(ns), hashes)


def band_keys_many(namespaces: list[str], hashes: np.ndarray) -> list[list[int]]:
    """band_keys for many texts at once: `hashes` is (texts x bands) uint64; the same keys."""
    return _band_keys_array(namespaces, hashes).tolist()


def prepared_many(namespaces: list[str], hashes: np.ndarray) -> list[tuple[list[int], Slots]]:
    """(band keys, filter slots) per text, for `DiskNearDup.check_prepared`: made where the
    signatures are (the check worker), so the committing process loops over neither."""
    keys = _band_keys_array(namespaces, hashes)
    at = keys & (_BitFilter.BITS - 1)
    return list(zip(keys.tolist(), zip((at >> 3).tolist(), (1 << (at & 7)).tolist())))


def _band_keys_array(namespaces: list[str], hashes: np.ndarray) -> np.ndarray:
    u64 = (1 << 64) - 1
    rows = np.array([(_ns_id(ns) * _M1) & u64 for ns in namespaces], dtype=np.uint64)
    cols = np.array([(b * _M2) & u64 for b in range(hashes.shape[1])], dtype=np.uint64)
    return ((hashes ^ rows[:, None] ^ cols[None, :]) & np.uint64(_MASK)).astype(np.int64)


# where a text's band keys sit in the filter: (byte offsets, bit masks), one of each per key
Slots = tuple[list[int], list[int]]


def filter_slots(keys: list[int]) -> Slots:
    bits = _BitFilter.BITS - 1
    return [(k & bits) >> 3 for k in keys], [1 << (k & 7) for k in keys]


class _BitFilter:
    """A fixed-size bit set over the band keys stored so far (a Bloom filter, one bit per key).

    Most texts share no band with any earlier text; when none of a text's 21 keys has its bit
    set, that is certain and the table is not searched (~60-100 us a text saved). Its size never
    changes; once so many bits are set that most texts would search anyway (past ~50k texts),
    it is dropped and every text searches, as without it.
    """

    BITS = 1 << 25  # 4 MB
    MAX_KEYS = 1_100_000  # then ~3% of bits set: a text's 21 keys all miss about half the time

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS >> 3)
        self.keys = 0

    @property
    def full(self) -> bool:
        return self.keys > self.MAX_KEYS

    def add(self, slots: Slots) -> None:
        bits = self.bits
        for i, m in zip(*slots):
            bits[i] |= m
        self.keys += len(slots[0])

    def may_hold(self, slots: Slots) -> bool:
        at, masks = slots
        if len(at) < 2:  # itemgetter of one index gives a value, not a tuple
            return bool(at) and bool(self.bits[at[0]] & masks[0])
        # both loops in C: ~1 us for 21 keys, against ~6 us for a Python loop over the keys
        return any(map(operator.and_, operator.itemgetter(*at)(self.bits), masks))


class _LshFile:
    """The band table of one journal, shared by every DiskNearDup on it in this process."""

    def __init__(self, journal, idx: NearDupIndex) -> None:
        self.journal = journal
        self.idx = idx
        self.layout = self.layout_of(idx)
        self.max_seq = 0
        self.disk_rows = 0  # rows on disk (0: skip the look-ups on a fresh run)
        self.texts: list[tuple[list[int], int]] = []  # buffered (band keys, seq)
        self.nrows = 0  # band rows in self.texts
        self.buf: dict[int, int | list[int]] = {}  # mixed (ns, band, h) -> seq(s) of buffered rows
        self.frozen: dict[int, int | list[int]] | None = None  # the buffer a writer thread is storing
        self.writer: threading.Thread | None = None
        self.writer_error: BaseException | None = None
        self.writing = 0
        # every stored key, when there are few enough of them to be worth it (None: search always)
        self.filter: _BitFilter | None = _BitFilter()
        self.path = path = journal.path.with_name("lsh.sqlite")
        self.con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=OFF")  # derived data: rebuilt from the journal if lost
        self.con.execute("PRAGMA cache_size=-4096")  # 4 MB: the upper levels of the B-tree
        self.con.executescript(_SCHEMA)
        self._catch_up()
        journal.on_change(self._on_journal)

    @staticmethod
    def layout_of(idx: NearDupIndex) -> str:
        return f"k63:{idx._bands}x{idx._rows}/{idx.num_perm}/{idx.ngram}/{idx.seed}"

    def _meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _catch_up(self) -> None:
        """Make the table hold exactly the journal's committed signatures."""
        con = self.con
        con.execute("BEGIN")
        upto = int(self._meta("upto") or 0)
        if self._meta("layout") != self.layout:  # another threshold: band hashes differ
            con.execute("DELETE FROM bands")
            upto = 0
        newest = self.journal.db.execute("SELECT COALESCE(MAX(seq), 0) FROM neardup").fetchone()[0]
        if upto > newest:  # cannot happen by design; keep the table a subset of the journal
            con.execute("DELETE FROM bands WHERE seq > ?", (newest,))
            upto = newest
        self.max_seq = upto
        con.execute("INSERT OR REPLACE INTO meta VALUES ('layout', ?)", (self.layout,))
        con.execute("COMMIT")
        self._fill_filter()
        rows = self.journal.db.execute("SELECT seq, ns, sig FROM neardup WHERE seq > ? ORDER BY seq", (upto,))
        for seq, ns, sig in rows:
            self.add(seq, band_keys(ns, self.bands(sig)))
            if self.nrows >= BUFFER_ROWS:
                self._write()
        self._write()
        self.disk_rows = con.execute("SELECT EXISTS (SELECT 1 FROM bands)").fetchone()[0]

    def _fill_filter(self) -> None:
        """On a resume, the filter learns the keys already on disk, unless they are too many."""
        filt = self.filter
        assert filt is not None
        if self.max_seq * self.idx._bands > filt.MAX_KEYS:  # seq numbers texts: 21 rows each
            self.filter = None
            return
        cur = self.con.execute("SELECT k FROM bands")
        while rows := cur.fetchmany(4096):
            filt.add(filter_slots([r[0] for r in rows]))

    def bands(self, sig: bytes) -> list[int]:
        idx = self.idx
        return idx._band_hashes(idx._parse(sig)).astype(np.int64).tolist()  # SQLite integers are signed

    @staticmethod
    def keys(nid: int, hashes: list[int]) -> list[int]:
        """One 63-bit key per (namespace, band, band hash)."""
        m = nid * _M1
        return [(h ^ m ^ (band * _M2)) & _MASK for band, h in enumerate(hashes)]

    def candidates(self, keys: list[int], slots: Slots | None = None) -> list[int]:
        if self.filter is not None and not self.filter.may_hold(slots or filter_slots(keys)):
            return []
        found: set[int] = set()
        if self.disk_rows or self.writer is not None:
            marks = _MARKS.get(len(keys)) or _MARKS.setdefault(len(keys), ",".join("?" * len(keys)))
            found.update(r[0] for r in self.con.execute(f"SELECT seq FROM bands WHERE k IN ({marks})", keys))
        for buf in (self.buf, self.frozen):
            if buf:
                for hit in map(buf.get, keys):
                    if hit is not None:
                        if isinstance(hit, int):
                            found.add(hit)
                        else:
                            found.update(hit)
        return sorted(found)

    def add(self, seq: int, keys: list[int], slots: Slots | None = None) -> None:
        if self.filter is not None:
            self.filter.add(slots or filter_slots(keys))
            if self.filter.full:
                self.filter = None
        self.texts.append((keys, seq))
        self.nrows += len(keys)
        self._index(keys, seq)
        self.max_seq = max(self.max_seq, seq)

    def _index(self, keys: list[int], seq: int) -> None:
        buf = self.buf
        if buf.keys().isdisjoint(keys):  # the common case: no band shared with a buffered text
            buf.update(dict.fromkeys(keys, seq))
        else:
            for k in keys:
                multimap_add(buf, k, seq)

    def _take_texts(self) -> bytes:
        """The buffered texts as one JSON array of [band keys, seq]; the buffer starts afresh.

        SQLite unpacks, sorts and inserts the rows itself (json_each), with the GIL released:
        binding 20k row tuples from Python held it for ~70 ms a write, this for ~1 ms."""
        blob = orjson.dumps(self.texts)
        self.texts, self.nrows = [], 0
        return blob

    @staticmethod
    def _store(con: sqlite3.Connection, blob: bytes, upto: int) -> None:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(_INSERT, (blob,))
            con.execute("INSERT OR REPLACE INTO meta VALUES ('upto', ?)", (str(upto),))
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def _write(self) -> None:
        """The buffer to disk, sorted (neighbouring rows share pages), in one transaction."""
        rows = self.nrows
        blob = self._take_texts()
        self._store(self.con, blob, self.max_seq)
        self.disk_rows += rows
        self.buf = {}

    def _write_behind(self) -> None:
        """Store the buffer from a writer thread (SQLite releases the GIL while it works); the
        buffer stays searchable, frozen, until the thread has committed it."""
        self._join_writer()
        self.writing, upto, path = self.nrows, self.max_seq, self.path
        blob = self._take_texts()
        self.frozen, self.buf = self.buf, {}

        def work() -> None:
            try:
                con = sqlite3.connect(path, isolation_level=None)
                try:
                    con.execute("PRAGMA synchronous=OFF")
                    con.execute("PRAGMA cache_size=-1024")  # sorted rows: a small cache does
                    self._store(con, blob, upto)
                finally:
                    con.close()
            except BaseException as exc:  # reported on the pipeline's thread at the next join
                self.writer_error = exc

        self.writer = threading.Thread(target=work, name="lsh-write", daemon=True)
        self.writer.start()

    def _join_writer(self) -> None:
        if self.writer is None:
            return
        self.writer.join()
        self.writer = None
        if self.writer_error is not None:
            error, self.writer_error = self.writer_error, None
            raise RuntimeError(f"could not write the near-duplicate index {self.path}: {error}")
        self.frozen = None
        self.disk_rows += self.writing
        self.writing = 0

    def _on_journal(self, event: str) -> None:
        """Called by the journal after it commits, rolls back or closes."""
        if self.con is None:
            return
        if event == "commit":
            if self.writer is not None and not self.writer.is_alive():
                self._join_writer()
            if self.nrows >= BUFFER_ROWS:
                self._write_behind()
        elif event == "rollback":
            # texts of the rolled-back transaction are gone from the journal: drop their bands
            newest = self.journal.db.execute("SELECT COALESCE(MAX(seq), 0) FROM neardup").fetchone()[0]
            if self.max_seq > newest:
                kept = [t for t in self.texts if t[1] <= newest]
                self.texts, self.nrows, self.buf = kept, sum(len(t[0]) for t in kept), {}
                for keys, seq in kept:
                    self._index(keys, seq)
                self.max_seq = newest
        elif event == "close":
            self._join_writer()
            self._write()
            self.con.close()
            self.con = None


class DiskNearDup:
    def __init__(self, journal, threshold: float, num_perm: int = 128, ngram: int = 3, seed: int = 1):
        self.journal = journal
        # an empty in-memory index lends its hashing (signature, band hashes) and threshold maths
        self._idx = NearDupIndex(threshold=threshold, num_perm=num_perm, ngram=ngram, seed=seed)
        self._need = self._idx._need
        shared = getattr(journal, "_lsh_file", None)
        if shared is None or shared.con is None or shared.layout != _LshFile.layout_of(self._idx):
            if shared is not None:
                shared._on_journal("close")
            shared = journal._lsh_file = _LshFile(journal, self._idx)
        self._lsh = shared

    def check_and_add(self, ns: str, key: str, text: str) -> str | None:
        """The key of the earliest near-copy of `text` in `ns`, else None (and `text` is stored)."""
        idx = self._idx
        sig = idx.signature(text)
        return self.check_prepared(ns, key, sig, band_keys(ns, self._lsh.bands(sig)))

    def check_prepared(self, ns: str, key: str, sig: bytes, keys: list[int],
                       slots: Slots | None = None) -> str | None:
        """check_and_add for a signature, band keys (`band_keys`) and, optionally, their filter
        slots (`prepared_many`) made elsewhere (precheck.py)."""
        prior = self.find_prepared(sig, keys, slots)
        if prior is None:
            self.add_prepared(ns, key, sig, keys, slots)
        return prior

    def find_prepared(self, sig: bytes, keys: list[int], slots: Slots | None = None) -> str | None:
        """The key of the earliest stored near-copy (same namespace: it is in the band keys),
        else None. Stores nothing: an example with several texts stores them only once none of
        them rejected it."""
        seqs = self._lsh.candidates(keys, slots)
        if not seqs:
            return None
        idx = self._idx
        low = (idx._parse(sig) & 0xFFFF).astype(np.uint16)
        best, best_equal = None, self._need - 1
        for _, k, stored in self.journal.signatures(seqs):
            other = (idx._parse(stored) & 0xFFFF).astype(np.uint16)
            equal = int(np.count_nonzero(other == low))
            if equal > best_equal:
                best, best_equal = k, equal
        return best

    def add_prepared(self, ns: str, key: str, sig: bytes, keys: list[int], slots: Slots | None = None) -> None:
        """Store a text: its signature in the journal, its band keys (made in `ns`) in the band file."""
        self._lsh.add(self.journal.add_signature(ns, key, sig), keys, slots)
