"""JSONL shards that are valid at every moment a reader may look, and rebuilt when they are not.

Finished parts are `part-NNNNN.jsonl`, never touched again; the open one is `part-NNNNN.jsonl.tmp`,
published (fsynced, its digest committed, then renamed) at `shard_size` records or the stage's end.
Each flush writes its lines, then stages the new offset and the lines' bytes in the open journal
transaction; a write the disk refuses is cut back off the file. On open, the open part is cut to
the committed offset or written again from the journal, and `restore_published` rebuilds a lost,
cut or changed part. The bytes are kept (zlib level 1: 2.7x smaller), not re-derived from the
responses: a line depends on the dedup state and everything committed before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zlib
from pathlib import Path

import jsonlines
import orjson

from .errors import StorageError
from .integrity import disk_faults, part_problem, sha256_of
from .journal import Journal


def add_chunk(journal: Journal, kind: str, part: int, offset: int, data: bytes) -> None:
    """The bytes one flush appended to a part, in the transaction that commits its offset."""
    journal.write_in_commit("INSERT OR REPLACE INTO chunks VALUES (?,?,?,?)",
                            (kind, part, offset, zlib.compress(data, 1)))


def part_bytes(journal: Journal, kind: str, part: int, upto: int) -> bytes | None:
    """The committed bytes of a part up to offset `upto`; None if its chunks are not all there
    (a journal older than the chunks table)."""
    out, at = [], 0
    for offset, data in journal.db.execute(
            "SELECT offset, data FROM chunks WHERE kind=? AND part=? AND offset<? ORDER BY offset",
            (kind, part, upto)):
        if offset != at:
            return None
        out.append(zlib.decompress(data))
        at += len(out[-1])
    return b"".join(out) if at == upto else None


def publish(journal: Journal, kind: str, part: int, records: int, size: int, sha256: str) -> None:
    journal.write_in_commit("INSERT OR REPLACE INTO parts VALUES (?,?,?,?,?)",
                            (kind, part, records, size, sha256))


def published(journal: Journal) -> list[tuple[str, int, int, int, str]]:
    """(kind, part, records, bytes, sha256) of every published part, in order."""
    sql = "SELECT kind, part, records, bytes, sha256 FROM parts ORDER BY kind, part"
    return journal.db.execute(sql).fetchall()


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
        self.kind, self.journal, self.shard_size = kind, journal, shard_size
        self.part, self.offset, self.records = journal.writer_state(kind)
        self._pending: list[bytes] = []  # one line per record
        self._recover()

    @property
    def tmp_path(self) -> Path:
        return self.dir / (part_name(self.part) + ".tmp")

    def _recover(self) -> None:
        """Bring the open part back to what the journal says was committed."""
        # a part numbered past the open one was written after the journal's last commit, which a
        # crash never loses: the journal is older than the outputs (its data are paid for)
        late = sorted(p for p in self.dir.glob("part-*.jsonl*")
                      if p.name[5:10].isdigit() and int(p.name[5:10]) > self.part)
        if late:
            raise StorageError(f"{late[0]} was written after the journal's last commit (a journal restored from "
                               f"an older copy, or its -wal file lost?): move it and the later parts out of "
                               f"{self.dir} to continue from the journal, or start again with a new --out")
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
            sys.stderr.write(f"synthgen: {self.tmp_path} {why}: written again from the journal\n")

    def add(self, record: dict) -> None:
        self._pending.append(dumps(record))

    @property
    def full(self) -> bool:
        return self.records + len(self._pending) >= self.shard_size

    def flush(self) -> None:
        """Write pending lines; stage their bytes and the new offset in the open transaction."""
        if self._pending:
            data = b"".join(self._pending)
            self._append(data)
            add_chunk(self.journal, self.kind, self.part, self.offset, data)
            self.offset += len(data)
            self.records += len(self._pending)
            self._pending.clear()
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
        sys.stderr.write(f"synthgen: {path} {why}: rebuilt from the journal ({records} records)\n")


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
    """Records of every part in order (finished parts, then the open one); none without the folder."""
    for path in sorted(Path(directory).glob("part-*.jsonl")):
        yield from read_jsonl(path)
    if include_open:
        for path in sorted(Path(directory).glob("part-*.jsonl.tmp")):
            yield from read_jsonl(path, whole_lines_only=True)
