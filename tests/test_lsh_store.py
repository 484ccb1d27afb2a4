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
    disk = DiskNearDup(j.db, threshold=0.85)
    answers_mem = [mem.check_and_add(f"k{i}", t) for i, t in enumerate(texts)]
    answers_disk = [disk.check_and_add("document", f"k{i}", t) for i, t in enumerate(texts)]
    assert answers_disk == answers_mem
    assert sum(a is not None for a in answers_disk) > 50  # the fixture does hold near-copies


def test_state_survives_reopening_and_namespaces_are_separate(tmp_path):
    text = " ".join(WORDS * 3)
    j = Journal(tmp_path)
    assert DiskNearDup(j.db, 0.85).check_and_add("query", "a", text) is None
    j.close()
    j = Journal(tmp_path)
    disk = DiskNearDup(j.db, 0.85)
    assert disk.check_and_add("query", "b", text.replace("alpha", "omega", 1)) == "a"
    assert disk.check_and_add("document", "c", text) is None
