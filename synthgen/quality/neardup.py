"""Near-duplicate gate: MinHash over word n-gram shingles, LSH banding, verified estimates.

MinHash signatures come from rensa (pip ``rensa``, a Rust R-MinHash): about 8 us per 175-word
text against 700 us for datasketch's vectorised ``update_batch`` and 4 ms for its per-shingle
``update`` (quality-measurements.md). The LSH index is our own: datasketch's MinHashLSH held
about 4.7 KB per record and rensa's RMinHashLSH about 1.4 KB (its deduplicator 2.2 KB), and
rensa's cannot take a stored signature back except through its private serialisation, which a
resume from SQLite needs. This one holds about 0.5 KB per record.

How the index answers "estimated Jaccard >= threshold" without LSH misses:
- The estimate is the fraction of equal signature slots, compared on the low 16 bits of each slot
  (b-bit minwise hashing: a false equal slot has probability 2**-16, and it halves the memory).
- Bands are chosen by pigeonhole: with more bands than the number of unequal slots a match at the
  threshold may have, every such match shares at least one whole band with the query, so LSH
  finds every pair the estimate accepts (barring that 2**-16 chance per slot). Candidates are
  then verified, so band-hash collisions cost time, never a wrong answer.
- Band hashes live in a sorted uint64 array (12 bytes per band entry) plus a small dict of recent
  entries merged in batches, instead of a Python dict per band (about 100 bytes per entry).
The estimate itself has MinHash's spread (standard deviation 0.027 at J=0.9, 128 permutations), so
pairs just above the threshold are sometimes missed and pairs just below sometimes caught.
Answers depend only on the inputs and their order: no process-salted hash is involved.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Iterable

import numpy as np

from synthgen.quality.textnorm import words, words_of_normalized

# magic, rensa algorithm version, ngram, num_perm, seed: a signature made with other settings or
# by another rensa hashing version is refused instead of silently never matching.
_HEADER = struct.Struct("<2sBBHI")
_MAGIC = b"MH"
_CHUNK = 4096  # signature rows per storage block: growth never copies what is stored
_BUFFER_MAX = 1 << 16  # band entries held in a dict before merging into the sorted arrays


def _rensa():
    """rensa's RMinHash, imported on first use: a process that only looks signatures up (the
    pipeline's main process when a check worker hashes) never pays its ~0.3 s import."""
    global _RMinHash
    if _RMinHash is None:
        from rensa import RMinHash

        _RMinHash = RMinHash
    return _RMinHash


_RMinHash = None


def multimap_add(d: dict, key: int, value: int) -> None:
    """d[key] is one int, or a list once a key has several: most keys have one, and an int costs
    far less memory than a one-element list."""
    had = d.get(key)
    if had is None:
        d[key] = value
    elif isinstance(had, int):
        d[key] = [had, value]
    else:
        had.append(value)


def band_layout(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) such that any pair at the threshold shares a whole band."""
    max_unequal = math.floor((1.0 - threshold) * num_perm + 1e-9)
    rows = max(1, num_perm // (max_unequal + 1))
    return num_perm // rows, rows


def shingles(text: str, ngram: int) -> list[str]:
    """Word n-grams of the normalised text; word unigrams when it has fewer than `ngram` words."""
    return _grams(words(text), ngram)


def _grams(w: list[str], ngram: int) -> list[str]:
    if ngram == 1 or len(w) < ngram:
        return w
    return list(map(" ".join, zip(*(w[i:] for i in range(ngram)))))


class NearDupIndex:
    """Append-only near-duplicate index; not thread-safe (one per pipeline process).

    Keys are returned, not checked: a text offered again under its own key finds itself. The
    threshold is not part of a signature, so stored signatures serve any threshold. Empty texts
    are near-duplicates of each other.
    """

    def __init__(self, threshold: float = 0.9, num_perm: int = 128, ngram: int = 3, seed: int = 1) -> None:
        if not 0.5 <= threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be between 0.5 and 1, got {threshold}")
        if not 8 <= num_perm <= 1024:
            raise ValueError(f"num_perm must be between 8 and 1024, got {num_perm}")
        if not 1 <= ngram <= 255:
            raise ValueError(f"ngram must be between 1 and 255, got {ngram}")
        if not 0 <= seed < 2**32:
            raise ValueError(f"seed must be a 32-bit unsigned integer, got {seed}")
        self.threshold, self.num_perm, self.ngram, self.seed = threshold, num_perm, ngram, seed
        self._bands, self._rows = band_layout(threshold, num_perm)
        self._need = math.ceil(threshold * num_perm - 1e-9)  # equal slots for a match
        self._header = _HEADER.pack(_MAGIC, _rensa().ALGORITHM_VERSION, ngram, num_perm, seed)
        rng = random.Random(0x5EED)  # fixed odd multipliers: band hashes identical in every process
        self._mult = np.array(
            [[rng.getrandbits(64) | 1 for _ in range(self._rows)] for _ in range(self._bands)],
            dtype=np.uint64,
        )
        self._keys: list[str] = []
        self._chunks: list[np.ndarray] = []
        self._sorted_hashes = np.empty(0, dtype=np.uint64)
        self._sorted_rows = np.empty(0, dtype=np.uint32)
        self._recent: dict[int, int | list[int]] = {}
        self._recent_count = 0

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the index (arrays, keys, pending dict)."""
        arrays = sum(c.nbytes for c in self._chunks) + self._sorted_hashes.nbytes + self._sorted_rows.nbytes
        keys = sum(49 + len(k) + 8 for k in self._keys)  # compact str objects + list slot
        return arrays + keys + 100 * self._recent_count

    # -- signatures ---------------------------------------------------------------------------

    def _digest(self, text: str) -> np.ndarray:
        m = _rensa()(self.num_perm, self.seed)
        m.update(shingles(text, self.ngram))
        return np.array(m.digest(), dtype=np.uint32)

    def signature(self, text: str) -> bytes:
        """The text's MinHash signature as bytes (10-byte header + 4 bytes per permutation)."""
        return self._header + self._digest(text).astype("<u4").tobytes()

    def signatures_normalized(self, texts: list[str]) -> tuple[list[bytes], np.ndarray]:
        """(signature(t), band hashes) for many texts already passed through normalize(): the
        same values as one text at a time, with the band arithmetic done once for all of them."""
        new = _rensa()
        digests = np.empty((len(texts), self.num_perm), dtype=np.uint32)
        for row, text in enumerate(texts):
            m = new(self.num_perm, self.seed)
            m.update(_grams(words_of_normalized(text), self.ngram))
            digests[row] = m.digest()
        body = digests.astype("<u4", copy=False)
        sigs = [self._header + r.tobytes() for r in body]
        cut = digests[:, : self._bands * self._rows].reshape(len(texts), self._bands, self._rows)
        hashes = (cut.astype(np.uint64) * self._mult).sum(axis=2, dtype=np.uint64)  # wraps by design
        return sigs, hashes

    def _parse(self, sig: bytes) -> np.ndarray:
        self._validate(sig)
        return np.frombuffer(sig, dtype="<u4", offset=_HEADER.size).astype(np.uint32)

    def _validate(self, sig: bytes) -> None:
        if len(sig) != _HEADER.size + 4 * self.num_perm or sig[: _HEADER.size] != self._header:
            raise ValueError(
                "signature was made with other ngram/num_perm/seed settings or another rensa "
                "hashing version: rebuild the signatures from the texts"
            )

    # -- public operations --------------------------------------------------------------------

    def check_and_add(self, key: str, text: str) -> str | None:
        """The key of an earlier near-duplicate of `text` (and `text` is not added), else None."""
        return self._check_and_add(key, self._digest(text))

    def check_signature(self, key: str, sig: bytes) -> str | None:
        """check_and_add for a signature made by `signature()`."""
        return self._check_and_add(key, self._parse(sig))

    def add_signature(self, key: str, sig: bytes) -> None:
        """Add without checking: rebuilding the index from stored signatures on resume."""
        digest = self._parse(sig)
        self._insert(key, digest, self._band_hashes(digest))

    def add_signatures(self, items: Iterable[tuple[str, bytes]]) -> None:
        """add_signature for many (key, signature) pairs, vectorised: the fast way to resume."""
        batch = np.empty((_CHUNK, self.num_perm), dtype=np.uint32)
        keys: list[str] = []
        for key, sig in items:
            self._validate(sig)
            batch[len(keys)] = np.frombuffer(sig, dtype="<u4", offset=_HEADER.size)
            keys.append(key)
            if len(keys) == _CHUNK:
                self._add_batch(keys, batch)
                keys = []
        if keys:
            self._add_batch(keys, batch[: len(keys)])

    # -- internals ----------------------------------------------------------------------------

    def _band_hashes(self, digest: np.ndarray) -> np.ndarray:
        bands = digest[: self._bands * self._rows].reshape(self._bands, self._rows).astype(np.uint64)
        return (bands * self._mult).sum(axis=1, dtype=np.uint64)  # wraps mod 2**64 by design

    def _check_and_add(self, key: str, digest: np.ndarray) -> str | None:
        hashes = self._band_hashes(digest)
        hit = self._best_match(digest, hashes)
        if hit is not None:
            return self._keys[hit]
        self._insert(key, digest, hashes)
        return None

    def _candidates(self, hashes: np.ndarray) -> set[int]:
        rows: set[int] = set()
        stored = self._sorted_hashes
        if len(stored):
            at = np.minimum(np.searchsorted(stored, hashes), len(stored) - 1)
            for i in np.flatnonzero(stored[at] == hashes).tolist():
                j, h = int(at[i]), hashes[i]
                while j < len(stored) and stored[j] == h:  # equal hashes sit side by side
                    rows.add(int(self._sorted_rows[j]))
                    j += 1
        for h in hashes.tolist():
            found = self._recent.get(h)
            if found is None:
                continue
            if isinstance(found, int):
                rows.add(found)
            else:
                rows.update(found)
        return rows

    def _best_match(self, digest: np.ndarray, hashes: np.ndarray) -> int | None:
        """Earliest row with the most equal slots, if it reaches the threshold."""
        rows = self._candidates(hashes)
        if not rows:
            return None
        low = (digest & 0xFFFF).astype(np.uint16)
        best, best_equal = None, self._need - 1
        for row in sorted(rows):
            equal = int(np.count_nonzero(self._chunks[row // _CHUNK][row % _CHUNK] == low))
            if equal > best_equal:
                best, best_equal = row, equal
        return best

    def _insert(self, key: str, digest: np.ndarray, hashes: np.ndarray) -> None:
        row = len(self._keys)
        if row % _CHUNK == 0:
            self._chunks.append(np.empty((_CHUNK, self.num_perm), dtype=np.uint16))
        self._chunks[-1][row % _CHUNK] = digest & 0xFFFF
        self._keys.append(key)
        for h in hashes.tolist():
            multimap_add(self._recent, h, row)
        self._recent_count += len(hashes)
        if self._recent_count >= _BUFFER_MAX:
            self._merge()

    def _add_batch(self, keys: list[str], digests: np.ndarray) -> None:
        self._merge()  # keep row order: anything pending goes in first
        start, n = len(self._keys), len(keys)
        low = (digests & 0xFFFF).astype(np.uint16)
        done = 0
        while done < n:
            row = start + done
            if row % _CHUNK == 0:
                self._chunks.append(np.empty((_CHUNK, self.num_perm), dtype=np.uint16))
            take = min(_CHUNK - row % _CHUNK, n - done)
            self._chunks[-1][row % _CHUNK : row % _CHUNK + take] = low[done : done + take]
            done += take
        self._keys.extend(keys)
        width = self._bands * self._rows
        bands = digests[:, :width].reshape(n, self._bands, self._rows).astype(np.uint64)
        hashes = (bands * self._mult).sum(axis=2, dtype=np.uint64)
        rows = np.repeat(np.arange(start, start + n, dtype=np.uint32), self._bands)
        self._merge_sorted(hashes.ravel(), rows)

    def _merge(self) -> None:
        """Move the recent dict into the sorted arrays (one O(n) insert per batch)."""
        if not self._recent:
            return
        hashes: list[int] = []
        rows: list[int] = []
        for h, found in self._recent.items():
            for row in [found] if isinstance(found, int) else found:
                hashes.append(h)
                rows.append(row)
        self._recent.clear()
        self._recent_count = 0
        self._merge_sorted(np.array(hashes, dtype=np.uint64), np.array(rows, dtype=np.uint32))

    def _merge_sorted(self, new_h: np.ndarray, new_r: np.ndarray) -> None:
        order = np.argsort(new_h, kind="stable")
        new_h, new_r = new_h[order], new_r[order]
        at = np.searchsorted(self._sorted_hashes, new_h, side="right")
        self._sorted_hashes = np.insert(self._sorted_hashes, at, new_h)
        self._sorted_rows = np.insert(self._sorted_rows, at, new_r)
