"""Top-up rounds: more items for groups still short of their target after the planned ones.

Stage 1 wants `groups.<g>.tasks` distinct usable tasks; stage 2 wants `groups.<g>.examples`
accepted examples. Rejects leave groups short, so after the planned items each stage runs up
to `max_rounds` further rounds for the groups still short. A round is decided from what is
committed when the previous one ends, then written to the journal before its first request:
a resumed run replays the same decision, so resume stays exact mid-round.
"""

from __future__ import annotations

import json
import math

from .config import RunConfig
from .journal import Journal

# a group's accept rate below this is taken as this when sizing its next round
MIN_RATE = 0.1


def _saved(journal: Journal, key: str, decide) -> dict[str, range]:
    saved = journal.get_meta(key)
    if saved is None:
        saved = json.dumps(decide(), sort_keys=True)
        journal.set_meta(key, saved)
    return {g: range(a, a + n) for g, (a, n) in json.loads(saved).items() if n > 0}


def _next_start(journal: Journal, prefix: str, r: int, group: str, first: int) -> int:
    """Where group's call numbers (or slots) continue after rounds 1..r-1."""
    start = first
    for prev in range(1, r):
        a, n = json.loads(journal.get_meta(f"{prefix}:{prev}") or "{}").get(group, [first, 0])
        start = max(start, a + n)
    return start


def brainstorm_round(cfg: RunConfig, journal: Journal, missing: dict[str, int], r: int) -> dict[str, range]:
    """Stage 1 round r: call numbers per group short of tasks (`missing`: tasks it lacks)."""
    per_call = cfg.brainstorm.tasks_per_call

    def decide() -> dict[str, list[int]]:
        return {g: [_next_start(journal, "brainstorm_round", r, g, cfg.brainstorm_calls(g)),
                    math.ceil(n / per_call)] for g, n in missing.items()}

    return _saved(journal, f"brainstorm_round:{r}", decide)


def generate_round(cfg: RunConfig, journal: Journal, targets: dict[str, int], r: int) -> dict[str, range]:
    """Stage 2 round r: slots per group still short of its accepted target.

    A group short by s that accepted a share p of its items so far gets ceil(s / p) items (p at
    least MIN_RATE). All rounds together add at most `generate.max_extra_share` of the planned
    items; when a round would go past that, groups are served in taxonomy order until it is
    spent."""

    def decide() -> dict[str, list[int]]:
        counts = journal.counters().get("generate", {})
        planned = sum(targets.values())
        spent = sum(n for p in range(1, r)
                    for _, n in json.loads(journal.get_meta(f"generate_round:{p}") or "{}").values())
        left = math.floor(cfg.generate.max_extra_share * planned) - spent
        plan = {}
        for g, target in targets.items():
            c = counts.get(g, {})
            short = target - c.get("accepted", 0)
            if short <= 0 or left <= 0:
                continue
            rate = max(MIN_RATE, c.get("accepted", 0) / c["items"]) if c.get("items") else 1.0
            n = min(left, math.ceil(short / rate))
            plan[g] = [_next_start(journal, "generate_round", r, g, 0), n]
            left -= n
        return plan

    return _saved(journal, f"generate_round:{r}", decide)


def shortfall(journal: Journal, targets: dict[str, int]) -> dict[str, dict[str, int]]:
    """Groups below their accepted target: {group: {"accepted": a, "target": t}}."""
    counts = journal.counters().get("generate", {})
    out = {}
    for g, target in targets.items():
        accepted = counts.get(g, {}).get("accepted", 0)
        if accepted < target:
            out[g] = {"accepted": accepted, "target": target}
    return out
