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


def test_the_bit_filter_never_hides_a_near_copy_and_gives_way_when_full(tmp_path, monkeypatch):
    # the filter skips the table search only when no band key was ever stored; once it holds more
    # keys than it can answer for cheaply it is dropped, and answers stay those of the memory index
    from synthgen.quality import lsh_store

    monkeypatch.setattr(lsh_store._BitFilter, "MAX_KEYS", 21 * 150)
    monkeypatch.setattr(lsh_store, "BUFFER_ROWS", 21 * 40)  # most look-ups reach the disk table
    texts = _texts(400, seed=11)
    mem = NearDupIndex(threshold=0.85)
    j = Journal(tmp_path)
    disk = DiskNearDup(j, threshold=0.85)
    answers = []
    for i, t in enumerate(texts[:100]):
        j.begin()
        answers.append(disk.check_and_add("document", f"k{i}", t))
        j.commit()
    assert j._lsh_file.filter is not None  # 100 texts: still filtering
    j.close()
    j = Journal(tmp_path)  # a resume learns the keys on disk and goes on filtering
    disk = DiskNearDup(j, threshold=0.85)
    assert j._lsh_file.filter is not None
    for i, t in enumerate(texts[100:], 100):
        j.begin()
        answers.append(disk.check_and_add("document", f"k{i}", t))
        j.commit()
    assert j._lsh_file.filter is None  # past 150 texts it gave way
    j.close()
    j = Journal(tmp_path)  # and a resume past that size starts without one
    assert DiskNearDup(j, threshold=0.85).check_and_add("document", "again", texts[0]) is not None
    assert j._lsh_file.filter is None
    j.close()
    assert answers == [mem.check_and_add(f"k{i}", t) for i, t in enumerate(texts)]
    assert sum(a is not None for a in answers) > 50


def test_signatures_made_in_a_batch_equal_those_made_one_at_a_time():
    # the check worker signs a batch at once; the commit and a resume sign one text at a time:
    # both must give the same signature and band keys, in every script
    from synthgen.quality.lsh_store import band_keys, band_keys_many, filter_slots, prepared_many
    from synthgen.quality.textnorm import normalize

    texts = _texts(20) + [
        "Ｈｅｌｌｏ  Wörld\u00a0again and\u2028again",  # full-width, NBSP, line separator
        "东京是日本的首都，也是世界上最大的城市之一。", "กรุงเทพมหานคร เป็นเมืองหลวงของประเทศไทย",
        "Привет мир, это проверка", "two words", "", "ΣΊΣΥΦΟΣ και άλλοι ήρωες της μυθολογίας",
    ]
    namespaces = ["query" if i % 3 else "document" for i in range(len(texts))]
    idx = NearDupIndex(threshold=0.85)
    sigs, hashes = idx.signatures_normalized([normalize(t) for t in texts])
    keys = band_keys_many(namespaces, hashes)
    prepared = prepared_many(namespaces, hashes)
    for t, ns, sig, k, (k2, slots) in zip(texts, namespaces, sigs, keys, prepared):
        one = idx.signature(t)
        assert sig == one
        assert k == band_keys(ns, idx._band_hashes(idx._parse(one)).astype("int64").tolist())
        assert all(0 <= x < 2**63 for x in k)
        assert k2 == k and slots == filter_slots(k)  # the worker's filter slots: the commit's own


def test_the_bit_filter_answers_for_any_number_of_keys():
    # a layout of one band gives one key per text: the C path (itemgetter) needs two or more
    from synthgen.quality.lsh_store import _BitFilter, filter_slots

    rng = random.Random(5)
    for n in (0, 1, 2, 21):
        filt = _BitFilter()
        stored = [[rng.getrandbits(63) for _ in range(n)] for _ in range(50)]
        for keys in stored:
            filt.add(filter_slots(keys))
        assert all(filt.may_hold(filter_slots(keys)) for keys in stored if keys)
        assert not filt.may_hold(filter_slots([]))
        fresh = [[rng.getrandbits(63) for _ in range(n)] for _ in range(200)]
        misses = sum(not filt.may_hold(filter_slots(keys)) for keys in fresh)
        assert misses >= (190 if n else 200)  # 50*n of 2^25 bits set: nearly every fresh text misses


def test_dedup_state_waits_for_the_commit_and_is_seen_before_it(tmp_path):
    # claims and signatures made inside a transaction are found at once, reach the file with its
    # commit, and vanish with a rollback (a resume then hands out the same seq numbers again)
    j = Journal(tmp_path)
    j.begin()
    assert j.seen("q", 7) is None
    j.claim("q", 7, "item-a")
    j.claim("q", 7, "item-b")  # the first claim stands
    assert j.seen("q", 7) == "item-a" and j.seen("d", 7) is None
    assert j.seen_or_add("q", 8, "item-c") is None and j.seen_or_add("q", 8, "item-d") == "item-c"
    assert [j.add_signature("d", f"k{i}", bytes([i]) * 4) for i in range(3)] == [1, 2, 3]
    assert j.signatures([3, 1]) == [(1, "k0", b"\0" * 4), (3, "k2", b"\2" * 4)]
    other = Journal(tmp_path)  # another reader sees nothing before the commit
    assert other.seen("q", 7) is None and other.signatures([1]) == []
    j.commit()
    assert other.seen("q", 7) == "item-a" and other.seen("q", 8) == "item-c"
    assert other.signatures([2]) == [(2, "k1", b"\1" * 4)]
    other.close()
    j.begin()
    j.claim("q", 9, "item-e")
    assert j.add_signature("d", "k3", b"x") == 4
    assert j.signatures([1, 4]) == [(1, "k0", b"\0" * 4), (4, "k3", b"x")]  # stored and pending
    j.rollback()
    assert j.seen("q", 9) is None and j.signatures([4]) == []
    assert j.add_signature("d", "k4", b"y") == 4  # outside a transaction: written at once
    j.claim("q", 10, "item-f")
    j.close()
    j = Journal(tmp_path)
    assert j.seen("q", 10) == "item-f" and j.signatures([4]) == [(4, "k4", b"y")]
    assert j.add_signature("d", "k5", b"z") == 5
    j.close()
