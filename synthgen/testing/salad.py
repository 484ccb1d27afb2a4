"""Word salad in one language: phrases, sentences and documents of a given word count.

Speed matters (benchmarks send up to 100k requests), so documents are assembled from a pool of
pre-made sentences per language (built once, from a fixed seed, so output stays reproducible)
rather than word by word.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from dataclasses import dataclass
from functools import reduce
from itertools import accumulate
from operator import itemgetter, or_

from synthgen.testing.vocab import Vocab

# A document draws its sentences from one window of 256 (one random byte per sentence) out of
# 16 windows per language: random documents rarely share a sentence, and a document's lookups
# stay within a few kilobytes, which matters for speed more than anything else here.
WINDOW = 256
WINDOWS = 16
# Shorter documents are written word by word: drawn from the pool they would be one or two pooled
# sentences, which different requests would repeat verbatim and dedup would reject.
FRESH_BELOW = 40


@dataclass(frozen=True)
class _Window:
    texts: tuple[str, ...]
    lowered: tuple[str, ...]  # the same, lower-cased
    masks: tuple[int, ...]  # the same, as bit sets of their words (see unit_mask)
    lengths: bytes  # word count of each sentence


@dataclass(frozen=True)
class Doc:
    """A generated document with what the guideline checks need, computed at C speed."""

    text: str
    lower: str  # lower() of long non-ASCII text is slow; the pool has it ready
    mask: int  # unit_mask(text): the word set as bits, for cheap Jaccard overlaps


_POOLS: dict[str, tuple[_Window, ...]] = {}
_UNIT_BITS: dict[str, dict[str, int]] = {}


def _unit_bits(vocab: Vocab) -> dict[str, int]:
    bits = _UNIT_BITS.get(vocab.name)
    if bits is None:
        units = {u for w in vocab.words for u in _units(w.lower(), vocab)}
        bits = _UNIT_BITS[vocab.name] = {u: 1 << i for i, u in enumerate(sorted(units))}
    return bits


def _units(lowered: str, vocab: Vocab) -> list[str]:
    text = lowered.replace(vocab.stop, "")
    # words, or characters in scripts written without spaces (as synthgen.validate counts them)
    return text.split() if vocab.sep else list(text)


def unit_mask(vocab: Vocab, text: str) -> int:
    """The set of text's lower-cased words as an int with one bit per vocabulary word."""
    bits = _unit_bits(vocab)
    mask = 0
    for unit in _units(text.lower(), vocab):
        mask |= bits.get(unit, 0)
    return mask


def jaccard(a: int, b: int) -> float:
    """Jaccard overlap of two unit masks."""
    union = (a | b).bit_count()
    return (a & b).bit_count() / union if union else 0.0


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


def _pool(vocab: Vocab) -> tuple[_Window, ...]:
    pool = _POOLS.get(vocab.name)
    if pool is None:
        rng = random.Random(f"sentences:{vocab.name}")
        windows = []
        for _ in range(WINDOWS):
            lengths = bytes(between(rng, 8, 20) for _ in range(WINDOW))
            texts = tuple(sentence(vocab, n, rng) for n in lengths)
            lowered = tuple(t.lower() for t in texts)
            windows.append(_Window(texts, lowered, tuple(unit_mask(vocab, t) for t in lowered),
                                   lengths))
        pool = _POOLS[vocab.name] = tuple(windows)
    return pool


def prose(vocab: Vocab, n: int, rng: random.Random, hi: int | None = None) -> str:
    """Sentences of 8-20 words adding up to between n and hi (default n) words."""
    return document(vocab, n, rng, hi).text


def _fresh(vocab: Vocab, n: int, rng: random.Random) -> Doc:
    """n words in new sentences of 8-20 words (a short final one where n demands)."""
    parts = []
    while n > 0:
        size = min(n, between(rng, 8, 20))
        parts.append(sentence(vocab, size, rng))
        n -= size
    text = vocab.sep.join(parts)
    return Doc(text, text.lower(), unit_mask(vocab, text))


def document(vocab: Vocab, n: int, rng: random.Random, hi: int | None = None) -> Doc:
    """prose() with its lower-cased text and word mask."""
    hi = max(n, hi or n)
    if n < FRESH_BELOW:
        # one or two pooled sentences would repeat verbatim across requests (duplicates)
        return _fresh(vocab, n, rng)
    # all per-sentence work happens in C (itemgetter, accumulate, bisect, reduce): no Python loop
    window = _pool(vocab)[rng.getrandbits(4)]
    idx = rng.randbytes(n // 8 + 2)  # sentences have >= 8 words: enough to reach n
    cum = list(accumulate(itemgetter(*idx)(window.lengths)))
    end = bisect_left(cum, n)  # sentences [0, end] reach n words
    if cum[end] > hi:  # the last one overshoots: end with one of the missing length instead
        last = sentence(vocab, n - (cum[end - 1] if end else 0), rng)
        last_doc = Doc(last, last.lower(), unit_mask(vocab, last))
        if not end:
            return last_doc
        picked = idx[:end]
    else:
        last_doc, picked = None, idx[: end + 1]
    get = itemgetter(*picked)
    if len(picked) == 1:
        texts, lowered, masks = (get(window.texts),), (get(window.lowered),), (get(window.masks),)
    else:
        texts, lowered, masks = get(window.texts), get(window.lowered), get(window.masks)
    sep = vocab.sep
    if last_doc is None:
        return Doc(sep.join(texts), sep.join(lowered), reduce(or_, masks))
    return Doc(sep.join((*texts, last_doc.text)), sep.join((*lowered, last_doc.lower)),
               reduce(or_, masks, last_doc.mask))


def mutate(text: str, vocab: Vocab, rng: random.Random) -> str:
    """Change one or two words (characters, for scripts without spaces)."""
    parts = text.split(" ") if vocab.sep == " " else list(text)
    for _ in range(rng.randint(1, 2)):
        parts[rng.randrange(len(parts))] = rng.choice(vocab.words)
    return (" " if vocab.sep == " " else "").join(parts)
