"""A full disk, a damaged journal, lost or cut parts: the real CLI against the scripted server.

Each fault ends in one line and exit 1, nothing is counted as committed that is not on disk, and
what the journal can rebuild is rebuilt by the next run, byte for byte, without asking again.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from synthgen.errors import StorageError
from synthgen.journal import Journal
from synthgen.shards import ShardWriter

from helpers import examples, read_jsonl, rejects

CONFIG = """
seed = 11
[llm]
model = "scripted"
base_url = "{url}"
concurrency = 16
timeout_s = 20
[groups.short-long]
tasks = 6
examples = {sl}
[groups.sts]
examples = {sts}
[output]
shard_size = {shard_size}
"""


def synthgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthgen", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def one_line_error(r: subprocess.CompletedProcess, *words: str) -> str:
    """The run failed with exit 1 and said so in one line holding every word."""
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("synthgen: error:")]
    assert len(errors) == 1, r.stderr
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


def write_cfg(tmp_path: Path, url: str, sl: int = 480, sts: int = 120, shard_size: int = 50) -> Path:
    path = tmp_path / f"cfg-{sl}-{sts}-{shard_size}.toml"
    path.write_text(CONFIG.format(url=url, sl=sl, sts=sts, shard_size=shard_size))
    return path


def by_id(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: r["id"])


def gen_rejects(run: Path) -> list[dict]:
    return by_id([r for r in rejects(run) if r["stage"] == "generate"])


def parts(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.glob("*/part-*.jsonl"))}


def grow(mnt: Path) -> None:
    """Free space on the small disk: make it 64 MB (the files on it stay)."""
    subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs, unmounted after the test."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, check=False)
    if r.returncode != 0:
        pytest.skip(f"mount not permitted: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished run (20 parts of examples) and its server, copied by each test that damages it."""
    from synthgen.testing.options import FakeServerOptions
    from synthgen.testing.server import FakeLLMServer

    root = tmp_path_factory.mktemp("finished")
    with FakeLLMServer(FakeServerOptions(idle_exit_seconds=300)) as srv:
        cfg = write_cfg(root, srv.base_url, sl=160, sts=40, shard_size=10)
        r = synthgen("run", "--config", str(cfg), "--out", str(root / "run"), "--quiet")
        assert r.returncode == 0, r.stderr
        yield srv, cfg, root / "run"


def copy_of(finished, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(finished[2], run)
    return run


def committed_state_is_on_disk(run: Path) -> None:
    """Every part the journal says is published is whole, every open part holds at least the
    committed bytes, and the committed item count is the count of committed lines."""
    db = sqlite3.connect(f"{(run / 'journal' / 'state.sqlite').resolve().as_uri()}?mode=ro", uri=True)
    lines = 0
    for kind, part, records, size, _ in db.execute("SELECT * FROM parts"):
        assert (run / kind / f"part-{part:05d}.jsonl").stat().st_size == size
        lines += records if kind != "tasks" else 0
    for kind, part, offset, records in db.execute("SELECT * FROM writers"):
        if offset:
            tmp = run / kind / f"part-{part:05d}.jsonl.tmp"
            assert tmp.stat().st_size >= offset
            assert tmp.read_bytes()[:offset].count(b"\n") == records
        lines += records if kind != "tasks" else 0
    counted = db.execute("SELECT COALESCE(SUM(n), 0) FROM counters WHERE key='items' AND stage='generate'").fetchone()[0]
    brainstorm_rejects = sum(1 for r in read_jsonl(run / "rejects", "part-*.jsonl*") if r.get("stage") == "brainstorm")
    assert counted == lines - brainstorm_rejects
    db.close()


def test_a_full_disk_stops_with_one_line_and_the_rerun_after_freeing_space_finishes(
        server, tmp_path, small_disk):
    cfg = write_cfg(tmp_path, server.base_url)
    r = synthgen("run", "--config", str(cfg), "--out", str(tmp_path / "clean"), "--quiet")
    assert r.returncode == 0, r.stderr

    run = small_disk / "run"
    r = synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet")
    one_line_error(r, "no space left on device", f"the disk mounted at {small_disk}")
    assert len(examples(run)) < 600
    committed_state_is_on_disk(run)

    grow(small_disk)
    r = synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "600 accepted" in r.stderr  # every group at its target (rejects were topped up)
    assert by_id(examples(run)) == by_id(examples(tmp_path / "clean"))
    assert gen_rejects(run) == gen_rejects(tmp_path / "clean")
    assert not list(run.glob("*/*.tmp"))
    assert parts(run) == parts(tmp_path / "clean")
    r = synthgen("stats", str(run), "--json")
    clean = synthgen("stats", str(tmp_path / "clean"), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["generate"]["accepted"] == 600, r.stderr
    assert json.loads(r.stdout)["generate"]["items"] == json.loads(clean.stdout)["generate"]["items"]


def test_an_output_part_the_disk_refuses_is_one_line_and_the_rerun_finishes(finished, tmp_path, small_disk):
    # examples/ on a nearly full disk, the journal on another: the refused write is a part's,
    # in the middle of a gathered commit, and must not turn into a second error
    srv, cfg, clean = finished
    (small_disk / "examples").mkdir()
    (small_disk / "ballast").write_bytes(b"x" * (1024 * 1024 - 64 * 1024))
    run = tmp_path / "run"
    run.mkdir()
    (run / "examples").symlink_to(small_disk / "examples")
    before = srv.requests
    r = synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet")
    one_line_error(r, "examples/part-", "No space left on device")
    (small_disk / "ballast").unlink()
    r = synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet")
    assert r.returncode == 0, r.stderr
    assert parts(run) == parts(clean)
    bought = json.loads((clean / "run.json").read_text())["tokens"]["responses"]
    assert srv.requests - before <= bought + 16  # at most the requests in flight bought twice


def test_a_write_the_disk_refuses_is_cut_back_and_nothing_is_staged(tmp_path, small_disk):
    journal = Journal(tmp_path / "journal-here")
    w = ShardWriter(small_disk, "examples", journal, 10_000)
    journal.begin()
    w.add({"text": "a" * 1000})
    w.flush()
    journal.commit()
    committed = w.tmp_path.stat().st_size
    journal.begin()
    for _ in range(3000):  # ~3 MB on a 1 MB disk
        w.add({"text": "b" * 1000})
    with pytest.raises(StorageError, match=f"cannot write {w.tmp_path}: No space left on device"):
        w.flush()
    assert w.tmp_path.stat().st_size == committed  # the part the disk took is cut back off
    journal.rollback()
    assert journal.writer_state("examples") == (0, committed, 1)
    grow(small_disk)
    journal.begin()
    w.flush()  # the same lines, once there is room
    journal.commit()
    assert w.tmp_path.stat().st_size == journal.writer_state("examples")[1] == committed + 3000 * 1012
    journal.close()


@pytest.mark.parametrize("damage", ["truncated", "overwritten", "emptied", "deleted"])
def test_a_damaged_or_missing_journal_is_named_and_nothing_starts_over(finished, tmp_path, damage):
    srv, cfg, _ = finished
    run = copy_of(finished, tmp_path)
    path = run / "journal" / "state.sqlite"
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "overwritten":
        path.write_bytes((run / "rejects" / "part-00000.jsonl").read_bytes())
    elif damage == "emptied":
        path.write_bytes(b"")
    else:
        path.unlink()
    before = srv.requests
    word = {"truncated": "is damaged", "overwritten": "is damaged", "emptied": "is empty", "deleted": "is missing"}[damage]
    one_line_error(synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet"), str(path), word, "new --out")
    one_line_error(synthgen("generate", "--config", str(cfg), "--out", str(run), "--quiet"), str(path), word)
    assert srv.requests == before  # not one response bought again
    left = path.read_bytes() if path.exists() else None
    assert left == {"truncated": data[: len(data) // 2], "emptied": b"", "deleted": None}.get(damage, left)
    assert left != data  # the damaged file is left for the user to restore, not replaced
    if damage == "deleted":  # a run copied without its journal is still data to read
        assert synthgen("stats", str(run)).returncode == 0
        return
    for command in (["stats", str(run)], ["validate", str(run), "--check"],
                    ["merge", str(tmp_path / "merged"), str(run)]):
        one_line_error(synthgen(*command), str(path), "damaged")


@pytest.mark.parametrize("damage", ["deleted", "truncated", "changed"])
def test_a_lost_or_cut_published_part_is_named_by_readers_and_rebuilt_by_a_rerun(finished, tmp_path, damage):
    srv, cfg, _ = finished
    run = copy_of(finished, tmp_path)
    kept = parts(run)
    part = run / "examples" / "part-00003.jsonl"
    if damage == "deleted":
        part.unlink()
        word = "is missing"
    elif damage == "truncated":
        part.write_bytes(kept["examples/part-00003.jsonl"][:-40])
        word = "is cut short"
    else:
        part.write_bytes(kept["examples/part-00003.jsonl"].replace(b"a", b"e", 1))
        word = "has changed"
    for command in (["stats", str(run)], ["validate", str(run), "--check"],
                    ["merge", str(tmp_path / "merged"), str(run)]):
        one_line_error(synthgen(*command), str(part), word)
    assert not (tmp_path / "merged" / "examples").exists()

    before = srv.requests
    r = synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet")
    assert r.returncode == 0, r.stderr
    assert f"{part} {word}" in r.stderr and "rebuilt from the journal (10 records)" in r.stderr
    assert srv.requests == before  # rebuilt from the journal, not asked for again
    assert parts(run) == kept
    assert synthgen("validate", str(run), "--check").returncode == 0
    assert synthgen("stats", str(run)).returncode == 0


@pytest.mark.parametrize("stray", ["part-00003 (copy).jsonl", "part-00090.jsonl"])
def test_a_stray_part_file_is_named_by_readers_not_read_as_data(finished, tmp_path, stray):
    run = copy_of(finished, tmp_path)
    path = run / "examples" / stray  # a file manager's copy, or a part of another run put here
    shutil.copy(run / "examples" / "part-00003.jsonl", path)
    for command in (["stats", str(run)], ["validate", str(run), "--check"],
                    ["export", str(run), "--format", "flagembedding", "--out", str(tmp_path / "ex")],
                    ["merge", str(tmp_path / "merged"), str(run)]):
        one_line_error(synthgen(*command), str(path), "not a part run.json lists", "move it out")
    path.unlink()
    # killed after publishing a part that run.json (written every 2 s) does not list yet: still read
    manifest = json.loads((run / "run.json").read_text())
    manifest["parts"]["examples"].pop()
    manifest["stages"]["generate"]["status"] = "in progress"
    (run / "run.json").write_text(json.dumps(manifest))
    r = synthgen("stats", str(run))
    assert r.returncode == 0, r.stderr


def test_an_open_part_cut_short_after_a_crash_is_rebuilt_by_the_rerun(server, tmp_path):
    cfg = write_cfg(tmp_path, server.base_url, sl=240, sts=60, shard_size=25)
    r = synthgen("run", "--config", str(cfg), "--out", str(tmp_path / "clean"), "--quiet")
    assert r.returncode == 0, r.stderr
    run = tmp_path / "run"
    r = synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet", "--max-requests", "60")
    assert r.returncode == 3, r.stderr
    [tmp] = (run / "examples").glob("*.tmp")
    assert tmp.stat().st_size > 100
    shutil.copytree(run, tmp_path / "no-copy")
    tmp.write_bytes(tmp.read_bytes()[:-77])  # a power cut lost the tail the journal committed

    r = synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet")
    assert r.returncode == 0, r.stderr
    assert f"{tmp} holds" in r.stderr and "written again from the journal" in r.stderr
    assert parts(run) == parts(tmp_path / "clean")

    # a journal without the lines' bytes (as one made before they were kept): one line, no traceback
    other = tmp_path / "no-copy"
    db = sqlite3.connect(other / "journal" / "state.sqlite")
    db.execute("DELETE FROM chunks")
    db.commit()
    db.close()
    cut = other / "examples" / tmp.name
    cut.write_bytes(cut.read_bytes()[:-77])
    one_line_error(synthgen("run", "--config", str(cfg), "--out", str(other), "--quiet"),
                   str(cut), "the journal cannot rebuild it", "backup")


def test_a_journal_older_than_the_outputs_is_refused_and_no_part_is_deleted(server, tmp_path):
    """A journal restored from an older copy (or that lost its -wal file) does not know the parts
    published after it: the rerun names the first one instead of deleting them and buying again."""
    cfg = write_cfg(tmp_path, server.base_url, sl=240, sts=60, shard_size=25)
    run = tmp_path / "run"
    r = synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet", "--max-requests", "60")
    assert r.returncode == 3, r.stderr
    journal = run / "journal" / "state.sqlite"
    backup = journal.read_bytes()  # closed cleanly: the WAL is checkpointed into the file
    assert synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet").returncode == 0
    made, before = parts(run), server.requests
    journal.write_bytes(backup)
    with closing(sqlite3.connect(journal)) as db:
        open_part = dict(db.execute("SELECT kind, part FROM writers").fetchall())
    late = sorted(p for p in run.glob("*/part-*.jsonl") if int(p.name[5:10]) > open_part[p.parent.name])
    assert late

    err = one_line_error(synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet"),
                         "after the journal's last commit", "move it")
    assert any(str(p) in err for p in late), err
    assert parts(run) == made and server.requests == before
    moved = tmp_path / "moved"  # the way out the line names: move them aside, the rerun continues
    for p in late:
        (moved / p.parent.name).mkdir(parents=True, exist_ok=True)
        p.rename(moved / p.parent.name / p.name)
    assert synthgen("run", "--config", str(cfg), "--out", str(run), "--quiet").returncode == 0
    assert parts(run) == made  # the scripted server answers alike: the same parts again


def test_a_damaged_line_in_a_part_no_checksum_covers_is_named_with_its_line(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    manifest = json.loads((run / "run.json").read_text())
    del manifest["parts"]  # as a run.json written before parts were listed
    (run / "run.json").write_text(json.dumps(manifest))
    part = run / "examples" / "part-00001.jsonl"
    lines = part.read_bytes().splitlines(keepends=True)
    part.write_bytes(b"".join(lines[:4] + [b'{"id": "cut-o\n'] + lines[5:]))
    for command in (["validate", str(run), "--check"], ["merge", str(tmp_path / "merged"), str(run)]):
        one_line_error(synthgen(*command), f"{part}, line 5: not a whole JSON object")


def test_a_merged_run_lists_its_parts_and_a_lost_one_is_named(finished, tmp_path):
    merged = tmp_path / "merged"
    r = synthgen("merge", str(merged), str(finished[2]))
    assert r.returncode == 0, r.stderr
    listed = json.loads((merged / "run.json").read_text())["parts"]
    assert [p["name"] for p in listed["examples"]] == sorted(p.name for p in (merged / "examples").glob("*.jsonl"))
    assert sum(p["records"] for p in listed["examples"]) == len(examples(merged))
    assert synthgen("stats", str(merged)).returncode == 0
    (merged / "examples" / "part-00002.jsonl").unlink()
    one_line_error(synthgen("stats", str(merged)), "examples/part-00002.jsonl is missing")


def test_a_commit_the_disk_refuses_keeps_the_last_commit_and_takes_no_more_writes(small_disk):
    from synthgen.shards import add_chunk

    j = Journal(small_disk)
    j.begin()
    j.set_last_index("generate", 1)
    j.commit()
    j.begin()
    j.set_last_index("generate", 2)
    with pytest.raises(StorageError, match="no space left on device"):
        for i in range(2000):  # 2 MB that do not compress, on a 1 MB disk
            add_chunk(j, "examples", 0, i * 1000, os.urandom(1000))
        j.commit()
    with pytest.raises(StorageError, match="no space left on device"):
        j.begin()  # what this process holds in memory is ahead of the journal: no more writes
    j.close()
    grow(small_disk)
    j = Journal(small_disk)
    assert j.last_index("generate") == 1
    j.close()


def test_run_json_on_a_full_disk_keeps_the_previous_file_whole(small_disk):
    from synthgen.manifest import atomic_write_json

    path = small_disk / "run.json"
    atomic_write_json(path, {"n": 1})
    (small_disk / "filler").write_bytes(b"x" * (1024 * 1024 - 8192 * 2))
    with pytest.raises(StorageError, match=f"cannot write {path}: No space left on device .the disk mounted at {small_disk}"):
        atomic_write_json(path, {"n": 2, "pad": "y" * 100_000})
    assert json.loads(path.read_text()) == {"n": 1}
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "run.json"]


def test_lost_stage_1_tasks_are_rebuilt_before_stage_2_reads_them(finished, tmp_path):
    srv, cfg, _ = finished
    run = copy_of(finished, tmp_path)
    kept = parts(run)
    shutil.rmtree(run / "tasks")  # with a smaller task list stage 2 would plan other items
    before = srv.requests
    r = synthgen("generate", "--config", str(cfg), "--out", str(run), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "tasks/part-00000.jsonl is missing: rebuilt from the journal" in r.stderr
    assert "nothing to do" in r.stderr and srv.requests == before
    assert parts(run) == kept


@pytest.mark.parametrize("command", ["validate", "merge"])
def test_a_filtered_copy_onto_a_full_disk_is_one_line_and_the_same_command_then_works(
        finished, small_disk, command):
    copy = small_disk / "copy"
    args = ["validate", str(finished[2]), "--out", str(copy)] if command == "validate" else \
        ["merge", str(copy), str(finished[2])]
    one_line_error(synthgen(*args), "space left on device", f"the disk mounted at {small_disk}")
    assert not copy.exists()  # no half copy that would refuse the rerun
    grow(small_disk)
    r = synthgen(*args)
    assert r.returncode == 0, r.stderr
    assert len(examples(copy)) == len(examples(finished[2]))


def test_an_export_onto_a_full_disk_is_one_line_and_leaves_no_half_export(finished, small_disk):
    # the run's examples (~200 KB as triplets) do not fit in what is left of a 1 MB disk
    (small_disk / "ballast").write_bytes(b"x" * (1024 * 1024 - 128 * 1024))
    out = small_disk / "st"
    r = synthgen("export", str(finished[2]), "--format", "sentence-transformers", "--out", str(out))
    one_line_error(r, "No space left on device", f"the disk mounted at {small_disk}")
    assert sorted(p.name for p in small_disk.iterdir()) == ["ballast"]  # no partial export, no staging
    (small_disk / "ballast").unlink()
    r = synthgen("export", str(finished[2]), "--format", "sentence-transformers", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "export.json").read_text())["examples"]["train"] == len(examples(finished[2]))


def test_an_html_report_onto_a_full_disk_is_one_line_and_leaves_no_temporary_file(finished, small_disk):
    (small_disk / "ballast").write_bytes(b"x" * (1024 * 1024 - 8 * 1024))
    r = synthgen("stats", str(finished[2]), "--html", str(small_disk / "report.html"))
    one_line_error(r, "No space left on device", f"the disk mounted at {small_disk}")
    assert sorted(p.name for p in small_disk.iterdir()) == ["ballast"]


def test_a_finished_run_on_a_read_only_disk_is_read_by_every_reader(finished, tmp_path):
    # an archived run, mounted read-only: SQLite cannot make the journal's -shm file there
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root")
    run = tmp_path / "ro"
    run.mkdir()
    shutil.copytree(finished[2], tmp_path / "src")
    if subprocess.run(["mount", "--bind", str(tmp_path / "src"), str(run)], check=False).returncode:
        pytest.skip("mount not permitted")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(run)], check=True)
        for command in (["stats", str(run)], ["validate", str(run), "--out", str(tmp_path / "copy")],
                        ["merge", str(tmp_path / "merged"), str(run)],
                        ["export", str(run), "--format", "flagembedding", "--allow-partial",
                         "--out", str(tmp_path / "fe")]):
            r = synthgen(*command)
            assert r.returncode == 0, (command, r.stderr)
        assert len(examples(tmp_path / "merged")) == len(examples(finished[2]))
        r = synthgen("generate", "--config", str(finished[1]), "--out", str(run), "--quiet")
        assert "free space" not in one_line_error(r, "Read-only file system", "make it writable and rerun")
    finally:
        subprocess.run(["umount", "-l", str(run)], check=False)


def test_a_journal_that_fails_its_integrity_check_is_named_in_one_line(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    path = run / "journal" / "state.sqlite"
    data = path.read_bytes()
    for at in range(len(data) // 10, len(data), len(data) // 10):  # a damage SQLite opens, then reports
        path.write_bytes(data[:at] + random.Random(0).randbytes(4096) + data[at + 4096:])
        try:
            with closing(sqlite3.connect(path)) as db:
                verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError:
            continue
        if "\n" in verdict:
            break
    else:
        pytest.skip("no damage found that the integrity check reports over several lines")
    for command in (["stats", str(run)], ["validate", str(run), "--check"]):
        r = synthgen(*command)
        one_line_error(r, str(path), "is damaged (integrity check: ")
        assert r.stderr.count("\n") == 1 and "***" not in r.stderr, r.stderr


def test_tasks_from_a_run_whose_task_part_lost_a_line_is_refused_before_any_request(finished, tmp_path):
    # a whole line gone (a copy cut short, an edit): a shorter task list would silently plan
    # other items than the sibling shards
    srv, cfg, _ = finished
    source = copy_of(finished, tmp_path)
    part = source / "tasks" / "part-00000.jsonl"
    lines = part.read_bytes().splitlines(keepends=True)
    part.write_bytes(b"".join(lines[:1] + lines[2:]))
    before = srv.requests
    r = synthgen("generate", "--config", str(cfg), "--tasks-from", str(source), "--out", str(tmp_path / "s0"),
                 "--shard", "0/2", "--quiet")
    one_line_error(r, f"{part} is cut short")
    assert srv.requests == before
