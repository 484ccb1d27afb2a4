"""The stateful quality checks: language identity, exact and near-duplicate dedup.

Shared by stage 2 (`GenerateStage`), stage 1's task dedup, `synthgen validate` and `synthgen
merge`, so a run, a re-check and a merge judge records the same way. Dedup state lives in the
run's journal (SQLite): exact hashes in `seen`, MinHash signatures in `neardup` and their LSH
band hashes in `lsh` (quality/lsh_store.py), so memory stays flat and a resume rebuilds nothing.
First in plan order wins, so answers are repeatable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..config import ValidationConfig
from ..journal import Journal
from ..taxonomy import GROUPS
from ..validate import DEDUP_FIELDS, Finding, apply_policy, validate_example
from .textnorm import normalize


def text_hash(text: str) -> int:
    """64-bit signed hash of the normalised text (SQLite integers are signed)."""
    digest = hashlib.blake2b(normalize(text).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def language_fields(group: str, placeholders: dict[str, str]) -> list[tuple[str, str]]:
    """(field, expected language) pairs: what each text was asked to be written in."""
    if group == "bitext":
        return [("S1", placeholders["src_lang"]), ("S2", placeholders["tgt_lang"]), ("S3", placeholders["tgt_lang"])]
    lang = placeholders.get("language")
    if not lang:
        return []
    if group == "long-short":  # the prompt fixes the language of input_text only
        return [("input_text", lang)]
    return [(k, lang) for k in GROUPS[group].output_keys]


@dataclass
class Verdict:
    finding: Finding | None
    flags: list[str] = field(default_factory=list)
    langid: str = "ok"  # "ok" | "unchecked" (some text could not be judged) | "off"
    duplicate_of: str | None = None


class QualityGate:
    def __init__(self, cfg: ValidationConfig, journal: Journal, preload_language: bool = True):
        self.cfg = cfg
        self.journal = journal
        self._lang = None
        self.near_on = cfg.policy("near_duplicate") != "off"
        self.lang_on = cfg.policy("wrong_language") != "off"
        self._near = None
        if self.lang_on and preload_language:
            # load the ~100 MB model while the first requests are in flight, not at the first check
            import threading

            from .langid import _load_model

            threading.Thread(target=_load_model, name="langid-load", daemon=True).start()
        if self.near_on:
            from .lsh_store import DiskNearDup

            self._near = DiskNearDup(journal.db, threshold=cfg.near_duplicate_threshold)

    @property
    def lang(self):
        if self._lang is None:
            from .langid import LanguageChecker

            self._lang = LanguageChecker()
        return self._lang

    def _language(self, group: str, obj: dict, placeholders: dict[str, str]) -> tuple[list[Finding], str]:
        if not self.lang_on:
            return [], "off"
        findings, status = [], "ok"
        for key, expected in language_fields(group, placeholders):
            verdict = self.lang.check(obj[key], expected)
            if verdict == "unchecked":
                status = "unchecked"
            elif verdict == "mismatch":
                seen = self.lang.detect(obj[key]) or "another language"
                findings.append(Finding("wrong_language", f"'{key}' is in {seen}, not {expected}", key))
                break
        return findings, status

    def near_duplicate(self, ns: str, key: str, text: str) -> str | None:
        """The key of an earlier near-copy in namespace `ns`, else None (and `text` is indexed)."""
        return self._near.check_and_add(ns, key, text)

    def exact_duplicate(self, hashes: list[tuple[str, str, int]]) -> tuple[str, str] | None:
        for f, ns, h in hashes:
            prior = self.journal.seen(ns, h)
            if prior is not None:
                return f, prior
        return None

    def check_example(self, group: str, obj: dict, placeholders: dict[str, str], item_id: str) -> Verdict:
        """Run every check in order; claims dedup entries only for what it accepts (or flags)."""
        finding, flags = validate_example(group, obj, placeholders, self.cfg)
        if finding:
            return Verdict(finding, flags)
        lang_findings, langid = self._language(group, obj, placeholders)
        finding, more = apply_policy(lang_findings, self.cfg)
        flags += more
        if finding:
            return Verdict(finding, flags, langid)
        hashes = [(f, ns, text_hash(obj[f])) for f, ns in DEDUP_FIELDS[group]]
        dup = self.exact_duplicate(hashes)
        if dup:
            return Verdict(Finding("duplicate", f"'{dup[0]}' duplicates an earlier text", dup[0]), flags, langid, dup[1])
        if self.near_on:
            for f, ns in DEDUP_FIELDS[group]:
                prior = self.near_duplicate(ns, item_id, obj[f])
                if prior is not None:
                    hit = Finding("near_duplicate", f"'{f}' is a near-copy of an earlier {ns}", f)
                    reject, more = apply_policy([hit], self.cfg)
                    if reject:
                        return Verdict(reject, flags, langid, prior)
                    flags += more
                    break
        for f, ns, h in hashes:
            self.journal.claim(ns, h, item_id)
        return Verdict(None, flags, langid)
