"""Word salad in one language: phrases, sentences and documents of a given word count.

Speed matters (benchmarks send up to 100k requests), so documents are assembled from a pool of
pre-made sentences per language (built once, from a fixed seed, so output stays reproducible)
rather than word by word.
"""

from __future__ import annotations

import random
from operator import itemgetter

from synthgen.testing.vocab import Vocab

POOL_BITS = 13  # 8192 sentences per language: random documents rarely share one
_POOLS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {}


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
    return vocab.sep.join(words(vocab, rng.randint(lo, hi), rng))


def _pool(vocab: Vocab) -> tuple[tuple[str, ...], tuple[int, ...]]:
    pool = _POOLS.get(vocab.name)
    if pool is None:
        rng = random.Random(f"sentences:{vocab.name}")
        lengths = tuple(rng.randint(8, 20) for _ in range(1 << POOL_BITS))
        pool = _POOLS[vocab.name] = (tuple(sentence(vocab, n, rng) for n in lengths), lengths)
    return pool


def prose(vocab: Vocab, n: int, rng: random.Random, hi: int | None = None) -> str:
    """Sentences of 8-20 words adding up to between n and hi (default n) words."""
    hi = max(n, hi or n)
    texts, lengths = _pool(vocab)
    bits = rng.getrandbits
    picked = [bits(POOL_BITS) for _ in range(n // 14 + 1)]
    total = sum(map(lengths.__getitem__, picked))
    while total < n:
        i = bits(POOL_BITS)
        picked.append(i)
        total += lengths[i]
    while total > hi:  # the last sentences overshoot: drop them, then fill the gap exactly
        total -= lengths[picked.pop()]
    out = [texts[i] for i in picked]
    if total < n:
        out.append(sentence(vocab, n - total, rng))
    return vocab.sep.join(out)


def mutate(text: str, vocab: Vocab, rng: random.Random) -> str:
    """Change one or two words (characters, for scripts without spaces)."""
    parts = text.split(" ") if vocab.sep == " " else list(text)
    for _ in range(rng.randint(1, 2)):
        parts[rng.randrange(len(parts))] = rng.choice(vocab.words)
    return (" " if vocab.sep == " " else "").join(parts)
