"""What opening a journal checks, and what a failed commit leaves behind."""

from __future__ import annotations

import sqlite3

import pytest

from synthgen.errors import StorageError
from synthgen.journal import Journal


def test_a_journal_killed_as_it_was_made_starts_fresh_when_nothing_else_is_there(tmp_path):
    path = tmp_path / "journal" / "state.sqlite"
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")  # the header is written; the schema never came
    db.close()
    j = Journal(tmp_path)
    assert j.get_meta("journal") == "1" and j.writer_state("examples") == (0, 0, 0)
    j.close()


def test_an_empty_database_beside_outputs_is_refused(tmp_path):
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "part-00000.jsonl").write_text('{"id": "a"}\n')
    path = tmp_path / "journal" / "state.sqlite"
    path.parent.mkdir()
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()
    with pytest.raises(StorageError, match=r"state.sqlite is empty but .* holds examples of a run"):
        Journal(tmp_path)


def test_a_journal_without_its_meta_rows_is_damaged(tmp_path):
    Journal(tmp_path).close()
    db = sqlite3.connect(tmp_path / "journal" / "state.sqlite")
    db.execute("DELETE FROM meta")
    db.commit()
    db.close()
    with pytest.raises(StorageError, match=r"is damaged \(its meta rows are gone\)"):
        Journal(tmp_path)


def test_a_journal_from_before_parts_were_kept_gains_the_tables(tmp_path):
    Journal(tmp_path).close()
    db = sqlite3.connect(tmp_path / "journal" / "state.sqlite")
    db.execute("DROP TABLE parts")
    db.execute("DROP TABLE chunks")
    db.execute("DELETE FROM meta WHERE key='journal'")
    db.execute("INSERT INTO meta VALUES ('fingerprint', 'abc')")  # what every older journal has
    db.commit()
    db.close()
    j = Journal(tmp_path)
    assert j.get_meta("fingerprint") == "abc"
    assert j.db.execute("SELECT COUNT(*) FROM parts").fetchone() == (0,)
    j.close()


def test_progress_moves_only_inside_a_transaction(tmp_path):
    j = Journal(tmp_path)
    with pytest.raises(RuntimeError, match="outside a transaction"):
        j.set_last_index("generate", 5)
    with pytest.raises(RuntimeError, match="outside a transaction"):
        j.set_writer_state("examples", 0, 10, 1)
    assert j.last_index("generate") == -1 and j.writer_state("examples") == (0, 0, 0)
    j.close()
