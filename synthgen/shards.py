"""JSONL shards that are valid at every moment a reader may look, and rebuilt when they are not.

Finished parts are `part-NNNNN.jsonl`, complete and never touched again. The part being filled
is `part-NNNNN.jsonl.tmp`; it is published once it holds `shard_size` records or the stage ends,
so a reader globbing `part-*.jsonl` never sees a half-written line.

The journal is the truth, the files are derived from it. Each flush writes its lines, then
stages, in the open journal transaction, the new offset and the lines' bytes
(synthgen.partlog); nothing counts as committed until that transaction commits, and a write the
disk refuses is cut back off the file before the error goes up. Publishing a part fsyncs it,
records its record count, size and sha256 and moves the writer on in one transaction, then
renames the file. On open, the files are brought back to what the journal says:
- the open part is cut to the committed offset, or written again from the journal when it is
  shorter or missing (a crash, a power cut, a user's mistake);
- `restore_published` checks every published part (size and sha256) and writes a lost, cut or
  changed one again from the journal; a part the journal cannot rebuild is a one-line error.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import jsonlines
import orjson

from .errors import StorageError
from .integrity import disk_faults, part_problem, sha256_of
from .journal import Journal
from .partlog import add_chunk, part_bytes, publish, published


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


def _write_file(path: Path, data: bytes) -> None:
    with disk_faults(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def _unrecoverable(path: Path, why: str) -> StorageError:
    return StorageError(f"{path} {why} and the journal cannot rebuild it (it holds no copy of those "
                        "lines): restore the file from a backup, or start again with a new --out")


class ShardWriter:
    def __init__(self, root: Path, kind: str, journal: Journal, shard_size: int):
        self.dir = Path(root) / kind
        with disk_faults(self.dir):
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
        """Bring the open part back to what the journal says was committed."""
        final = self.dir / part_name(self.part)
        if final.exists():  # renamed without the journal's knowing (an older synthgen's finalize)
            if self.tmp_path.exists():
                final.unlink()
            else:
                os.replace(final, self.tmp_path)
        size = self.tmp_path.stat().st_size if self.tmp_path.exists() else -1
        if size > self.offset:
            with open(self.tmp_path, "r+b") as f:
                f.truncate(self.offset)
        elif size < self.offset and self.offset:
            why = "is missing" if size < 0 else f"holds {size} of the {self.offset} bytes committed"
            data = part_bytes(self.journal, self.kind, self.part, self.offset)
            if data is None:
                raise _unrecoverable(self.tmp_path, why)
            _write_file(self.tmp_path, data)
            _notice(f"{self.tmp_path} {why}: written again from the journal")
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
        """Write pending lines; stage their bytes and the new offset in the open transaction."""
        if self._pending:
            data = b"".join(self._pending)
            self._append(data)
            add_chunk(self.journal, self.kind, self.part, self.offset, data)
            self.offset += len(data)
            self.records += self._pending_records
            self._pending.clear()
            self._pending_records = 0
        self.journal.set_writer_state(self.kind, self.part, self.offset, self.records)

    def _append(self, data: bytes) -> None:
        """`data` at the committed offset; on a refused write the file is cut back to it."""
        with disk_faults(self.tmp_path):
            fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                view, at = memoryview(data), self.offset
                try:
                    while view:  # a full disk may take part of a write before it refuses
                        n = os.pwrite(fd, view, at)
                        view, at = view[n:], at + n
                except OSError:
                    os.ftruncate(fd, self.offset)
                    raise
            finally:
                os.close(fd)

    def finalize(self) -> None:
        """Publish the open part (call outside a journal transaction, after the commit)."""
        if self.records == 0:
            return
        with disk_faults(self.tmp_path):
            fd = os.open(self.tmp_path, os.O_RDWR)
            try:
                os.ftruncate(fd, self.offset)  # nothing past the committed lines is published
                os.fsync(fd)
            finally:
                os.close(fd)
        sha = sha256_of(self.tmp_path)
        self.journal.begin()
        publish(self.journal, self.kind, self.part, self.records, self.offset, sha)
        self.journal.set_writer_state(self.kind, self.part + 1, 0, 0)
        self.journal.commit()
        with disk_faults(self.tmp_path):
            os.replace(self.tmp_path, self.dir / part_name(self.part))
        self.part, self.offset, self.records = self.part + 1, 0, 0


def restore_published(root: Path, journal: Journal) -> None:
    """Make every published part whole again from the journal, saying so for each one rebuilt."""
    for kind, part, records, size, sha in published(journal):
        path = Path(root) / kind / part_name(part)
        why = part_problem(path, size, sha)
        if why is None:
            continue
        tmp = path.with_name(path.name + ".tmp")
        if tmp.exists() and part_problem(tmp, size, sha) is None:
            os.replace(tmp, path)  # published in the journal; the rename did not happen
            continue
        data = part_bytes(journal, kind, part, size)
        if data is None or hashlib.sha256(data).hexdigest() != sha:
            raise _unrecoverable(path, why)
        _write_file(tmp, data)
        with disk_faults(path):
            os.replace(tmp, path)
        _notice(f"{path} {why}: rebuilt from the journal ({records} records)")


def _notice(line: str) -> None:
    sys.stderr.write(f"synthgen: {line}\n")


def read_jsonl(path: Path, whole_lines_only: bool = False):
    """Records of one JSONL file; a line that is not a JSON object is a one-line StorageError
    naming the file and line. `whole_lines_only` skips a torn last line (an open part a writer
    may be appending to)."""
    with open(path, "rb") as f:
        lines = (line for line in f if line.endswith(b"\n")) if whole_lines_only else f
        try:
            yield from jsonlines.Reader(lines, loads=orjson.loads).iter(type=dict)
        except jsonlines.InvalidLineError as exc:
            raise StorageError(f"{path}, line {exc.lineno}: not a whole JSON object; the file is "
                               "damaged") from None


def iter_records(directory: Path, include_open: bool = True):
    """Records of every part in order (finished parts, then the open one)."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("part-*.jsonl")):
        yield from read_jsonl(path)
    if include_open:
        for path in sorted(directory.glob("part-*.jsonl.tmp")):
            yield from read_jsonl(path, whole_lines_only=True)
