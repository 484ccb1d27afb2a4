"""The in-memory near-duplicate index, kept as the oracle the journal-backed store must match.

No bands: every stored signature of the namespace is compared, so it cannot miss a pair the
estimate accepts. Same answers as `NearDupStore` is what the bands and the tables must give."""

from __future__ import annotations

from synthgen.quality.neardup import MinHasher


class MemoryNearDup:
    def __init__(self, threshold: float = 0.85, ngram: int = 3) -> None:
        self.hasher = MinHasher(threshold, ngram=ngram)
        self.stored: dict[str, list[tuple[str, bytes]]] = {}

    def check_and_add(self, ns: str, key: str, text: str) -> str | None:
        signed = self.hasher.sign_text(ns, text)
        prior = self.hasher.best_match(signed.sig, self.stored.get(ns, []))
        if prior is None:
            self.stored.setdefault(ns, []).append((key, signed.sig))
        return prior
