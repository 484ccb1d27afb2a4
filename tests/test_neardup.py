"""Near-duplicate search in the run journal and text normalisation: behaviour a run would show."""

import json
import os
import random
import subprocess
import sys

import pydantic
import pytest

from synthgen.config import ValidationConfig
from synthgen.journal import Journal
from synthgen.quality.neardup import MinHasher, NearDupStore
from synthgen.quality.textnorm import normalize

from neardup_oracle import MemoryNearDup

PASSAGE = (
    "The coastal town of Marden depends on its fishing fleet, which leaves the harbour before dawn "
    "and returns in the early afternoon with cod, mackerel and crab. Over the last decade the catch "
    "has shrunk, and younger families have moved inland to find steady work in the warehouses near "
    "the motorway. The council hopes that a new ferry link to the islands will bring visitors in the "
    "summer months, and it has restored the old lighthouse as a small museum about the history of "
    "the harbour. Local cafes now print their menus in three languages, and the primary school runs "
    "weekend classes where retired fishermen teach children how to tie knots and read the tides."
)
OTHERS = [
    (
        "Quantum error correction protects fragile qubits by spreading one logical bit of information "
        "across many physical qubits, so that a single flipped qubit can be detected and undone."
    ),
    (
        "To bake a dense rye loaf, mix the sourdough starter with warm water, add coarse flour and salt, "
        "and leave the dough to rise overnight in a covered tin before baking it slowly."
    ),
    (
        "The committee reviewed the budget line by line and postponed the vote on the new stadium until "
        "an independent audit of the construction costs has been published."
    ),
    (
        "Migratory birds use the earth's magnetic field, the position of the sun and familiar landmarks "
        "to find their way across thousands of kilometres every spring and autumn."
    ),
]
CHINESE = (
    "这座海边小镇依靠渔船队为生，渔船每天黎明前出港，下午满载鳕鱼、鲭鱼和螃蟹归来。过去十年里渔获不断减少，"
    "年轻的家庭纷纷搬到内陆，在高速公路附近的仓库里寻找稳定的工作。镇议会希望通往岛屿的新渡轮航线能在夏季"
    "吸引游客，并把旧灯塔修复成一座介绍港口历史的小型博物馆。"
)


def one_word_changed(text: str, position: int, word: str) -> str:
    words = text.split()
    words[position] = word
    return " ".join(words)


def _store(tmp_path, threshold: float = 0.9, ngram: int = 3, name: str = "run") -> NearDupStore:
    return NearDupStore(Journal(tmp_path / name), threshold=threshold, ngram=ngram)


def _stored(store: NearDupStore) -> int:
    return store.journal.db.execute("SELECT COUNT(*) FROM neardup").fetchone()[0]


def test_one_word_changed_is_caught_and_returns_the_earlier_key(tmp_path) -> None:
    index = _store(tmp_path)
    assert index.check_and_add("d", "first", PASSAGE) is None
    assert index.check_and_add("d", "second", one_word_changed(PASSAGE, 40, "suddenly")) == "first"
    assert _stored(index) == 1  # the duplicate was not added


def test_unrelated_texts_are_not_duplicates(tmp_path) -> None:
    index = _store(tmp_path)
    for i, text in enumerate([PASSAGE, *OTHERS, CHINESE]):
        assert index.check_and_add("d", f"k{i}", text) is None
    assert _stored(index) == 6


def test_case_width_and_spacing_do_not_make_a_new_text(tmp_path) -> None:
    index = _store(tmp_path)
    index.check_and_add("d", "a", PASSAGE)
    shouted = "  " + PASSAGE.upper().replace(" ", " \n\t ", 5)
    assert index.check_and_add("d", "b", shouted) == "a"
    assert index.check_and_add("d", "c", "ＭＡＲＤＥＮ　harbour   museum") is None


def test_chinese_without_spaces_gets_character_shingles(tmp_path) -> None:
    index = _store(tmp_path)
    assert index.check_and_add("d", "zh", CHINESE) is None
    assert index.check_and_add("d", "zh2", CHINESE.replace("螃蟹", "龙虾")) == "zh"
    assert index.check_and_add("d", "zh3", CHINESE[: len(CHINESE) // 2]) is None  # half is not a near-dup


def test_texts_shorter_than_the_ngram_use_word_unigrams(tmp_path) -> None:
    index = _store(tmp_path, ngram=3)
    assert index.check_and_add("q", "a", "blue whale") is None
    assert index.check_and_add("q", "b", "Whale  BLUE") == "a"
    assert index.check_and_add("q", "c", "grey whale") is None


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


def test_same_answers_as_the_in_memory_oracle(tmp_path) -> None:
    texts = _texts(300)
    oracle = MemoryNearDup(threshold=0.85)
    store = _store(tmp_path, threshold=0.85)
    store.journal.begin()
    answers = [store.check_and_add("document", f"k{i}", t) for i, t in enumerate(texts)]
    store.journal.commit()
    assert answers == [oracle.check_and_add("document", f"k{i}", t) for i, t in enumerate(texts)]
    assert sum(a is not None for a in answers) > 50  # the fixture does hold near-copies


def test_answers_are_the_same_in_two_fresh_runs(tmp_path) -> None:
    rng = random.Random(7)
    base = PASSAGE.split()
    texts = []
    for _ in range(60):
        words = base[:]
        for _ in range(rng.randint(0, 6)):  # 0-6 edits: straddles the 0.9 threshold
            words[rng.randrange(len(words))] = rng.choice(["alpha", "beta", "gamma", "delta"])
        texts.append(" ".join(words))
    texts += OTHERS
    first, second = _store(tmp_path, name="a"), _store(tmp_path, name="b")
    a = [first.check_and_add("d", f"k{i}", t) for i, t in enumerate(texts)]
    b = [second.check_and_add("d", f"k{i}", t) for i, t in enumerate(texts)]
    assert a == b
    assert any(x is None for x in a[1:]) and any(x is not None for x in a)


def test_signatures_and_band_keys_are_the_same_in_another_process() -> None:
    code = (
        "import sys, json; from synthgen.quality.neardup import MinHasher; "
        "s = MinHasher().sign_text('query', sys.stdin.read()); print(json.dumps([s.sig.hex(), s.bands]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=PASSAGE, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    sig, bands = json.loads(out.stdout)
    mine = MinHasher().sign_text("query", PASSAGE)
    assert bytes.fromhex(sig) == mine.sig and bands == mine.bands
    assert all(0 <= k < 2**63 for k in bands)  # SQLite integers are signed


def test_state_survives_reopening_and_namespaces_are_separate(tmp_path) -> None:
    text = " ".join(WORDS * 3)
    j = Journal(tmp_path)
    assert NearDupStore(j, 0.85).check_and_add("query", "a", text) is None
    j.close()
    j = Journal(tmp_path)
    store = NearDupStore(j, 0.85)
    assert store.check_and_add("query", "b", text.replace("alpha", "omega", 1)) == "a"
    assert store.check_and_add("document", "c", text) is None
    j.close()
    assert sorted(p.name for p in (tmp_path / "journal").glob("*.sqlite")) == ["state.sqlite"]  # no second file


def test_bands_are_committed_with_the_transaction_they_belong_to(tmp_path) -> None:
    # a killed process with a transaction open leaves exactly what was committed: a resume finds
    # the texts of committed transactions and none of the others, with nothing to rebuild
    texts = _texts(200, seed=9)
    script = (
        "import sys, os, json; from pathlib import Path; from synthgen.journal import Journal;"
        "from synthgen.quality.neardup import NearDupStore;"
        "texts = json.loads(sys.stdin.read()); j = Journal(Path(sys.argv[1])); d = NearDupStore(j, 0.85);"
        "j.begin(); [d.check_and_add('document', f'k{i}', t) for i, t in enumerate(texts[:100])]; j.commit();"
        "j.begin(); [d.check_and_add('document', f'k{i}', t) for i, t in enumerate(texts[100:150], 100)];"
        "os._exit(0)"  # dies with a transaction open
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], input=json.dumps(texts), text=True, check=True)
    j = Journal(tmp_path)
    store = NearDupStore(j, threshold=0.85)
    resumed = [store.check_and_add("document", f"k{i}", t) for i, t in enumerate(texts[100:], 100)]
    oracle = MemoryNearDup(threshold=0.85)
    expected = [oracle.check_and_add("document", f"k{i}", t) for i, t in enumerate(texts)][100:]
    assert resumed == expected
    assert any(a is not None and int(a[1:]) < 100 for a in resumed)  # hits on texts from before the kill
    j.close()


def test_rollback_forgets_the_rolled_back_texts_and_readers_wait_for_the_commit(tmp_path) -> None:
    text = " ".join(WORDS * 2)
    j = Journal(tmp_path)
    store = NearDupStore(j, 0.85)
    j.begin()
    assert store.check_and_add("query", "gone", text) is None
    j.rollback()
    j.begin()
    assert store.check_and_add("query", "kept", text.replace("alpha", "beta", 1)) is None
    other = NearDupStore(Journal(tmp_path), 0.85)  # another reader sees nothing before the commit
    probe = other.hasher.sign_text("query", text)
    assert other.find(probe) is None
    j.commit()
    assert other.find(probe) == "kept"
    assert store.check_and_add("query", "later", text) == "kept"
    other.journal.close()
    j.close()


def test_signature_from_other_settings_is_refused() -> None:
    sig = MinHasher(ngram=3).sign_text("d", PASSAGE).sig
    with pytest.raises(ValueError, match="rebuild"):
        MinHasher(ngram=2).best_match(sig, [("x", sig)])
    with pytest.raises(ValueError, match="rebuild"):
        MinHasher().best_match(sig, [("x", sig[:-4])])
    # the threshold is not part of the signature: another threshold can reuse it
    assert MinHasher(threshold=0.8).best_match(sig, [("x", sig)]) == "x"


def test_bands_find_every_pair_the_estimate_accepts_at_the_threshold(tmp_path) -> None:
    """Every pair whose estimated Jaccard reaches the threshold is found (banding by pigeonhole)."""
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(5000)]
    found = 0
    journal = Journal(tmp_path)
    for trial in range(150):
        base = [rng.choice(vocab) for _ in range(rng.randint(40, 120))]
        edited = base[:]
        for _ in range(rng.randint(1, 5)):
            edited[rng.randrange(len(edited))] = rng.choice(vocab)
        store = NearDupStore(journal, threshold=0.9)
        a = store.hasher.sign_text(f"t{trial}", " ".join(base))
        b = store.hasher.sign_text(f"t{trial}", " ".join(edited))
        estimate = sum(x == y for x, y in zip(store.hasher.slots(a.sig), store.hasher.slots(b.sig))) / 128
        store.add("base", a)
        answer = store.find(b)
        assert answer == ("base" if estimate >= 0.9 else None), (trial, estimate)
        found += answer is not None
    assert 10 < found < 140  # the trials really straddle the threshold
    journal.close()


def test_a_threshold_out_of_range_is_refused_by_the_config() -> None:
    with pytest.raises(pydantic.ValidationError, match="near_duplicate_threshold"):
        ValidationConfig(near_duplicate_threshold=1.5)


def test_normalize_folds_case_width_and_whitespace() -> None:
    assert normalize("  Ｈｅｌｌｏ\u3000WORLD\n\t straße ") == "hello world strasse"
    assert normalize("ﬁle №5") == "file no5"
    assert normalize("") == ""


def test_normalize_takes_a_short_cut_only_where_it_gives_the_same_text() -> None:
    # single-spaced ASCII is returned as folded; anything with other whitespace, a double space,
    # an edge space or a control character goes the long way: both must agree on every string
    import random
    import unicodedata

    from synthgen.validate import _counted, count_words

    rng = random.Random(4)
    alphabet = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x7fabcXY.,-é\u00a0\u2028\u3000東ｆ"
    texts = ["", " ", "a", "a b", " a", "a ", "a  b", "a\tb", "A\x1cB", "ok. fine!"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(20000)]
    for t in texts:
        expected = " ".join(unicodedata.normalize("NFKC", t).casefold().split())
        assert normalize(t) == expected, repr(t)
        assert _counted(t, expected) == count_words(t), repr(t)  # word counts read off it agree
