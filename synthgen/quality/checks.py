"""Every check of one example, in order: validation, language, exact and near-duplicate dedup.

Shared by stage 2, stage 1's task dedup, `synthgen validate` and `synthgen merge`, so a run, a
re-check and a merge judge records the same way. Dedup state lives in the run's journal: exact
hashes in `seen`, MinHash signatures and LSH band keys in `neardup` and `bands`, so memory stays
flat and a resume rebuilds nothing. First in plan order wins, so answers are repeatable.
"""

from __future__ import annotations

from ..journal import Journal
from ..validate import Finding, Rules, apply_policy
from .neardup import NearDupStore
from .precheck import Precheck, Prechecker


class ExampleChecker:
    """Judges examples in plan order against what the journal has accepted before them."""

    def __init__(self, cfg: Rules, journal: Journal):
        self.cfg = cfg
        self.journal = journal
        self.pre = Prechecker(cfg)
        self._near = NearDupStore(journal, cfg.near_duplicate_threshold) if self.pre.near_on else None

    def check_example(self, group: str, obj: dict, placeholders: dict[str, str], item_id: str,
                      pre: Precheck | None = None, claim: bool = True) -> Precheck:
        """Run every check in order; claims dedup entries only for what it accepts (or flags).
        `pre`: the order-free checks already done for this example (precheck.py), else done here.
        The answer's `duplicate_of` names the earlier copy of a (near-)duplicate. `claim=False`:
        checked, but nothing stored for later ones to be compared with (a surplus example)."""
        if pre is None:
            pre = self.pre.run([(group, obj, placeholders)])[0]
        if pre.finding:
            return pre
        flags = list(pre.flags)
        for f, ns, h in pre.hashes:
            prior = self.journal.seen(ns, h)
            if prior is not None:
                what = ("with its query repeats an earlier example" if ns.startswith("pair/")
                        else "repeats an earlier text")
                hit = Finding("duplicate", f"'{f}' {what}", f)
                return Precheck(hit, flags, pre.langid, duplicate_of=prior)
        # every text is looked up before any is stored: a text of a rejected example must not
        # stay behind as the "earlier copy" of later ones, and a flagged example's other texts
        # are still stored for later ones to be compared with
        fresh = []
        for f, signed in pre.near:
            prior = self._near.find(signed)
            if prior is None:
                fresh.append(signed)
                continue
            hit = Finding("near_duplicate", f"'{f}' is a near-copy of an earlier text", f)
            reject, more = apply_policy([hit], self.cfg)
            if reject:
                return Precheck(reject, flags, pre.langid, duplicate_of=prior)
            flags += [m for m in more if m not in flags]
        for signed in fresh if claim else ():
            self._near.add(item_id, signed)
        for _, ns, h in pre.hashes if claim else ():
            self.journal.claim(ns, h, item_id)
        return Precheck(None, flags, pre.langid)
