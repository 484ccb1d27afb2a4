"""A run that crosses to a cluster and back: results of exported requests, ingested.

`synthgen batch-export` writes a stage's next requests as Batch API input files (the stage runs
as in batch mode, but the wave goes to a directory instead of a server). An engine elsewhere
answers them, e.g. `python -m vllm.entrypoints.openai.run_batch -i requests.jsonl -o
results.jsonl --model M`; `synthgen batch-ingest` journals the results, and the next run of the
stage commits them in plan order and exports (or asks for) whatever is still missing.
"""

from __future__ import annotations

from pathlib import Path

from ..config import RunConfig
from ..errors import RunError
from ..plan import Shard
from ..run_dir import open_run
from .ingest import Ingested, ingest_lines


def ingest_files(cfg: RunConfig, out: Path, files: list[Path], stage: str = "generate",
                 shard: Shard = Shard(), force: bool = False) -> Ingested:
    """Journal the answers in batch output files (every line read is journaled at once)."""
    for f in files:
        if not Path(f).is_file():
            raise RunError(f"{f}: no such file")
    total = Ingested()
    with open_run(cfg, out, stage, shard if stage == "generate" else Shard(), force) as journal:
        for f in files:
            with open(f, "rb") as fh:
                total.add(ingest_lines(journal, fh, stage, f"file:{Path(f).name}", cfg.llm.model))
    return total
