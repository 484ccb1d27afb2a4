"""JSONL shards with a real journal: readers see only whole lines, and recovery cuts what was not committed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonlines
import orjson
import pytest

from synthgen.errors import StorageError
from synthgen.integrity import sha256_of
from synthgen.journal import Journal
from synthgen.shards import ShardWriter, dumps, iter_records, part_name, publish, published, restore_published


def rec(i: int) -> dict:
    return {"id": f"r{i}", "text": f"record {i} — ünïcode"}


def open_writer(run: Path, shard_size: int = 100) -> tuple[Journal, ShardWriter]:
    journal = Journal(run)
    return journal, ShardWriter(run, "examples", journal, shard_size)


def commit(journal: Journal, writer: ShardWriter, records) -> None:
    """What the engine does: one journal transaction per flush."""
    journal.begin()
    for r in records:
        writer.add(r)
    writer.flush()
    journal.commit()


def visible(directory: Path) -> list[Path]:
    return sorted(directory.glob("part-*.jsonl"))


def lines(path: Path) -> list[dict]:
    with jsonlines.open(path, loads=orjson.loads) as reader:
        return list(reader)


def test_lines_become_visible_only_after_finalize(tmp_path):
    journal, w = open_writer(tmp_path)
    d = tmp_path / "examples"
    commit(journal, w, [rec(0), rec(1), rec(2)])
    assert visible(d) == []
    assert list(iter_records(d, include_open=False)) == []
    assert list(iter_records(d)) == [rec(0), rec(1), rec(2)]  # the open part, for resume
    w.finalize()
    assert visible(d) == [d / "part-00000.jsonl"]
    assert lines(d / "part-00000.jsonl") == [rec(0), rec(1), rec(2)]
    assert not (d / "part-00000.jsonl.tmp").exists()
    assert journal.writer_state("examples") == (1, 0, 0)
    commit(journal, w, [rec(3)])
    w.finalize()
    assert visible(d) == [d / "part-00000.jsonl", d / "part-00001.jsonl"]
    assert [r["id"] for r in iter_records(d)] == ["r0", "r1", "r2", "r3"]
    journal.close()


def test_finalize_without_records_makes_no_empty_part(tmp_path):
    journal, w = open_writer(tmp_path)
    w.finalize()
    commit(journal, w, [])
    w.finalize()
    assert list((tmp_path / "examples").iterdir()) == []
    journal.close()


def test_full_follows_shard_size(tmp_path):
    journal, w = open_writer(tmp_path, shard_size=2)
    w.add(rec(0))
    assert not w.full
    w.add(rec(1))
    assert w.full  # pending records count
    journal.begin()
    w.flush()
    journal.commit()
    assert w.full
    w.finalize()
    assert not w.full
    journal.close()


def test_recover_cuts_bytes_past_the_committed_offset(tmp_path):
    journal, w = open_writer(tmp_path)
    commit(journal, w, [rec(0), rec(1)])
    committed = w.tmp_path.stat().st_size
    # crash mid-batch: lines written and staged, then garbage, and the commit never comes
    journal.begin()
    w.add(rec(2))
    w.flush()
    with open(w.tmp_path, "ab") as f:
        f.write(b'{"id": "torn", "te')
    assert w.tmp_path.stat().st_size > committed
    journal.close()  # closing with the transaction open rolls it back, as a killed process would

    journal, w = open_writer(tmp_path)
    assert w.tmp_path.stat().st_size == committed
    assert (w.part, w.offset, w.records) == (0, committed, 2)
    assert list(iter_records(tmp_path / "examples")) == [rec(0), rec(1)]
    commit(journal, w, [rec(2)])
    w.finalize()
    assert lines(tmp_path / "examples" / "part-00000.jsonl") == [rec(0), rec(1), rec(2)]
    journal.close()


def test_a_part_published_in_the_journal_but_not_renamed_is_renamed_on_open(tmp_path):
    journal, w = open_writer(tmp_path)
    commit(journal, w, [rec(0), rec(1)])
    d = tmp_path / "examples"
    # finalize's transaction committed; the crash came before its rename
    journal.begin()
    publish(journal, "examples", 0, 2, w.offset, sha256_of(w.tmp_path))
    journal.set_writer_state("examples", 1, 0, 0)
    journal.commit()
    journal.close()

    journal = Journal(tmp_path)
    restore_published(tmp_path, journal)
    w = ShardWriter(tmp_path, "examples", journal, 100)
    assert (w.part, w.offset, w.records) == (1, 0, 0)
    assert lines(d / "part-00000.jsonl") == [rec(0), rec(1)]
    assert not (d / "part-00000.jsonl.tmp").exists()
    commit(journal, w, [rec(2)])
    w.finalize()
    assert visible(d) == [d / "part-00000.jsonl", d / "part-00001.jsonl"]
    assert [r["id"] for r in iter_records(d)] == ["r0", "r1", "r2"]
    journal.close()


def test_published_parts_lost_cut_or_changed_are_rebuilt_byte_for_byte(tmp_path, capsys):
    journal, w = open_writer(tmp_path, shard_size=2)
    for i in range(0, 8, 2):
        commit(journal, w, [rec(i), rec(i + 1)])
        w.finalize()
    d = tmp_path / "examples"
    original = {p.name: p.read_bytes() for p in visible(d)}
    assert [p[2] for p in published(journal) if p[0] == "examples"] == [2, 2, 2, 2]
    journal.close()
    (d / part_name(0)).unlink()
    (d / part_name(1)).write_bytes(original[part_name(1)][:-9])
    (d / part_name(2)).write_bytes(original[part_name(2)].replace(b"record", b"recorD"))

    journal = Journal(tmp_path)
    restore_published(tmp_path, journal)
    assert {p.name: p.read_bytes() for p in visible(d)} == original
    err = capsys.readouterr().err
    assert "part-00000.jsonl is missing: rebuilt from the journal (2 records)" in err
    assert "part-00001.jsonl is cut short" in err and "part-00002.jsonl has changed" in err
    assert "part-00003" not in err
    journal.close()


def test_a_published_part_the_journal_holds_no_copy_of_is_one_clear_error(tmp_path):
    journal, w = open_writer(tmp_path, shard_size=1)
    commit(journal, w, [rec(0)])
    w.finalize()
    journal.db.execute("DELETE FROM chunks")  # as in a journal made before parts were kept
    journal.close()
    (tmp_path / "examples" / part_name(0)).unlink()
    journal = Journal(tmp_path)
    with pytest.raises(StorageError, match=r"part-00000.jsonl is missing and the journal cannot rebuild it"):
        restore_published(tmp_path, journal)
    journal.close()


def test_a_renamed_part_with_uncommitted_bytes_is_reopened_and_cut(tmp_path):
    journal, w = open_writer(tmp_path)
    commit(journal, w, [rec(0)])
    committed = w.offset
    with open(w.tmp_path, "ab") as f:
        f.write(dumps(rec(1)))
    d = tmp_path / "examples"
    os.replace(w.tmp_path, d / part_name(0))
    journal.close()

    journal, w = open_writer(tmp_path)
    assert (w.part, w.offset) == (0, committed)
    assert visible(d) == []  # back to the open part, holding only what was committed
    assert list(iter_records(d)) == [rec(0)]
    journal.close()


def test_parts_past_the_open_one_are_refused_not_removed_on_recovery(tmp_path):
    """Only a journal older than the outputs has them (a crash never loses a commit): their data
    are paid for, so they are named, not deleted."""
    journal, w = open_writer(tmp_path)
    commit(journal, w, [rec(0)])
    d = tmp_path / "examples"
    (d / part_name(1)).write_bytes(dumps(rec(9)))
    (d / (part_name(2) + ".tmp")).write_bytes(dumps(rec(8)))
    (d / "notes.txt").write_text("not a part")
    journal.close()

    journal = Journal(tmp_path)
    with pytest.raises(StorageError, match=r"part-00001.jsonl was written after the journal's last commit"):
        ShardWriter(tmp_path, "examples", journal, 100)
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt", "part-00000.jsonl.tmp", "part-00001.jsonl",
                                                   "part-00002.jsonl.tmp"]
    (d / part_name(1)).unlink()
    (d / (part_name(2) + ".tmp")).unlink()
    w = ShardWriter(tmp_path, "examples", journal, 100)
    assert list(iter_records(d)) == [rec(0)]
    journal.close()


def test_a_missing_or_shortened_open_part_is_written_again_from_the_journal(tmp_path):
    journal, w = open_writer(tmp_path)
    commit(journal, w, [rec(0), rec(1)])
    path = w.tmp_path
    journal.close()
    data = path.read_bytes()
    path.write_bytes(data[:-5])  # e.g. a power cut lost the tail the journal had committed
    journal, w = open_writer(tmp_path)
    assert path.read_bytes() == data  # not padded with NUL bytes: the committed lines, whole
    journal.close()
    path.unlink()
    journal, w = open_writer(tmp_path)
    assert path.read_bytes() == data
    commit(journal, w, [rec(2)])
    w.finalize()
    assert lines(tmp_path / "examples" / part_name(0)) == [rec(0), rec(1), rec(2)]
    journal.close()


def test_an_open_part_the_journal_cannot_restore_is_one_clear_error(tmp_path):
    journal, w = open_writer(tmp_path)
    commit(journal, w, [rec(0), rec(1)])
    journal.db.execute("DELETE FROM chunks")
    journal.close()
    w.tmp_path.write_bytes(w.tmp_path.read_bytes()[:-5])
    with pytest.raises(StorageError, match=r"part-00000.jsonl.tmp holds \d+ of the \d+ bytes committed "
                                           r"and the journal cannot rebuild it"):
        open_writer(tmp_path)


def test_iter_records_skips_a_torn_line_only_in_the_open_part(tmp_path):
    d = tmp_path / "examples"
    d.mkdir()
    (d / "part-00000.jsonl").write_bytes(dumps(rec(0)) + dumps(rec(1)))
    (d / "part-00001.jsonl.tmp").write_bytes(dumps(rec(2)) + b'{"id": "r3", "te')
    assert list(iter_records(d)) == [rec(0), rec(1), rec(2)]
    assert list(iter_records(d, include_open=False)) == [rec(0), rec(1)]
    assert list(iter_records(tmp_path / "nothing-here")) == []
    # a published part is whole: a damaged line in it is named, not skipped
    (d / "part-00000.jsonl").write_bytes(dumps(rec(0)) + dumps(rec(1)) + b'{"id": "r3", "te\n')
    with pytest.raises(StorageError, match=r"part-00000.jsonl, line 3: not a whole JSON object"):
        list(iter_records(d))


def test_dumps_is_one_utf8_line():
    line = dumps({"text": "line one\nline two", "lang": "日本語"})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert "日本語".encode() in line
    assert json.loads(line) == {"text": "line one\nline two", "lang": "日本語"}


def test_a_lone_surrogate_from_the_model_is_written_as_an_escape_not_a_crash():
    import json

    from synthgen.shards import dumps

    record = {"id": "x", "text": json.loads('"broken \\ud83d emoji"'), "ok": "héllo 日本"}
    line = dumps(record)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    line.decode("utf-8")  # valid UTF-8
    assert json.loads(line) == record
    assert dumps({"ok": "héllo 日本"}) == '{"ok":"héllo 日本"}\n'.encode()
