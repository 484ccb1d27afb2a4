"""The ordered executor: a long run of ready items is committed without starving the network."""

from __future__ import annotations

import asyncio

from synthgen.config import load_config
from synthgen.journal import Journal
from synthgen.llm.connect import connect
from synthgen.plan import WorkItem
from synthgen.stages import engine as engine_mod
from synthgen.stages.engine import Engine


class _Stage:
    """Commits nothing to disk; notes how far a loop-turn counter had got at each commit."""

    name = "generate"

    def __init__(self, turns: list[int], release: asyncio.Event, others: int) -> None:
        self.turns, self.release, self.others = turns, release, others
        self.at_commit: list[int] = []
        self.prepared = 0

    async def prepare(self, result):
        # the first item in plan order answers last: everything behind it is then ready at once
        if result.item.index == 0:
            await self.release.wait()
        else:
            self.prepared += 1
            if self.prepared == self.others:
                self.release.set()
        return None

    def schema(self, item):
        return None, "output"

    def parse(self, content: str) -> object:
        return content

    def commit(self, result) -> None:
        self.at_commit.append(self.turns[0])

    def flush_needed(self) -> bool:
        return False

    def flush(self) -> bool:
        return False

    def finalize_full(self) -> None:
        pass

    def finalize_all(self) -> None:
        pass


def _items(n: int) -> list[WorkItem]:
    return [WorkItem(id=f"i{k}", index=k, stage="generate", group="sts", k=k,
                     messages=[{"role": "user", "content": f"Write sentence {k}."}], seed=k) for k in range(n)]


def _run_counting_turns(tmp_path, base_url: str, write_config, make_stage, n: int, window: int):
    """Run the engine over n items with a task counting turns of the event loop; the stage."""
    cfg = load_config(write_config(base_url, concurrency=64))
    journal = Journal(tmp_path / "journal")

    async def main():
        turns = [0]

        async def probe() -> None:
            while True:
                turns[0] += 1
                await asyncio.sleep(0)

        stage = make_stage(turns)
        ticker = asyncio.ensure_future(probe())
        try:
            async with connect(cfg) as client:
                engine = Engine(stage, journal, client, 0, window)
                await engine.run(iter(_items(n)))  # the callers check that all n were committed
        finally:
            ticker.cancel()
        return stage

    try:
        return asyncio.run(main())
    finally:
        journal.close()


def test_a_long_run_of_ready_items_gives_the_event_loop_back_every_slice(tmp_path, server, write_config):
    n = 200
    stage = _run_counting_turns(tmp_path, server.base_url, write_config,
                                lambda turns: _Stage(turns, asyncio.Event(), n - 1), n, 64)
    assert len(stage.at_commit) == n
    run = stage.at_commit[1:]  # items 1..199 were all waiting for item 0: one run of 199 commits
    slice_ = engine_mod.COMMIT_SLICE
    for a, b in zip(run, run[slice_:]):
        assert b > a, "the loop ran nothing else for a whole slice of commits"
    assert run[0] == run[slice_ - 2]  # within a slice, commits follow one another directly


class _InOrderStage(_Stage):
    """Every answer is held until all have arrived, then let go in plan order in one turn: the
    queue then holds a long run of answers that each commit exactly one item."""

    def __init__(self, turns: list[int], n: int) -> None:
        super().__init__(turns, asyncio.Event(), n)
        self.events = [asyncio.Event() for _ in range(n)]
        self.arrived = 0

    async def prepare(self, result):
        self.arrived += 1
        if self.arrived == len(self.events):
            for event in self.events:
                event.set()
        await self.events[result.item.index].wait()
        return None


def test_many_answers_each_committing_one_item_still_give_the_loop_back_every_slice(
        tmp_path, server, write_config):
    # the slice counts commits across answers: 64 answers landing in one turn, each committing
    # one item, must not hold every socket for the whole run of them
    n = 120
    stage = _run_counting_turns(tmp_path, server.base_url, write_config, lambda turns: _InOrderStage(turns, n), n, 128)
    at = stage.at_commit
    assert len(at) == n
    slice_ = engine_mod.COMMIT_SLICE
    for a, b in zip(at, at[slice_:]):
        assert b > a, "the loop ran nothing else for a whole slice of commits"
    assert len(set(at)) < n  # and commits inside a slice still follow one another directly
