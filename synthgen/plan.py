"""Deterministic work items: a pure function of (config, seed, tasks).

Every item draws its placeholders from its own RNG, seeded by (seed, stage, group, k), so item k
is the same whether the plan is walked whole, sliced with --limit or split with --shard K/N, on
any machine. Items are yielded lazily: a 500k-example plan never sits in memory.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .config import RunConfig
from .prompts import Template, load_template
from .taxonomy import GROUPS


@dataclass(frozen=True)
class WorkItem:
    id: str
    index: int  # position in the stage's full plan (before sharding or limits)
    stage: str  # "brainstorm" | "generate"
    group: str
    k: int  # position within the group
    messages: list[dict] = field(hash=False)
    seed: int = 0
    task: str | None = None
    placeholders: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Shard:
    """`--shard K/N`: this process takes the items whose plan index is K modulo N."""

    k: int = 0
    n: int = 1

    @classmethod
    def parse(cls, text: str | None) -> "Shard":
        if text is None:  # "" (an unset $SHARD in a CI matrix) must not mean the whole plan
            return cls()
        try:
            k, n = (int(x) for x in text.split("/"))
        except ValueError:
            raise ValueError(f"--shard expects K/N like 0/4, got '{text}'") from None
        if n < 1 or not 0 <= k < n:
            raise ValueError(f"--shard {text}: need 0 <= K < N")
        return cls(k, n)

    def takes(self, index: int) -> bool:
        return index % self.n == self.k

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _item_id(stage: str, group: str, k: int, prompt: str, seed: int) -> str:
    """The hash of the sorted-keys JSON of [stage, group, k, messages, seed], the one user
    message holding `prompt` (ids must never change, or older journals would not resume),
    written directly: the same string json.dumps makes at half the cost."""
    blob = (f'[{_ENCODE(stage)}, {_ENCODE(group)}, {k}, [{{"content": {_ENCODE(prompt)}, '
            f'"role": "user"}}], {seed}]')
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _item(stage: str, group: str, k: int, index: int, rng: random.Random, prompt: str, **extra) -> WorkItem:
    """The item asking `prompt` in one user message, its request seed the next draw of `rng`."""
    seed = rng.randrange(1, 2**31 - 1)
    return WorkItem(id=_item_id(stage, group, k, prompt, seed), index=index, stage=stage, group=group, k=k,
                    messages=[{"role": "user", "content": prompt}], seed=seed, **extra)


class LanguageSampler:
    """Weighted language draws (the paper's figure 2 by default); bitext pairs with src != tgt."""

    def __init__(self, weights: dict[str, float]):
        self.names = sorted(weights)
        self.weights = [weights[n] for n in self.names]
        # what `choices(names, weights)` computes on every call: same draws, once
        self.cum_weights = list(itertools.accumulate(self.weights))

    def one(self, rng: random.Random) -> str:
        return rng.choices(self.names, cum_weights=self.cum_weights)[0]

    def pair(self, rng: random.Random) -> tuple[str, str]:
        """(src, tgt), never equal: the config refuses bitext with fewer than two weights > 0."""
        src = self.one(rng)
        others = [(n, w) for n, w in zip(self.names, self.weights) if n != src]
        return src, rng.choices([n for n, _ in others], [w for _, w in others])[0]


def _templates(cfg: RunConfig, stage: str, groups: list[str]) -> dict[str, Template]:
    root = Path(cfg.prompts_dir) if cfg.prompts_dir else None
    return {g: load_template(stage, g, root) for g in groups}


def brainstorm_items(cfg: RunConfig, calls: dict[str, range] | None = None) -> Iterator[WorkItem]:
    """Stage 1: `ceil(tasks / tasks_per_call)` calls per group that brainstorms, or the call
    numbers `calls` picks per group (a top-up round)."""
    groups = [g for g in cfg.active_groups() if GROUPS[g].brainstorm]
    if calls is not None:
        groups = [g for g in groups if g in calls]
    templates = _templates(cfg, "brainstorm", groups)
    index = 0
    for group in groups:
        for k in (calls[group] if calls is not None else range(cfg.brainstorm_calls(group))):
            text = templates[group].render({"num_tasks": str(cfg.brainstorm.tasks_per_call)})
            yield _item("brainstorm", group, k, index, _rng(cfg.seed, "brainstorm", group, k), text)
            index += 1


def _interleaved(counts: dict[str, int]) -> Iterator[tuple[str, int]]:
    """Merge groups so any prefix of the plan holds each group in proportion to its size."""
    order = {g: i for i, g in enumerate(counts)}

    def one(group: str, n: int) -> Iterator[tuple[float, int, str, int]]:
        for k in range(n):
            yield ((k + 0.5) / n, order[group], group, k)

    for _, _, group, k in heapq.merge(*(one(g, n) for g, n in counts.items() if n > 0)):
        yield group, k


def generate_items(cfg: RunConfig, tasks: dict[str, list[str]]) -> Iterator[WorkItem]:
    """Stage 2: example k of a brainstorming group uses task k mod len(tasks). Checks eagerly
    (a ValueError here, not at the first next()), then yields lazily."""
    groups = cfg.active_groups()
    for g in groups:
        if GROUPS[g].brainstorm and not tasks.get(g):
            raise ValueError(f"no brainstormed tasks for group '{g}' "
                             "(its config asked for none, or none passed stage 1's checks)")
    make = _ItemMaker(cfg, tasks, groups)
    counts = {g: cfg.groups[g].examples for g in groups}
    return (make(group, k, index) for index, (group, k) in enumerate(_interleaved(counts)))


def topup_items(cfg: RunConfig, tasks: dict[str, list[str]], slots: dict[str, range],
                shard: Shard) -> Iterator[WorkItem]:
    """Stage 2 top-up round: `slots[g]` more items of group g. Slot j is example
    k = examples + j * N + K (shard K/N): no two shards' extra items coincide, none repeats a
    planned one. Indexes count within the round."""
    make = _ItemMaker(cfg, tasks, list(slots))
    base = {g: cfg.groups[g].examples for g in slots}
    counts = {g: len(r) for g, r in slots.items()}
    for index, (group, j) in enumerate(_interleaved(counts)):
        k = base[group] + (slots[group].start + j) * shard.n + shard.k
        yield make(group, k, index)


class _ItemMaker:
    """Example k of a group: placeholders from its own RNG, task k mod len(tasks)."""

    def __init__(self, cfg: RunConfig, tasks: dict[str, list[str]], groups: list[str]):
        self.cfg, self.tasks = cfg, tasks
        self.templates = _templates(cfg, "generate", groups)
        self.langs = LanguageSampler(cfg.language_weights())

    def __call__(self, group: str, k: int, index: int) -> WorkItem:
        rng = _rng(self.cfg.seed, "generate", group, k)
        g = GROUPS[group]
        values = {name: rng.choice(options) for name, options in g.placeholders.items()}
        if g.language_slots == ("src_lang", "tgt_lang"):
            values["src_lang"], values["tgt_lang"] = self.langs.pair(rng)
        else:
            values["language"] = self.langs.one(rng)
        task = self.tasks[group][k % len(self.tasks[group])] if g.brainstorm else None
        template = self.templates[group]
        prompt = template.render(values if task is None else {**values, "task": task})
        # only the values the prompt states are recorded (and checked): an edited template that
        # writes "in English" must not have its answers judged against a sampled language
        asked = {name: v for name, v in values.items() if name in template.placeholders}
        return _item("generate", group, k, index, rng, prompt, task=task, placeholders=asked)


def shard_targets(cfg: RunConfig, shard: Shard) -> dict[str, int]:
    """Planned examples per group in this shard: the accepted counts it should reach."""
    counts = {g: cfg.groups[g].examples for g in cfg.active_groups()}
    if shard.n == 1:
        return counts
    out = dict.fromkeys(counts, 0)
    for index, (group, _) in enumerate(_interleaved(counts)):
        if shard.takes(index):
            out[group] += 1
    return out


def select(items: Iterator[WorkItem], shard: Shard, limit: int | None) -> Iterator[WorkItem]:
    """Apply --shard then --limit (the limit counts this shard's items)."""
    return itertools.islice((item for item in items if shard.takes(item.index)), limit)
