"""Text normalisation shared by exact and near-duplicate detection.

Two outputs that differ only in case, Unicode width/compatibility forms or whitespace are the
same example for training purposes, so both dedup checks compare normalised text.
"""

from __future__ import annotations

import re
import unicodedata

# Scripts written without spaces between words: each character counts as one word, so a Chinese
# or Thai passage gets character n-gram shingles instead of being a single "word".
_NO_SPACE_CHARS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Burmese
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
)
_WORD = re.compile(f"[{_NO_SPACE_CHARS}]|[^\\s{_NO_SPACE_CHARS}]+")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def normalize(text: str) -> str:
    """NFKC, casefold, collapse whitespace, strip: 'Ｈｅｌｌｏ\\n World ' -> 'hello world'."""
    folded = _fold(text)
    # Most model output is already single-spaced: an ASCII text with no control characters (the
    # ASCII whitespace other than ' ' is all control characters), no double space and no space at
    # either end is its own normal form; checking that costs a third of splitting and joining.
    if folded.isascii() and folded.isprintable() and "  " not in folded \
            and folded[:1] != " " and folded[-1:] != " ":
        return folded
    # str.split() splits on exactly the characters re's \s matches, about 10x faster than re.sub
    return " ".join(folded.split())


def words(text: str) -> list[str]:
    """The words of normalize(text): split on whitespace, one per character in space-less scripts."""
    folded = _fold(text)
    if folded.isascii():
        return folded.split()
    return _WORD.findall(folded)


def words_of_normalized(normalized: str) -> list[str]:
    """words(text), given normalize(text): the same tokens (only whitespace differs between the
    two strings, and neither tokenizer keeps whitespace), without folding the text again."""
    if normalized.isascii():
        return normalized.split()
    return _WORD.findall(normalized)
