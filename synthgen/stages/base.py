"""What both stages share: their output writers and live counts."""

from __future__ import annotations

from pathlib import Path

from ..journal import Journal
from ..records import RejectRecord
from ..shards import ShardWriter


class OutputStage:
    """What the engine calls: schema, parse, prepare (order-free checks as an answer arrives),
    commit (in plan order, its writes gathered for the next journal commit), flush_needed,
    flush (write pending lines; True if a part is full) and finalize_full (after the commit)."""

    name = ""
    kinds: tuple[str, ...] = ()

    def __init__(self, run_dir: Path, journal: Journal, shard_size: int):
        self.journal = journal
        counts = journal.counters().get(self.name, {})
        self.items_total = sum(c.get("items", 0) for c in counts.values())
        self.accepted = {g: c.get("accepted", 0) for g, c in counts.items()}
        self.accepted_total = sum(self.accepted.values())
        self.rejected_total = sum(n for c in counts.values() for k, n in c.items() if k.startswith("rejected:"))
        self.writers = {k: ShardWriter(run_dir, k, journal, shard_size) for k in self.kinds}

    def count(self, group: str, key: str) -> None:
        """Bump a counter in the gathered commit (and the live totals)."""
        self.journal.bump(self.name, group, key)
        if key == "items":
            self.items_total += 1
        elif key == "accepted":
            self.accepted_total += 1
            self.accepted[group] = self.accepted.get(group, 0) + 1
        elif key.startswith("rejected:"):
            self.rejected_total += 1

    def reject(self, rec: RejectRecord) -> None:
        self.writers["rejects"].add(rec.model_dump(exclude_none=True))
        # surplus: a good one past the group's quota, kept in rejects but not counted as bad
        self.count(rec.group, "surplus" if rec.reason == "surplus" else f"rejected:{rec.reason}")

    async def start(self) -> None:
        """Start what the stage needs before the first request (a worker process)."""

    async def prepare(self, result) -> object | None:
        return None

    def flush_needed(self) -> bool:
        return any(w.full for w in self.writers.values())

    def flush(self) -> bool:
        for w in self.writers.values():
            w.flush()
        return self.flush_needed()

    def finalize_full(self) -> None:
        for w in self.writers.values():
            if w.full:
                w.finalize()

    async def aclose(self) -> None:
        """Release what the stage started (worker processes); output files are not touched."""

    def finalize_all(self) -> None:
        for w in self.writers.values():
            w.finalize()
