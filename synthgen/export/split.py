"""A held-out split by task: no brainstormed task has examples on both sides.

A random split by example leaks: the examples of one task share its instruction and topic, so
a test example's task was nearly always in training too. Each brainstormed task goes to one side
as a whole. The symmetric groups (sts, bitext) have one fixed instruction rather than tasks, so
their unit is the example.

The choice is a hash of (seed, group, unit), not a shuffle of the records in the order read:
the same seed picks the same tasks whatever the file order, so a run merged from shards is
split exactly like the single-machine run.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

from ..taxonomy import GROUPS
from .reader import Example


def split_unit(ex: Example) -> str:
    return ex.task if GROUPS[ex.group].brainstorm else ex.id


def _rank(seed: int, group: str, unit: str) -> str:
    return hashlib.sha256(f"{seed}\x00{group}\x00{unit}".encode()).hexdigest()


def held_out_units(examples: Iterable[Example], fraction: float, seed: int) -> set[tuple[str, str]]:
    """(group, unit) pairs of the eval side: per group, `fraction` of its units (rounded; at
    least one when the fraction is above 0 and the group has two units or more)."""
    units: dict[str, set[str]] = {}
    for ex in examples:
        units.setdefault(ex.group, set()).add(split_unit(ex))
    held: set[tuple[str, str]] = set()
    if fraction == 0.0:
        return held
    for group, names in units.items():
        n = round(fraction * len(names))
        if n == 0 and len(names) >= 2:
            n = 1
        n = min(n, len(names) - 1)  # keep at least one unit for training
        for name in sorted(names, key=lambda u: _rank(seed, group, u))[:n]:
            held.add((group, name))
    return held


def split(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(train, eval) in the order given."""
    held = held_out_units(examples, fraction, seed)
    train, test = [], []
    for ex in examples:
        (test if (ex.group, split_unit(ex)) in held else train).append(ex)
    return train, test
