"""Word salad in one language: phrases, sentences and documents of a given word count.

Speed matters (benchmarks send up to 100k requests), so documents are assembled from a pool of
pre-made sentences per language (built once, from a fixed seed, so output stays reproducible)
rather than word by word.
"""

from __future__ import annotations

import random
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter

from synthgen.testing.vocab import Vocab

POOL_SIZE = 4096  # sentences per language: two random documents rarely share one
_REPEAT = 65536 // POOL_SIZE  # tables repeated so any 2-byte index is valid


@dataclass(frozen=True)
class _Pool:
    texts: tuple[str, ...]  # POOL_SIZE sentences, repeated _REPEAT times
    lowered: tuple[str, ...]  # the same, lower-cased
    lengths: bytes  # word count of each entry of texts


_POOLS: dict[str, _Pool] = {}


def between(rng: random.Random, lo: int, hi: int) -> int:
    """lo..hi inclusive; cheaper than rng.randint (negligible modulo bias)."""
    return lo + rng.getrandbits(32) % (hi - lo + 1)


def words(vocab: Vocab, n: int, rng: random.Random) -> list[str]:
    """n random words; one random byte per word is several times faster than rng.choices."""
    if n <= 0:
        return []
    picked = itemgetter(*rng.randbytes(n))(vocab.table)
    return [picked] if n == 1 else list(picked)


def sentence(vocab: Vocab, n: int, rng: random.Random) -> str:
    """Exactly one capitalised sentence of n words."""
    ws = words(vocab, max(1, n), rng)
    ws[0] = ws[0][:1].upper() + ws[0][1:]
    return vocab.sep.join(ws) + vocab.stop


def phrase(vocab: Vocab, lo: int, hi: int, rng: random.Random) -> str:
    """A query or label: lowercase words, no final stop."""
    return vocab.sep.join(words(vocab, between(rng, lo, hi), rng))


def _pool(vocab: Vocab) -> _Pool:
    pool = _POOLS.get(vocab.name)
    if pool is None:
        rng = random.Random(f"sentences:{vocab.name}")
        lengths = bytes(between(rng, 8, 20) for _ in range(POOL_SIZE))
        texts = tuple(sentence(vocab, n, rng) for n in lengths)
        lowered = tuple(t.lower() for t in texts)
        pool = _POOLS[vocab.name] = _Pool(texts * _REPEAT, lowered * _REPEAT,
                                          lengths * _REPEAT)
    return pool


def _indexes(rng: random.Random, k: int) -> array:
    idx = array("H", rng.randbytes(2 * k))
    if sys.byteorder == "big":  # same documents on every machine
        idx.byteswap()
    return idx


def prose(vocab: Vocab, n: int, rng: random.Random, hi: int | None = None) -> str:
    """Sentences of 8-20 words adding up to between n and hi (default n) words."""
    return prose_and_lower(vocab, n, rng, hi)[0]


def prose_and_lower(vocab: Vocab, n: int, rng: random.Random,
                    hi: int | None = None) -> tuple[str, str]:
    """prose() and its lower() for substring checks; lower() of long non-ASCII text is slow."""
    # all per-sentence work happens in C (itemgetter, accumulate, bisect): no Python loop
    hi = max(n, hi or n)
    pool = _pool(vocab)
    idx = _indexes(rng, n // 8 + 2)  # sentences have >= 8 words: enough to reach n
    get = itemgetter(*idx)
    cum = list(accumulate(get(pool.lengths)))
    end = bisect_left(cum, n)  # first sentence count reaching n words
    texts, lowered = get(pool.texts), get(pool.lowered)
    sep = vocab.sep
    if cum[end] <= hi:
        return sep.join(texts[: end + 1]), sep.join(lowered[: end + 1])
    # the last sentence overshoots: end with one of exactly the missing length instead
    last = sentence(vocab, n - (cum[end - 1] if end else 0), rng)
    return sep.join((*texts[:end], last)), sep.join((*lowered[:end], last.lower()))


def mutate(text: str, vocab: Vocab, rng: random.Random) -> str:
    """Change one or two words (characters, for scripts without spaces)."""
    parts = text.split(" ") if vocab.sep == " " else list(text)
    for _ in range(rng.randint(1, 2)):
        parts[rng.randrange(len(parts))] = rng.choice(vocab.words)
    return (" " if vocab.sep == " " else "").join(parts)
