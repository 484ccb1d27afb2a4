"""The journal's write-ahead log is copied into the database off the committing thread, and stays small."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time

from synthgen.journal import Journal


def _commit_batch(j: Journal, start: int, n: int, text: str) -> None:
    j.begin()
    for i in range(start, start + n):
        j.record_response(f"g{i}", 0, "generate", text, "stop", 10, 10, False, 0.1, "m", "http://x")
    j.commit()


def _wal_size(j: Journal) -> int:
    wal = j.path.with_name(j.path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_long_run_of_commits_keeps_the_wal_small_and_loses_nothing(tmp_path):
    # ~38 MB of responses over 120 commits. SQLite's own checkpoint is only a backstop at 64 MB
    # now: without the checkpoint thread the WAL would hold all 38 MB
    text = "x" * 16000
    j = Journal(tmp_path)
    peak = 0
    for c in range(120):
        _commit_batch(j, c * 20, 20, text)
        if c % 15 == 14:
            time.sleep(0.6)  # commits come in bursts; the thread catches up between them
        peak = max(peak, _wal_size(j))
    j.close()
    assert peak < 24 << 20, f"WAL grew to {peak >> 20} MB"
    assert not j.path.with_name(j.path.name + "-wal").exists()  # the last close folds it in
    again = Journal(tmp_path)
    assert again.token_totals()["generate"]["responses"] == 2400
    assert len(again.responses_for("g2399")) == 1
    again.close()


def test_the_checkpoint_thread_stops_with_the_journal(tmp_path):
    j = Journal(tmp_path)
    before = set(threading.enumerate())  # other tests' journals may still be open
    _commit_batch(j, 0, 5, "{}")
    mine = [t for t in set(threading.enumerate()) - before if t.name == "synthgen-wal-checkpoint"]
    assert len(mine) == 1 and mine[0].is_alive()
    j.close()
    assert not mine[0].is_alive()


def test_a_writer_killed_during_checkpoints_leaves_a_journal_that_opens_with_every_commit(tmp_path):
    # kill -9 while commits and checkpoints overlap: every commit the writer reported is there
    code = (
        "import sys; from synthgen.journal import Journal\n"
        "j = Journal(sys.argv[1])\n"
        "for c in range(100000):\n"
        "    j.begin()\n"
        "    for i in range(20):\n"
        "        j.record_response(f'g{c}-{i}', 0, 'generate', 'y' * 4000, 'stop', 1, 1, False, 0.1, 'm', 'u')\n"
        "    j.commit()\n"
        "    print(c, flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    last = -1
    assert proc.stdout is not None
    for line in proc.stdout:
        last = int(line)
        if last >= 400:
            break
    os.kill(proc.pid, 9)
    proc.wait()
    j = Journal(tmp_path)
    n = j.token_totals()["generate"]["responses"]
    j.close()
    assert n >= (last + 1) * 20 and n % 20 == 0
    con = sqlite3.connect(tmp_path / "journal" / "state.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
