"""The on-disk near-duplicate store answers exactly like the in-memory index."""

from __future__ import annotations

import random

from synthgen.journal import Journal
from synthgen.quality.lsh_store import DiskNearDup
from synthgen.quality.neardup import NearDupIndex

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
         "sigma tau upsilon phi chi psi omega river stone cloud paper garden window").split()


def _texts(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    base = [" ".join(rng.choices(WORDS, k=rng.randint(40, 120))) for _ in range(n // 2)]
    out = []
    for t in base:
        out.append(t)
        w = t.split()
        w[rng.randrange(len(w))] = rng.choice(WORDS)  # a one-word edit: a near-copy
        out.append(" ".join(w) if rng.random() < 0.7 else " ".join(rng.choices(WORDS, k=60)))
    rng.shuffle(out)
    return out


def test_same_answers_as_the_memory_index(tmp_path):
    texts = _texts(300)
    mem = NearDupIndex(threshold=0.85)
    j = Journal(tmp_path)
    disk = DiskNearDup(j, threshold=0.85)
    answers_mem = [mem.check_and_add(f"k{i}", t) for i, t in enumerate(texts)]
    answers_disk = [disk.check_and_add("document", f"k{i}", t) for i, t in enumerate(texts)]
    assert answers_disk == answers_mem
    assert sum(a is not None for a in answers_disk) > 50  # the fixture does hold near-copies


def test_state_survives_reopening_and_namespaces_are_separate(tmp_path):
    text = " ".join(WORDS * 3)
    j = Journal(tmp_path)
    assert DiskNearDup(j, 0.85).check_and_add("query", "a", text) is None
    j.close()
    j = Journal(tmp_path)
    disk = DiskNearDup(j, 0.85)
    assert disk.check_and_add("query", "b", text.replace("alpha", "omega", 1)) == "a"
    assert disk.check_and_add("document", "c", text) is None


def test_a_crash_before_the_band_file_commits_loses_nothing(tmp_path):
    # the band file commits rarely; a killed process leaves it behind the journal, and reopening
    # must re-add the missing texts from the journal's signatures (and never more than those)
    import subprocess
    import sys

    texts = _texts(200, seed=9)
    script = (
        "import sys, os; from pathlib import Path; from synthgen.journal import Journal;"
        "from synthgen.quality.lsh_store import DiskNearDup; import json;"
        "texts = json.loads(sys.stdin.read()); j = Journal(Path(sys.argv[1])); d = DiskNearDup(j, 0.85);"
        "j.begin(); [d.check_and_add('document', f'k{i}', t) for i, t in enumerate(texts[:100])]; j.commit();"
        "j.begin(); [d.check_and_add('document', f'k{i}', t) for i, t in enumerate(texts[100:150], 100)];"
        "os._exit(0)"  # dies with a transaction open and the band file uncommitted
    )
    import json

    subprocess.run([sys.executable, "-c", script, str(tmp_path)], input=json.dumps(texts), text=True, check=True)
    j = Journal(tmp_path)
    disk = DiskNearDup(j, threshold=0.85)
    resumed = [disk.check_and_add("document", f"k{i}", t) for i, t in enumerate(texts[100:], 100)]

    mem = NearDupIndex(threshold=0.85)
    expected = [mem.check_and_add(f"k{i}", t) for i, t in enumerate(texts)][100:]
    assert resumed == expected
    assert any(a is not None and int(a[1:]) < 100 for a in resumed)  # hits on texts from before the crash
    j.close()


def test_rollback_forgets_the_rolled_back_texts(tmp_path):
    text = " ".join(WORDS * 2)
    j = Journal(tmp_path)
    disk = DiskNearDup(j, 0.85)
    j.begin()
    assert disk.check_and_add("query", "gone", text) is None
    j.rollback()
    j.begin()
    assert disk.check_and_add("query", "kept", text.replace("alpha", "beta", 1)) is None
    j.commit()
    assert disk.check_and_add("query", "later", text) == "kept"


def test_buffer_written_behind_in_bulk_gives_the_same_answers(tmp_path, monkeypatch):
    # a tiny buffer: many bulk writes by the writer thread while look-ups go on
    from synthgen.quality import lsh_store

    monkeypatch.setattr(lsh_store, "BUFFER_ROWS", 200)
    texts = _texts(400, seed=5)
    mem = NearDupIndex(threshold=0.85)
    j = Journal(tmp_path)
    disk = DiskNearDup(j, threshold=0.85)
    answers = []
    j.begin()
    for i, t in enumerate(texts):
        answers.append(disk.check_and_add("document", f"k{i}", t))
        if i % 7 == 6:
            j.commit()
            j.begin()
    j.commit()
    assert answers == [mem.check_and_add(f"k{i}", t) for i, t in enumerate(texts)]
    shared = j._lsh_file
    j.close()
    assert shared.disk_rows >= 21 * 200  # most of it went through the writer thread
    j = Journal(tmp_path)  # and what was written is what a reopened store finds
    assert DiskNearDup(j, 0.85).check_and_add("document", "again", texts[0]) is not None
    j.close()
