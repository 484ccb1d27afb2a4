"""Near-duplicate index and text normalisation: behaviour a pipeline run would show."""

import random
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from synthgen.quality.neardup import NearDupIndex
from synthgen.quality.textnorm import normalize

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


def test_one_word_changed_is_caught_and_returns_the_earlier_key() -> None:
    index = NearDupIndex()
    assert index.check_and_add("first", PASSAGE) is None
    assert index.check_and_add("second", one_word_changed(PASSAGE, 40, "suddenly")) == "first"
    assert len(index) == 1  # the duplicate was not added


def test_unrelated_texts_are_not_duplicates() -> None:
    index = NearDupIndex()
    for i, text in enumerate([PASSAGE, *OTHERS, CHINESE]):
        assert index.check_and_add(f"k{i}", text) is None
    assert len(index) == 6


def test_case_width_and_spacing_do_not_make_a_new_text() -> None:
    index = NearDupIndex()
    index.check_and_add("a", PASSAGE)
    shouted = "  " + PASSAGE.upper().replace(" ", " \n\t ", 5)
    assert index.check_and_add("b", shouted) == "a"
    assert index.check_and_add("c", "ＭＡＲＤＥＮ　harbour   museum") is None


def test_chinese_without_spaces_gets_character_shingles() -> None:
    index = NearDupIndex()
    assert index.check_and_add("zh", CHINESE) is None
    assert index.check_and_add("zh2", CHINESE.replace("螃蟹", "龙虾")) == "zh"
    assert index.check_and_add("zh3", CHINESE[: len(CHINESE) // 2]) is None  # half is not a near-dup


def test_texts_shorter_than_the_ngram_use_word_unigrams() -> None:
    index = NearDupIndex(ngram=3)
    assert index.check_and_add("a", "blue whale") is None
    assert index.check_and_add("b", "Whale  BLUE") == "a"
    assert index.check_and_add("c", "grey whale") is None


def test_answers_are_the_same_in_two_fresh_indexes() -> None:
    rng = random.Random(7)
    base = PASSAGE.split()
    texts = []
    for _ in range(60):
        words = base[:]
        for _ in range(rng.randint(0, 6)):  # 0-6 edits: straddles the 0.9 threshold
            words[rng.randrange(len(words))] = rng.choice(["alpha", "beta", "gamma", "delta"])
        texts.append(" ".join(words))
    texts += OTHERS
    first, second = NearDupIndex(), NearDupIndex()
    a = [first.check_and_add(f"k{i}", t) for i, t in enumerate(texts)]
    b = [second.check_and_add(f"k{i}", t) for i, t in enumerate(texts)]
    assert a == b
    assert any(x is None for x in a[1:]) and any(x is not None for x in a)


def test_signatures_are_the_same_in_another_process() -> None:
    code = (
        "import sys; from synthgen.quality.neardup import NearDupIndex; "
        "sys.stdout.write(NearDupIndex().signature(sys.stdin.read()).hex())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=PASSAGE, capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert bytes.fromhex(out.stdout) == NearDupIndex().signature(PASSAGE)


def test_rebuild_from_stored_signatures_gives_the_same_answers(tmp_path) -> None:
    texts = [PASSAGE, *OTHERS, CHINESE]
    live = NearDupIndex()
    db = sqlite3.connect(tmp_path / "run.db")
    db.execute("CREATE TABLE accepted (key TEXT, sig BLOB)")
    for i, text in enumerate(texts):
        sig = live.signature(text)
        assert live.check_signature(f"k{i}", sig) is None
        db.execute("INSERT INTO accepted VALUES (?, ?)", (f"k{i}", sig))
    db.commit()
    db.close()

    rows = sqlite3.connect(tmp_path / "run.db").execute("SELECT key, sig FROM accepted ORDER BY rowid").fetchall()
    one_by_one, bulk = NearDupIndex(), NearDupIndex()
    for key, sig in rows:
        one_by_one.add_signature(key, sig)
    bulk.add_signatures(rows)
    probes = [one_word_changed(PASSAGE, 10, "ferry"), OTHERS[2].upper(), CHINESE + "完", "nothing like the rest at all"]
    expected = ["k0", "k3", "k5", None]
    for index in (live, one_by_one, bulk):
        assert [index.check_and_add(f"p{i}", p) for i, p in enumerate(probes)] == expected


def test_signature_from_other_settings_is_refused() -> None:
    sig = NearDupIndex(ngram=3).signature(PASSAGE)
    with pytest.raises(ValueError, match="rebuild"):
        NearDupIndex(ngram=2).add_signature("x", sig)
    with pytest.raises(ValueError, match="rebuild"):
        NearDupIndex().check_signature("x", sig[:-4])
    # the threshold is not part of the signature: another threshold can reuse it
    assert NearDupIndex(threshold=0.8).check_signature("x", sig) is None


def test_index_agrees_with_the_estimate_at_the_threshold() -> None:
    """Every pair whose estimated Jaccard reaches the threshold is found (banding by pigeonhole)."""
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(5000)]
    found = 0
    for trial in range(150):
        base = [rng.choice(vocab) for _ in range(rng.randint(40, 120))]
        edited = base[:]
        for _ in range(rng.randint(1, 5)):
            edited[rng.randrange(len(edited))] = rng.choice(vocab)
        index = NearDupIndex(threshold=0.9)
        a, b = index.signature(" ".join(base)), index.signature(" ".join(edited))
        sa = np.frombuffer(a[10:], dtype="<u4") & 0xFFFF
        sb = np.frombuffer(b[10:], dtype="<u4") & 0xFFFF
        estimate = np.count_nonzero(sa == sb) / 128
        index.add_signature("base", a)
        answer = index.check_signature("edited", b)
        assert answer == ("base" if estimate >= 0.9 else None), (trial, estimate)
        found += answer is not None
    assert 10 < found < 140  # the trials really straddle the threshold


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="threshold"):
        NearDupIndex(threshold=1.5)
    with pytest.raises(ValueError, match="ngram"):
        NearDupIndex(ngram=0)


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
