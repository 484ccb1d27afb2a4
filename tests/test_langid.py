"""Language identity checks on real sentences (written for this test, one topic, many languages)."""

import pytest

from synthgen.quality.langid import LanguageChecker

SENTENCES = {
    "English": "The river flooded the lower streets after three days of heavy rain, and the school was closed.",
    "German": "Nach drei Tagen Dauerregen trat der Fluss über die Ufer, und die Schule blieb geschlossen.",
    "French": "Après trois jours de pluie continue, la rivière a débordé et l'école est restée fermée.",
    "Spanish": "Después de tres días de lluvia intensa, el río se desbordó y la escuela permaneció cerrada.",
    "Russian": "После трёх дней сильного дождя река вышла из берегов, и школа осталась закрытой.",
    "Japanese": "三日間の大雨で川があふれ、学校は休校になりました。",
    "Chinese": "连续下了三天大雨之后，河水漫过了低处的街道，学校也停课了。",
    "Arabic": "بعد ثلاثة أيام من الأمطار الغزيرة فاض النهر وأغلقت المدرسة أبوابها.",
    "Polish": "Po trzech dniach ulewnego deszczu rzeka wylała, a szkoła pozostała zamknięta.",
    "Turkish": "Üç gün süren şiddetli yağmurun ardından nehir taştı ve okul kapalı kaldı.",
    "Hindi": "तीन दिन की भारी बारिश के बाद नदी में बाढ़ आ गई और स्कूल बंद रहा।",
    "Korean": "사흘 동안 폭우가 내린 뒤 강물이 넘쳤고 학교는 문을 닫았습니다.",
}


@pytest.fixture(scope="module")
def checker() -> LanguageChecker:
    return LanguageChecker()


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_sentence_in_expected_language_is_ok(checker: LanguageChecker, lang: str) -> None:
    assert checker.check(SENTENCES[lang], lang) == "ok"
    assert checker.detect(SENTENCES[lang]) == lang


def test_german_text_checked_as_english_is_mismatch(checker: LanguageChecker) -> None:
    assert checker.check(SENTENCES["German"], "English") == "mismatch"
    assert checker.check(SENTENCES["English"], "Japanese") == "mismatch"


def test_unsupported_language_is_unchecked(checker: LanguageChecker) -> None:
    # Yiddish, Sindhi and Sundanese are in the paper's list but not in the detector's model.
    yiddish = "נאָך דרײַ טעג רעגן איז דער טײַך אַרױסגעגאַנגען פֿון די ברעגן און די שול איז געװען פֿאַרמאַכט."
    for lang in ("Yiddish", "Sindhi", "Sundanese"):
        assert not checker.supports(lang)
        assert checker.check(yiddish, lang) == "unchecked"
    assert checker.supports("Scottish Gaelic")


def test_very_short_text_is_unchecked(checker: LanguageChecker) -> None:
    assert checker.check("Guten Morgen!", "German") == "unchecked"
    assert checker.check("Guten Morgen!", "English") == "unchecked"
    assert checker.check("", "English") == "unchecked"
    assert checker.detect("ok") is None


def test_close_neighbours_are_tolerated(checker: LanguageChecker) -> None:
    croatian = "Nakon tri dana jake kiše rijeka se izlila, a škola je ostala zatvorena."
    malay = "Selepas hujan lebat selama tiga hari, sungai melimpah dan sekolah ditutup."
    assert checker.check(croatian, "Serbian") == "ok"
    assert checker.check(croatian, "Bosnian") == "ok"
    assert checker.check(malay, "Indonesian") == "ok"
    # ...but not across the set: Croatian is not Polish.
    assert checker.check(croatian, "Polish") != "ok"


def test_numbers_and_urls_are_not_judged(checker: LanguageChecker) -> None:
    assert checker.check("12345 67890 3.14159 2.71828 1.41421 0.57721 1.61803", "German") == "unchecked"


def test_restricted_checker_still_recognises_other_languages() -> None:
    only_english = LanguageChecker(["English"])
    assert not only_english.supports("German")
    assert only_english.check(SENTENCES["German"], "German") == "unchecked"
    assert only_english.check(SENTENCES["German"], "English") == "mismatch"


def test_unknown_language_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Klingon"):
        LanguageChecker(["English", "Klingon"])


def _variants() -> list[str]:
    texts = []
    for s in SENTENCES.values():
        words = s.split()
        texts += [s, s * 4, s.upper(), " ".join(words[:3]), s[: len(s) // 2]]
    return texts + ["", "12345 678", "<div class='x'>y</div>", "ÉCOLE FERMÉE"]


def test_batched_classifier_answers_exactly_as_py3langid() -> None:
    # our loader and batched DFA walk must give py3langid's own answers, not "close" ones
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from synthgen.quality import langid

    model = langid._load_model()
    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    reference.set_languages(sorted(set(model.classes)))
    texts = [langid._head(t) for t in _variants()]
    expected = [reference.classify(t) for t in texts]
    for got in (model.classify_many(texts), [model.classify(t) for t in texts]):
        assert [g[0] for g in got] == [e[0] for e in expected]
        assert all(abs(g[1] - e[1]) < 1e-4 for g, e in zip(got, expected))


def test_windowed_walk_finds_the_features_of_py3langids_byte_by_byte_walk() -> None:
    # every position steps over the last `depth` bytes only; the features per text must be the
    # ones py3langid's own walk counts, for texts shorter than the window, empty ones, any bytes
    import random
    from collections import Counter

    from py3langid.langid import MODEL_FILE, LanguageIdentifier, visit_counts

    from synthgen.quality import langid

    model = langid._load_model()
    assert model.depth == langid._trie_depth(model.nextmove, model.rowbase) >= 2
    ref = LanguageIdentifier.from_model_file(MODEL_FILE)
    rng = random.Random(7)
    raws = [model.encode(t)[:256] for t in _variants()]
    raws += [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40))) for _ in range(150)]
    raws += [b"", b"a", b"ab", b"\xe3\x81", " ".join(SENTENCES.values()).encode()]
    owner, feats = model._features(raws)
    for i, raw in enumerate(raws):
        got = Counter(feats[owner == i].tolist())
        want = visit_counts(ref.tk_nextmove, ref._rowbase, ref.tk_output, raw) or Counter()
        assert got == want, raw


def test_check_many_matches_one_by_one(checker: LanguageChecker) -> None:
    pairs = [(t, lang) for t in _variants() for lang in ("English", "German")]
    batch = checker.check_many(pairs)
    assert [v for v, _ in batch] == [checker.check(t, lang) for t, lang in pairs]
    assert {v for v, _ in batch} == {"ok", "mismatch", "unchecked"}


_PROBE = ("import json, numpy as np; from synthgen.quality import langid; m = langid._load_model(); "
          "print(json.dumps([isinstance(m.nextmove.base, np.memmap), m.classify_many({texts!r})]))")


def _probe(cache: str, texts: list[str]) -> tuple[bool, list]:
    import json
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PROBE.format(texts=texts)], capture_output=True, text=True,
                         env={**os.environ, "SYNTHGEN_CACHE_DIR": cache}, timeout=120, check=True)
    mapped, answers = json.loads(out.stdout)
    return mapped, [tuple(a) for a in answers]


def test_model_is_unpacked_once_then_mapped_with_the_same_answers(tmp_path) -> None:
    texts = [SENTENCES["German"], SENTENCES["Korean"], SENTENCES["English"] * 3]
    first_mapped, first = _probe(str(tmp_path / "cache"), texts)
    (ptc,) = (tmp_path / "cache").glob("langid-*/ptc.npy")
    unpacked_at = ptc.stat().st_mtime_ns
    second_mapped, second = _probe(str(tmp_path / "cache"), texts)
    assert first_mapped and second_mapped
    assert ptc.stat().st_mtime_ns == unpacked_at  # not unpacked again
    assert second == first
    assert [code for code, _ in first] == ["de", "ko", "en"]


def test_unpacking_removes_copies_left_by_other_model_versions(tmp_path) -> None:
    cache = tmp_path / "cache"
    stale = cache / "langid-1-4586720-1700000000"
    stale.mkdir(parents=True)
    (stale / "ptc.npy").write_bytes(b"x" * 1000)
    unrelated = cache / "notes"
    unrelated.mkdir()
    mapped, answers = _probe(str(cache), [SENTENCES["German"]])
    assert mapped and answers[0][0] == "de"
    assert not stale.exists() and unrelated.exists()
    assert len(list(cache.glob("langid-*"))) == 1  # only the copy in use


def test_unwritable_or_disabled_cache_still_works(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    for cache in (str(blocker / "cache"), ""):
        mapped, answers = _probe(cache, [SENTENCES["French"]])
        assert not mapped and answers[0][0] == "fr"
