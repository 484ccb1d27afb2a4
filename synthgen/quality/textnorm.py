"""Text normalisation shared by exact and near-duplicate detection."""

import re
import unicodedata

_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, casefold, collapse whitespace: 'Ｈｅｌｌｏ\n World' and 'hello world' compare equal."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
