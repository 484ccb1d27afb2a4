"""What both stages share: their output writers and live counts."""

from __future__ import annotations

from pathlib import Path

from ..journal import Journal
from ..quality.precheck import text_hash  # noqa: F401  (re-exported for stages)
from ..shards import ShardWriter


class OutputStage:
    name = ""
    kinds: tuple[str, ...] = ()

    def __init__(self, run_dir: Path, journal: Journal, shard_size: int):
        self.journal = journal
        counts = journal.counters().get(self.name, {})
        self.accepted_total = sum(c.get("accepted", 0) for c in counts.values())
        self.rejected_total = sum(n for c in counts.values() for k, n in c.items() if k.startswith("rejected:"))
        self.writers = {k: ShardWriter(run_dir, k, journal, shard_size) for k in self.kinds}

    def count(self, group: str, key: str) -> None:
        """Bump a counter inside the open commit transaction (and the live totals)."""
        self.journal.bump(self.name, group, key)
        if key == "accepted":
            self.accepted_total += 1
        elif key.startswith("rejected:"):
            self.rejected_total += 1

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
