"""One streaming pass over a run's published files: the counts behind `synthgen stats`.

Memory does not grow with the number of records: everything is a counter keyed by group, language,
reason or word count. Only finished parts (`part-*.jsonl`) are read; the open `.jsonl.tmp` part of
a running stage may be cut back on resume.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import orjson

from ..taxonomy import GROUPS
from ..validate import RULE_DEFAULTS, count_words, required_words

LENGTH_CAP = 20_000  # words; longer texts share the histogram's last bin

# Reasons an item is rejected for before any guideline rule looks at it.
UNTESTED_REASONS = frozenset({"bad_json", "truncated", "missing_key", "extra_key", "wrong_type",
                              "empty_field", "request_failed"})

# Groups each guideline rule can fire for (see synthgen.validate); a rule not listed here applies
# to every group, so a rule added later is still counted, only less precisely.
RULE_GROUPS: dict[str, tuple[str, ...]] = {
    "query_length": ("short-long",), "copied_query": ("short-long", "short-short", "long-long"),
    "same_positive_negative": ("short-long",), "hard_negative_closer": ("short-long",),
    "same_labels": ("long-short",), "label_in_input": ("long-short",),
    "identical_sentences": ("sts", "bitext"), "sts_order": ("sts",),
}

ADHERENCE_NOTE = ("adherence = 1 - (rejected + flagged) / validated, over the groups a rule applies to; "
                  "an item rejected by an earlier check was not tested by later ones (they count it as "
                  "passed), and items rejected before validation (bad_json, missing_key, ...) are left out")


def language_of(placeholders: dict) -> str:
    """The sampled language; 'src->tgt' for bitext; '?' when the record carries none."""
    if not isinstance(placeholders, dict):
        return "?"
    if "src_lang" in placeholders or "tgt_lang" in placeholders:
        return f"{placeholders.get('src_lang', '?')}->{placeholders.get('tgt_lang', '?')}"
    return str(placeholders.get("language", "?"))


def _records(directory: Path, problems: Counter) -> Iterator[dict]:
    """Records of the published parts, in order; unreadable, torn or non-object lines are counted."""
    for path in sorted(directory.glob("part-*.jsonl")) if directory.is_dir() else ():
        where = f"{directory.name}/{path.name}"
        try:
            with open(path, "rb") as f:
                for line in f:
                    if not line.endswith(b"\n"):
                        problems[f"torn last line in {where}"] += 1
                        continue
                    try:
                        rec = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        problems[f"invalid JSON lines in {directory.name}/"] += 1
                        continue
                    if isinstance(rec, dict):
                        yield rec
                    else:
                        problems[f"non-object lines in {directory.name}/"] += 1
        except OSError as exc:
            problems[f"unreadable {where} ({exc.strerror})"] += 1


def _langid_verdicts(value: object) -> list[str]:
    """Verdicts in a record's langid field: "ok" | "unchecked" | "off" for the record (what the
    pipeline writes), or one per text when a tool stores a {field: verdict} map or a list."""
    values = list(value.values()) if isinstance(value, dict) else value
    return [str(v) for v in values] if isinstance(values, list) else [] if values is None else [str(values)]


def _length_summary(bins: Counter[int], max_bins: int = 12) -> dict:
    """count, min, median, mean and max of exact word counts, and a histogram of at most max_bins
    equal-width bins of a round width (1, 2, 5, 10, 20, ...) a reader can add up in their head;
    texts longer than LENGTH_CAP share the last bin."""
    values = sorted(bins)
    cumulative = list(itertools.accumulate(bins[v] for v in values))
    n = cumulative[-1]
    hi = min(values[-1], LENGTH_CAP)
    lo = min(values[0], hi)  # every text past the cap: one bin
    widths = (step * 10**k for k in itertools.count() for step in (1, 2, 5))
    width = next(w for w in widths if hi // w - lo // w + 1 <= max_bins)
    start, nbins = lo // width * width, hi // width - lo // width + 1
    counts = [0] * nbins
    for value in values:
        counts[min((value - start) // width, nbins - 1)] += bins[value]
    median = (values[bisect_right(cumulative, (n - 1) // 2)] + values[bisect_right(cumulative, n // 2)]) / 2
    return {"count": n, "min": values[0], "median": median,
            "mean": round(sum(v * c for v, c in bins.items()) / n, 1), "max": values[-1],
            "histogram": {"edges": [start + i * width for i in range(nbins + 1)], "counts": counts}}


class RunScan:
    """The counters of one pass over a run's files."""

    def __init__(self, run_dir: Path) -> None:
        self.by_group: defaultdict[str, Counter] = defaultdict(Counter)
        self.by_language: defaultdict[str, Counter] = defaultdict(Counter)
        self.lengths: defaultdict[tuple[str, str], Counter] = defaultdict(Counter)  # words -> texts
        self.asked: defaultdict[tuple[str, str], Counter] = defaultdict(Counter)
        self.usage = Counter(prompt_tokens=0, completion_tokens=0)
        self.langid: Counter = Counter()
        self.langid_seen = 0
        self.reject_stages: Counter = Counter()
        self.brainstorm: defaultdict[str, Counter] = defaultdict(Counter)
        self.problems: Counter = Counter()
        for rec in _records(run_dir / "examples", self.problems):
            self.add_example(rec)
        for rec in _records(run_dir / "rejects", self.problems):
            self.add_reject(rec)
        for rec in _records(run_dir / "tasks", self.problems):
            self.brainstorm[str(rec.get("group", "?"))]["kept"] += 1

    def _count(self, group: str, placeholders: object, *keys: str) -> None:
        g, lg = self.by_group[group], self.by_language[language_of(placeholders)]
        for key in keys:
            g[key] += 1
            lg[key] += 1

    def add_example(self, rec: dict) -> None:
        group = str(rec.get("group", "?"))
        placeholders = rec.get("placeholders") if isinstance(rec.get("placeholders"), dict) else {}
        flags = rec.get("flags") if isinstance(rec.get("flags"), list) else []
        self._count(group, placeholders, "items", "accepted",
                    *(f"flagged:{f}" for f in flags), *(["flagged"] if flags else []))
        usage = rec.get("usage") if isinstance(rec.get("usage"), dict) else {}
        self.usage["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
        self.usage["completion_tokens"] += int(usage.get("completion_tokens") or 0)
        if "langid" in rec:
            self.langid_seen += 1
            self.langid.update(_langid_verdicts(rec["langid"]))
        for key in GROUPS[group].output_keys if group in GROUPS else ():
            text = rec.get(key)
            if not isinstance(text, str):
                continue
            words = count_words(text)
            self.lengths[group, key][words] += 1
            try:
                need = required_words(group, key, placeholders)
            except (KeyError, ValueError):
                need = None
            if need:
                self.asked[group, key]["checked"] += 1
                self.asked[group, key]["below"] += int(words < need)

    def add_reject(self, rec: dict) -> None:
        group, reason = str(rec.get("group", "?")), str(rec.get("reason", "?"))
        self.reject_stages[str(rec.get("stage", "?"))] += 1
        # stage "validate" or "merge" (re-checked or merged runs) rejects examples like stage 2 does
        if rec.get("stage") == "brainstorm":
            self.brainstorm[group]["surplus" if reason == "surplus" else f"rejected:{reason}"] += 1
        elif reason == "surplus":  # a good example past its group's target: not a defect
            self._count(group, rec.get("placeholders"), "items", "surplus")
        else:
            self._count(group, rec.get("placeholders"), "items", "rejected", f"rejected:{reason}")


def _by_count(pairs: Iterator[tuple[str, int]]) -> dict[str, int]:
    return dict(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))


def _split(c: Counter) -> dict:
    """A group/language counter as items (accepted + rejected + surplus) and the two breakdowns."""
    return {
        "items": c["items"], "accepted": c["accepted"], "rejected": c["rejected"], "surplus": c["surplus"],
        "flagged": c["flagged"],
        "acceptance_rate": round(c["accepted"] / c["items"], 4) if c["items"] else None,
        "rejected_by_reason": _by_count((k[9:], n) for k, n in c.items() if k.startswith("rejected:")),
        "flagged_by_rule": _by_count((k[8:], n) for k, n in c.items() if k.startswith("flagged:")),
    }


def _brainstorm_split(c: Counter) -> dict:
    rejected = {k[9:]: n for k, n in sorted(c.items()) if k.startswith("rejected:")}
    return {"kept": c["kept"], "surplus": c["surplus"], "rejected": sum(rejected.values()),
            "rejected_by_reason": rejected}


def adherence(by_group: dict[str, Counter], policies: dict[str, str]) -> dict:
    """Per guideline rule: of the items that reached validation in groups the rule applies to,
    how many did not fail it (rejected with it or flagged with it)."""
    rules = {}
    for rule in RULE_DEFAULTS:
        groups = RULE_GROUPS.get(rule, tuple(GROUPS))
        c = sum((by_group.get(g, Counter()) for g in groups), Counter())
        validated = c["items"] - sum(c[f"rejected:{r}"] for r in UNTESTED_REASONS)
        rejected, flagged = c[f"rejected:{rule}"], c[f"flagged:{rule}"]
        policy = policies.get(rule, RULE_DEFAULTS[rule])
        tested = validated and policy != "off"
        rules[rule] = {
            "policy": policy, "groups": list(groups), "items": c["items"], "validated": validated,
            "failed": rejected + flagged, "rejected": rejected, "flagged": flagged,
            "adherence": round(1 - (rejected + flagged) / validated, 4) if tested else None,
        }
    return {"note": ADHERENCE_NOTE, "rules": rules}


def summarize(run_dir: Path, policies: dict[str, str] | None = None) -> dict:
    """Everything the files say about a run, as a JSON-able dict (see synthgen.report)."""
    run_dir = Path(run_dir)
    s = RunScan(run_dir)
    open_parts = sorted(f"{p.parent.name}/{p.name}" for kind in ("tasks", "examples", "rejects")
                        for p in (run_dir / kind).glob("part-*.jsonl.tmp"))
    total = sum(s.by_group.values(), Counter())
    gen = _split(total)
    items, reasons = total["items"], gen["rejected_by_reason"]

    def rate(n: int) -> dict:
        return {"count": n, "rate": round(n / items, 4) if items else None}

    lengths: dict[str, dict] = {}
    for (group, key), bins in sorted(s.lengths.items()):
        asked = s.asked.get((group, key))
        lengths.setdefault(group, {})[key] = {**_length_summary(bins), "asked": None if asked is None else {
            "checked": asked["checked"], "below": asked["below"],
            "share_below": round(asked["below"] / asked["checked"], 4) if asked["checked"] else None}}
    bs_total = _brainstorm_split(sum(s.brainstorm.values(), Counter()))
    return {
        "generate": {**gen,
                     "by_group": {g: _split(c) for g, c in sorted(s.by_group.items())},
                     "by_language": {lang: _split(c) for lang, c in
                                     sorted(s.by_language.items(), key=lambda kv: (-kv[1]["items"], kv[0]))}},
        "adherence": adherence(s.by_group, policies or {}),
        "lengths": lengths,
        "duplicates": {"exact": rate(reasons.get("duplicate", 0)),
                       "near": rate(reasons.get("near_duplicate", 0))},
        "language_check": {
            "wrong_language": rate(reasons.get("wrong_language", 0) + total["flagged:wrong_language"]),
            "langid_field_seen": s.langid_seen > 0,
            "langid_verdicts": dict(sorted(s.langid.items())) if s.langid_seen else None,
            "unchecked_texts": s.langid["unchecked"] if s.langid_seen else None},
        "accepted_usage": dict(s.usage),
        "brainstorm_files": {"tasks_kept": bs_total.pop("kept"), **bs_total,  # surplus, rejected, ...
                             "by_group": {g: _brainstorm_split(c) for g, c in sorted(s.brainstorm.items())}},
        "files": {"open_parts_ignored": open_parts,
                  "rejects_by_stage": dict(sorted(s.reject_stages.items())),
                  "problems": dict(sorted(s.problems.items()))},
    }
