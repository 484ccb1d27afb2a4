"""The order-free half of the quality checks, done as responses arrive (check_worker.py).

Validation, language identity, the exact-dedup hashes and the MinHash signatures depend on the
example alone: `Prechecker.run` does them for many examples at once. Looking those up against
earlier examples (first wins, in plan order) is `ExampleChecker.check_example` (checks.py), at
commit time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..taxonomy import GROUPS
from ..validate import Finding, Rules, apply_policy, count_words_low, validate_example
from .langid import LanguageChecker, identifier
from .neardup import MinHasher
from .textnorm import normalize

# what one example is checked on: (group, parsed object, placeholders)
Example = tuple[str, dict, dict]


def text_hash(text: str) -> int:
    """64-bit signed hash of the normalised text (SQLite integers are signed)."""
    return normalized_hash(normalize(text))


def normalized_hash(normalized: str) -> int:
    digest = hashlib.blake2b(normalized.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def dedup_keys(group: str, obj: dict, norm: dict[str, str], cfg: Rules):
    """(exact keys as (field, namespace, hash), long texts as (field, namespace)) of an example.

    The query-side text with its positive is one key: the same pair again is the same example.
    Each of the two with at least `dedup_min_words` words is a key of its own and a text for
    near-duplicate search; a short text recurring (a title, a label, a name) is no duplicate."""
    g = GROUPS[group]
    scope = group if cfg.dedup_scope == "group" else "*"
    keys = [(g.positive, f"pair/{scope}", normalized_hash(norm[g.query] + "\x1f" + norm[g.positive]))]
    long_texts = [(f, f"text/{scope}") for f in (g.query, g.positive)
                  if count_words_low(obj[f]) >= cfg.dedup_min_words]
    keys += [(f, ns, normalized_hash(norm[f])) for f, ns in long_texts]
    return keys, long_texts


@dataclass
class Precheck:
    """What an example earned on its own, then (checks.py) against the examples before it."""

    finding: Finding | None
    flags: list[str] = field(default_factory=list)
    langid: str = "ok"  # "ok" | "unchecked" (some text could not be judged) | "off"
    hashes: list[tuple[str, str, int]] = field(default_factory=list)  # (field, namespace, exact hash)
    near: list = field(default_factory=list)  # (field, neardup.Signed)
    duplicate_of: str | None = None  # set by ExampleChecker.check_example


class Prechecker:
    """Runs the order-free checks under one validation config."""

    def __init__(self, cfg: Rules) -> None:
        self.cfg = cfg
        self.lang_on = cfg.policy("wrong_language") != "off"
        self.near_on = cfg.policy("near_duplicate") != "off"
        self.lang = LanguageChecker()  # cheap: the model itself loads at the first check or warm()
        self._hasher = MinHasher(threshold=cfg.near_duplicate_threshold) if self.near_on else None

    def warm(self) -> None:
        """Load the language model now rather than at the first check."""
        if self.lang_on:
            identifier()

    def run(self, examples: list[Example]) -> list[Precheck]:
        """What each example earns on its own, in the order given."""
        return [self._one(group, obj, placeholders) for group, obj, placeholders in examples]

    def _one(self, group: str, obj: dict, placeholders: dict) -> Precheck:
        norm = {k: normalize(v) for k, v in obj.items() if isinstance(v, str)}  # once, for every check
        p = Precheck(*validate_example(group, obj, placeholders, self.cfg, norm))
        if p.finding is not None:
            return p
        if self.lang_on:
            self._language(group, obj, placeholders, p)
        else:
            p.langid = "off"
        if p.finding is None:
            p.hashes, long_texts = dedup_keys(group, obj, norm, self.cfg)
            if self._hasher is not None:
                p.near = [(f, self._hasher.sign(ns, norm[f])) for f, ns in long_texts]
        return p

    def _language(self, group: str, obj: dict, placeholders: dict, p: Precheck) -> None:
        """The first text confidently in another language decides; a text that cannot be judged
        (too short, or a language the detector lacks) makes the example "unchecked"."""
        for key, expected in GROUPS[group].language_fields(placeholders):
            verdict, detected = self.lang.judge(obj[key], expected)
            if verdict == "unchecked":
                p.langid = "unchecked"
            elif verdict == "mismatch":
                seen = detected or "another language"
                hit = Finding("wrong_language", f"'{key}' is in {seen}, not {expected}", key)
                p.finding, more = apply_policy([hit], self.cfg)
                p.flags += more
                return
