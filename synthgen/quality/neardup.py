"""Near-duplicate search: rensa's MinHash over word n-gram shingles, LSH bands kept in the run journal.

A text's signature and band keys go into the journal (tables `neardup`, `bands`) in the commit that
accepts it: nothing is rebuilt on resume and memory stays flat (85 us a text early on, 240-340 us
by 40,000 texts: `python bench/quality.py --phase synthgen --n 40000`).

No LSH misses: with more bands than the unequal slots a match at the threshold may have, every such
match shares a whole band with the query (pigeonhole); candidates are then verified on the whole
signature. No process-salted hash is involved: answers depend only on the inputs and their order.
"""

from __future__ import annotations

import math
import operator
import random
import struct
import zlib
from dataclasses import dataclass

from .textnorm import normalize, words_of_normalized

# magic, rensa algorithm version, ngram, num_perm, seed: a signature made with other settings or
# by another rensa hashing version is refused instead of silently never matching.
_HEADER = struct.Struct("<2sBBHI")
_MAGIC = b"MH"
NUM_PERM, SEED = 128, 1
# band key = (band hash ^ namespace mix ^ band mix) on 63 bits: SQLite integers are signed, and
# one integer per (namespace, band, hash) makes a text's look-ups one `k IN (...)` on an index
_M1, _M2, _MASK, _U64 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, (1 << 63) - 1, (1 << 64) - 1


def shingles(normalized: str, ngram: int) -> list[str]:
    """Word n-grams of a normalised text; word unigrams when it has fewer than `ngram` words."""
    w = words_of_normalized(normalized)
    return w if ngram == 1 or len(w) < ngram else list(map(" ".join, zip(*(w[i:] for i in range(ngram)))))


@dataclass(frozen=True)
class Signed:
    """A text's MinHash signature (header + 4 bytes a slot) and its band keys in one namespace."""

    ns: str
    sig: bytes
    bands: list[int]


class MinHasher:
    """Signatures and band keys under one setting; the same values in every process."""

    def __init__(self, threshold: float = 0.85, ngram: int = 3) -> None:
        from rensa import RMinHash  # ~0.3 s to import: only runs that check near-duplicates pay it

        self._new, self.ngram = RMinHash, ngram
        # bands chosen so that any pair at the threshold shares a whole band
        max_unequal = math.floor((1.0 - threshold) * NUM_PERM + 1e-9)
        self.rows = max(1, NUM_PERM // (max_unequal + 1))
        self.bands = NUM_PERM // self.rows
        self.need = math.ceil(threshold * NUM_PERM - 1e-9)  # equal slots for a match
        self._header = _HEADER.pack(_MAGIC, RMinHash.ALGORITHM_VERSION, ngram, NUM_PERM, SEED)
        rng = random.Random(0x5EED)  # fixed odd multipliers: band hashes identical in every process
        self._mult = [rng.getrandbits(64) | 1 for _ in range(self.bands * self.rows)]  # band by band
        self._band_mix = [(b * _M2) & _U64 for b in range(self.bands)]
        self._slots = struct.Struct(f"<{NUM_PERM}I")

    def sign(self, ns: str, normalized: str) -> Signed:
        """The signature and band keys of a text already passed through normalize().

        Plain integers, not numpy: the main process, which only compares signatures, then never
        loads numpy (16 MB of RSS). A text signs in 38 us instead of ~30, in the check worker,
        which waits for the main process (bench/notes/throughput.md)."""
        m = self._new(NUM_PERM, SEED)
        m.update(shingles(normalized, self.ngram))
        digest, rows = m.digest(), self.rows
        products = list(map(operator.mul, digest, self._mult))  # a band's hash: its products summed
        mix = (zlib.crc32(ns.encode()) * _M1) & _U64
        bands = [((sum(products[i:i + rows]) & _U64) ^ mix ^ band_mix) & _MASK
                 for i, band_mix in zip(range(0, len(products), rows), self._band_mix)]
        return Signed(ns, self._header + self._slots.pack(*digest), bands)

    def sign_text(self, ns: str, text: str) -> Signed:
        return self.sign(ns, normalize(text))

    def slots(self, sig: bytes) -> tuple[int, ...]:
        """The signature's slots; refuses one made under other settings."""
        if len(sig) != _HEADER.size + 4 * NUM_PERM or sig[: _HEADER.size] != self._header:
            raise ValueError("signature was made with other ngram/num_perm/seed settings or another rensa "
                             "hashing version: rebuild the signatures from the texts")
        return self._slots.unpack_from(sig, _HEADER.size)

    def best_match(self, sig: bytes, candidates: list[tuple[str, bytes]]) -> str | None:
        """The key of the earliest candidate with the most equal slots, if it reaches the threshold."""
        mine = self.slots(sig)
        best, best_equal = None, self.need - 1
        for key, other in candidates:
            equal = sum(map(operator.eq, self.slots(other), mine))
            if equal > best_equal:
                best, best_equal = key, equal
        return best


class NearDupStore:
    """Near-duplicate search over the texts stored in a run journal, per namespace.

    `find` then `add` (not one call): an example with several texts looks every one up before
    storing any, so a rejected example leaves none of its texts behind as an earlier copy."""

    def __init__(self, journal, threshold: float = 0.85, ngram: int = 3):
        self.journal = journal
        self.hasher = MinHasher(threshold, ngram)

    def find(self, signed: Signed) -> str | None:
        """The key of the earliest stored near-copy in the namespace the text was signed in."""
        candidates = self.journal.near_candidates(signed.bands)
        return self.hasher.best_match(signed.sig, candidates) if candidates else None

    def add(self, key: str, signed: Signed) -> None:
        """Store a text (in the journal's open transaction, if any)."""
        self.journal.add_near(signed.ns, key, signed.sig, signed.bands)

    def check_and_add(self, ns: str, key: str, text: str) -> str | None:
        """The key of the earliest near-copy of `text` in `ns`, else None (and `text` is stored)."""
        signed = self.hasher.sign_text(ns, text)
        prior = self.find(signed)
        if prior is None:
            self.add(key, signed)
        return prior
