"""Faults of the disk and of the run's files, each one `StorageError` line the user can act on:
a write the disk refuses (naming the file and the disk's mount point), a journal damaged or
missing beside outputs it made (never a silent fresh start, which would buy every response
again), a published part missing, cut short or changed (against run.json's size and sha256).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path

from .errors import StorageError

# what a disk says when it will not take a write; other OSErrors (a missing file) stay as they are
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})
# SQLite's own codes for the same faults (SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY)
SQLITE_DISK_CODES = frozenset({13, 10, 8})
OUTPUT_DIRS = ("tasks", "examples", "rejects")
# tables every journal has had (newer ones, like parts and chunks, are added on open)
TABLES = frozenset({"meta", "responses", "progress", "counters", "writers"})


def mount_point(path: Path) -> Path:
    """The mount point of the disk holding `path` (the nearest existing ancestor's)."""
    p = Path(os.path.abspath(path))
    while not p.exists():
        p = p.parent
    while not os.path.ismount(p):
        p = p.parent
    return p


def storage_error(exc: BaseException, path: Path) -> StorageError:
    """A disk fault while writing `path`, as one line naming the file and the disk."""
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc)
    else:
        what = "no space left on device" if getattr(exc, "sqlite_errorcode", None) == 13 else str(exc)
    fix = "make it writable" if getattr(exc, "errno", None) == errno.EROFS else "free space there"
    return StorageError(f"cannot write {path}: {what} (the disk mounted at {mount_point(path)}); "
                        f"nothing unwritten was counted: {fix} and rerun the same command")


def is_disk_fault(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in DISK_ERRNOS
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) in SQLITE_DISK_CODES


@contextmanager
def disk_faults(path: Path):
    """Any disk fault raised inside becomes a `StorageError` naming `path`'s disk."""
    try:
        yield
    except (OSError, sqlite3.OperationalError) as exc:
        if not is_disk_fault(exc):
            raise
        raise storage_error(exc, Path(path)) from None


def damaged(path: Path, why: str) -> StorageError:
    return StorageError(f"the journal {path} is damaged ({why}); it holds every paid response and "
                        "cannot be rebuilt from the outputs: restore it from a backup, or start "
                        "again with a new --out")


def refuse_fresh_start(run_dir: Path, journal_path: Path) -> None:
    """A run directory that holds outputs but no journal was not made by a fresh start."""
    run_dir = Path(run_dir)
    found = [name for name in OUTPUT_DIRS if any((run_dir / name).glob("part-*.jsonl*"))]
    if (run_dir / "run.json").exists():
        found.append("run.json")
    if found:
        state = "empty" if journal_path.exists() else "missing"
        raise StorageError(f"the journal {journal_path} is {state} but {run_dir} holds {', '.join(found)} "
                           "of a run: restore the journal from a backup, or start again with a new --out")


def check_journal(db: sqlite3.Connection, path: Path) -> None:
    """Raise `StorageError` unless `db` is a whole synthgen journal (quick_check, tables, meta)."""
    try:
        verdict = db.execute("PRAGMA quick_check").fetchone()
        if not verdict or verdict[0] != "ok":  # its first finding (it lists them one a line)
            found = [s for s in (verdict or ["no answer"])[0].splitlines() if not s.startswith("***")]
            raise damaged(path, f"integrity check: {(found or ['failed'])[0]}")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = sorted(TABLES - tables)
        if missing:
            raise damaged(path, f"tables missing: {', '.join(missing)}")
        # every journal has its 'journal' row (older ones: 'fingerprint'), set when it was made
        if db.execute("SELECT 1 FROM meta WHERE key IN ('journal', 'fingerprint')").fetchone() is None:
            raise damaged(path, "its meta rows are gone")
    except sqlite3.DatabaseError as exc:
        raise damaged(path, str(exc)) from None


def read_only_uri(path: Path) -> str:
    """The journal's URI for a reader: immutable on a disk it cannot write (a read-only mount:
    SQLite cannot make the -shm file a WAL reader needs), unless a -wal file is there to read."""
    immutable = not os.access(Path(path).parent, os.W_OK) and not Path(f"{path}-wal").exists()
    return f"{Path(path).resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")


def check_run_journal(run_dir: Path) -> None:
    """For readers of a run (stats, validate, merge): its journal, if it has one, is whole (a run
    copied without its journal is still data to read)."""
    path = Path(run_dir) / "journal" / "state.sqlite"
    if not path.exists():
        return
    if path.stat().st_size == 0:
        raise damaged(path, "it is empty")
    try:
        db = sqlite3.connect(read_only_uri(path), uri=True)
    except sqlite3.Error as exc:
        raise damaged(path, str(exc)) from None
    with closing(db):
        check_journal(db, path)


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def part_problem(path: Path, size: int, sha256: str) -> str | None:
    """Why the file at `path` is not the published part it should be, or None."""
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        return "is missing"
    if actual != size:
        return f"is cut short ({actual} of {size} bytes)" if actual < size else f"has grown ({actual} of {size} bytes)"
    if sha256_of(path) != sha256:
        return "has changed (its sha256 differs from the one published)"
    return None


def verify_parts(run_dir: Path, manifest: dict) -> None:
    """Every part run.json lists is on disk as published; else one line naming the first bad one."""
    listed = manifest.get("parts")
    if not isinstance(listed, dict):
        return  # a run.json from before parts were listed
    entries = [p for parts in listed.values() for p in (parts if isinstance(parts, list) else [None])]
    if not all(isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("bytes"), int)
               and isinstance(p.get("sha256"), str) for p in entries):  # another tool's run.json
        raise StorageError(f"cannot read {Path(run_dir) / 'run.json'}: not a synthgen run.json (its parts); "
                           "rerun the command that made the run to rewrite it from the journal")
    for kind, parts in listed.items():
        for p in parts:
            path = Path(run_dir) / kind / p["name"]
            why = part_problem(path, p["bytes"], p["sha256"])
            if why is not None:
                raise StorageError(f"{path} {why}: run.json lists {p.get('records')} records; rerun "
                                   "the command that made it (same config and --out) to rebuild it from the journal")
    _refuse_strays(Path(run_dir), manifest, listed)


def _refuse_strays(run_dir: Path, manifest: dict, listed: dict) -> None:
    """A part-*.jsonl run.json does not list (a copy, another run's file) would be read as data;
    until stage 2 is done, a run (live, killed, stopped and resumed) may have published parts
    past the ones run.json (written every 2 s) lists."""
    running = manifest.get("stages", {}).get("generate", {}).get("status") not in ("complete", "partial")
    kinds = set(listed) | ({"examples", "rejects"} if "stages" in manifest else set())
    for kind in sorted(kinds):
        names = {p["name"] for p in listed.get(kind, [])}
        for path in sorted((run_dir / kind).glob("part-*.jsonl")):
            late = running and re.fullmatch(r"part-\d{5}\.jsonl", path.name) and int(path.name[5:10]) >= len(names)
            if not path.is_file() or (path.name not in names and not late):
                what = "is not a file" if not path.is_file() else "is not a part run.json lists (a copy, or another run's file?)"
                raise StorageError(f"{path} {what}: move it out of {path.parent}")
