"""JSONL shards that are valid at every moment a reader may look.

Finished parts are `part-NNNNN.jsonl`, complete and never touched again. The part being filled
is `part-NNNNN.jsonl.tmp`; it is renamed (after fsync) once it holds `shard_size` records or the
stage ends, so a reader globbing `part-*.jsonl` never sees a half-written line. The journal
records the committed byte offset of the open part; `recover()` cuts anything past it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson

from .journal import Journal


def part_name(part: int) -> str:
    return f"part-{part:05d}.jsonl"


def dumps(record: dict) -> bytes:
    """One JSONL line: compact UTF-8 (orjson, ~5x json's speed, the same bytes for our records).

    A text orjson refuses (a lone surrogate from a model's "\\ud83d" escape, an int beyond 64
    bits) is written by json with \\u escapes instead: still one valid line, never a crash."""
    try:
        return orjson.dumps(record) + b"\n"
    except TypeError:
        return (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


class ShardWriter:
    def __init__(self, root: Path, kind: str, journal: Journal, shard_size: int):
        self.dir = Path(root) / kind
        self.dir.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self.journal = journal
        self.shard_size = shard_size
        self.part, self.offset, self.records = journal.writer_state(kind)
        self._pending: list[bytes] = []
        self._pending_records = 0
        self._recover()

    @property
    def tmp_path(self) -> Path:
        return self.dir / (part_name(self.part) + ".tmp")

    def _recover(self) -> None:
        """Bring the files back to what the journal says was committed."""
        final = self.dir / part_name(self.part)
        if not self.tmp_path.exists() and final.exists():
            # the part was finalized but the crash came before the journal moved on
            if final.stat().st_size == self.offset:
                self._advance_part()
            else:
                os.replace(final, self.tmp_path)
        if self.tmp_path.exists():
            size = self.tmp_path.stat().st_size
            if size < self.offset:
                # truncate() would pad with NUL bytes: a line no reader could parse
                raise RuntimeError(f"{self.tmp_path} holds {size} bytes but the journal committed "
                                   f"{self.offset}: the file lost data the journal cannot restore")
            if size > self.offset:
                with open(self.tmp_path, "r+b") as f:
                    f.truncate(self.offset)
        elif self.offset:
            raise RuntimeError(f"{self.tmp_path} is missing but the journal says it holds data")
        # parts numbered past the open one were never committed
        for stray in self.dir.glob("part-*.jsonl*"):
            try:
                n = int(stray.name[5:10])
            except ValueError:
                continue
            if n > self.part:
                stray.unlink()

    def add(self, record: dict) -> None:
        self._pending.append(dumps(record))
        self._pending_records += 1

    @property
    def full(self) -> bool:
        return self.records + self._pending_records >= self.shard_size

    def flush(self) -> None:
        """Write pending lines and stage the new offset in the open journal transaction."""
        if self._pending:
            data = b"".join(self._pending)
            fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            self.offset += len(data)
            self.records += self._pending_records
            self._pending.clear()
            self._pending_records = 0
        self.journal.set_writer_state(self.kind, self.part, self.offset, self.records)

    def finalize(self) -> None:
        """Publish the open part (call outside a journal transaction, after the commit)."""
        if not self.tmp_path.exists() or self.records == 0:
            return
        fd = os.open(self.tmp_path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self.tmp_path, self.dir / part_name(self.part))
        self._advance_part()

    def _advance_part(self) -> None:
        self.part += 1
        self.offset = 0
        self.records = 0
        self.journal.set_writer_state(self.kind, self.part, 0, 0)


def iter_records(directory: Path, include_open: bool = True):
    """Records of every part in order (finished parts, then the open one)."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    files = sorted(directory.glob("part-*.jsonl"))
    if include_open:
        files += sorted(directory.glob("part-*.jsonl.tmp"))
    for path in files:
        with open(path, "rb") as f:
            for line in f:
                if line.endswith(b"\n"):
                    yield json.loads(line)
