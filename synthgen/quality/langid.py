"""Is this text in the language the prompt asked for? py3langid's model (in the wheel, offline).

Chosen over lingua-language-detector by measurement (bench/langid_compare.py,
bench/notes/quality-measurements.md): as accurate on 5-word snippets, knows 90 of the paper's 93
languages (lingua: 64), loads in about 1 s (lingua accurate: 20 s).

Tolerant by design: "mismatch" only when the text is long enough, the detector is confident, and
the detected language is not a close neighbour no detector separates reliably (Bosnian/Croatian/
Serbian, Malay/Indonesian, ...). Everything else is "unchecked".
"""

from __future__ import annotations

import re
import threading
from typing import Literal

Verdict = Literal["ok", "mismatch", "unchecked"]

# Taxonomy name -> the py3langid codes that count as that language. Extra codes are dialects
# or alternative standards the model labels separately (Nynorsk, Cantonese, Egyptian Arabic, ...).
_CODES: dict[str, tuple[str, ...]] = {
    "English": ("en",), "Polish": ("pl",), "Japanese": ("ja",), "Italian": ("it",), "Russian": ("ru",),
    "Indonesian": ("id",), "German": ("de",), "Persian": ("fa",), "Spanish": ("es",),
    "Chinese": ("zh", "yue", "wuu"), "French": ("fr",), "Portuguese": ("pt",), "Dutch": ("nl",),
    "Arabic": ("ar", "ary", "arz"), "Afrikaans": ("af",), "Albanian": ("sq",), "Amharic": ("am",),
    "Armenian": ("hy",), "Assamese": ("as",), "Azerbaijani": ("az",), "Basque": ("eu",),
    "Belarusian": ("be",), "Bengali": ("bn",), "Bosnian": ("bs",), "Breton": ("br",), "Bulgarian": ("bg",),
    "Burmese": ("my",), "Catalan": ("ca",), "Croatian": ("hr",), "Czech": ("cs",), "Danish": ("da",),
    "Esperanto": ("eo",), "Estonian": ("et",), "Filipino": ("tl",), "Finnish": ("fi",), "Galician": ("gl",),
    "Georgian": ("ka",), "Greek": ("el",), "Gujarati": ("gu",), "Hausa": ("ha",), "Hebrew": ("he",),
    "Hindi": ("hi",), "Hungarian": ("hu",), "Icelandic": ("is",), "Irish": ("ga",), "Javanese": ("jv",),
    "Kannada": ("kn",), "Kazakh": ("kk",), "Khmer": ("km",), "Korean": ("ko",), "Kurdish": ("ku", "sdh"),
    "Kyrgyz": ("ky",), "Lao": ("lo",), "Latin": ("la",), "Latvian": ("lv", "ltg"), "Lithuanian": ("lt",),
    "Macedonian": ("mk",), "Malagasy": ("mg",), "Malay": ("ms",), "Malayalam": ("ml",), "Marathi": ("mr",),
    "Mongolian": ("mn",), "Nepali": ("ne",), "Norwegian": ("no", "nn"), "Oriya": ("or",), "Oromo": ("om",),
    "Pashto": ("ps",), "Punjabi": ("pa",), "Romanian": ("ro",), "Sanskrit": ("sa",),
    "Scottish Gaelic": ("gd",), "Serbian": ("sr",), "Sinhala": ("si",), "Slovak": ("sk",),
    "Slovenian": ("sl",), "Somali": ("so",), "Swahili": ("sw",), "Swedish": ("sv",), "Tamil": ("ta",),
    "Telugu": ("te",), "Thai": ("th",), "Turkish": ("tr",), "Ukrainian": ("uk",), "Urdu": ("ur",),
    "Uyghur": ("ug",), "Uzbek": ("uz", "uzs"), "Vietnamese": ("vi",), "Welsh": ("cy",),
    "Western Frisian": ("fy",), "Xhosa": ("xh",),
    # Not in the model: Sindhi, Sundanese, Yiddish -> always "unchecked".
}
_NAME_OF = {c: n for n, codes in _CODES.items() for c in codes}
_NOT_LANGUAGE = "zxx"  # the model's class for numbers, markup, identifiers

# Written standards that differ more in spelling conventions than in vocabulary; on short texts
# the detector flips between them, and an LLM mixing them is not the failure this check is for.
CONFUSABLE: tuple[frozenset[str], ...] = (
    frozenset({"Bosnian", "Croatian", "Serbian"}), frozenset({"Malay", "Indonesian"}),
    frozenset({"Norwegian", "Danish"}), frozenset({"Czech", "Slovak"}),
    frozenset({"Galician", "Portuguese"}), frozenset({"Macedonian", "Bulgarian"}),
)

# Below this many letters a detector guesses: on the hand-written samples 0.4-1.4% of snippets
# shorter than 24 letters got a confident wrong answer (Ukrainian read as Russian, a Dutch loanword
# as Latin), none of the 1,735 of 24 letters or more. 24 letters is about five English words.
# Ideographs, kana and Hangul syllables count _DENSE_WEIGHT letters each (about eight CJK
# characters qualify). `python bench/langid_compare.py --sweep` reproduces the table.
MIN_LETTERS = 24
_DENSE_WEIGHT = 3
# A confident top answer needs at least this (py3langid's length-calibrated probability).
MIN_CONFIDENCE = 0.5
# Only the head of a long text is classified: accuracy is already perfect on one sentence, and
# py3langid's cost is linear in bytes (a pure-Python DFA walk), so a check stays well under 1 ms.
MAX_BYTES = 256  # ~40 English words, ~85 CJK characters

# Not letters: digits, punctuation, spaces, symbols. Brahmic and Southeast Asian vowel signs are
# combining marks (not \w), yet half of what is written in those scripts, so they count too.
_INDIC_SEA = "\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
_NON_LETTERS = re.compile(f"(?:[^\\w{_INDIC_SEA}]|[\\d_\u0964\u0965])+")
_DENSE = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")

_FRIENDS = {n: s for s in CONFUSABLE for n in s}
# Japanese with no kana (a name, a title, keywords: 経済産業省 補助金申請) is written in characters
# Chinese shares, and the detector reads it as Chinese: Japanese against Chinese is then no verdict.
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN_PAIR = frozenset({"Japanese", "Chinese"})
_identifier = None
_identifier_lock = threading.Lock()


def classes() -> list[str]:
    """The model's classes a check chooses between: every taxonomy language's codes and "not a
    language". Restricting to the run's languages alone would read a wrong-language answer as one
    of them; dropping the non-taxonomy classes (Luxembourgish, Occitan, Venetian, ...) stops German
    or Catalan text from being "detected" as a regional neighbour."""
    return sorted({c for codes in _CODES.values() for c in codes} | {_NOT_LANGUAGE})


def identifier():
    """py3langid's classifier over classes(), loaded once per process (about 1 s) and shared.

    Built from the model's columns for those classes, which is what `set_languages` computes, but
    without the copy of the whole table it keeps: 65 MB of RSS instead of 92
    (`python bench/langid_memory.py`), the same answers (tests/test_langid.py compares the two)."""
    global _identifier
    with _identifier_lock:
        if _identifier is None:
            from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
            from py3langid.modelio import load_model

            ptc, pc, labels, nextmove, row, output = load_model(MODEL_DIR / MODEL_FILE)
            wanted = set(classes())
            keep = [i for i, label in enumerate(labels) if label in wanted]
            _identifier = LanguageIdentifier(ptc[:, keep], pc[keep], [labels[i] for i in keep], nextmove,
                                             output, norm_probs=True, tk_row=row)
    return _identifier


def letter_count(text: str) -> int:
    """Letters in `text`, ideographs/kana/Hangul weighted as roughly one word each."""
    letters = _NON_LETTERS.sub("", text)
    dense = len(letters) - len(_DENSE.sub("", letters))
    return len(letters) + (_DENSE_WEIGHT - 1) * dense


def enough_letters(text: str) -> bool:
    """letter_count(text) >= MIN_LETTERS, usually from the first few dozen characters only (counts
    only grow with more text)."""
    start = text[: 3 * MIN_LETTERS]
    return letter_count(start) >= MIN_LETTERS or (len(text) > len(start)
                                                   and letter_count(text) >= MIN_LETTERS)


def head(text: str) -> str:
    """The first MAX_BYTES bytes of `text` (UTF-8), cut on a character boundary."""
    start = text[:MAX_BYTES]
    raw = start.encode("utf-8", "ignore")
    return start if len(raw) <= MAX_BYTES else raw[:MAX_BYTES].decode("utf-8", "ignore")


class LanguageChecker:
    """Language identity checks against taxonomy language names (e.g. "German", "Scottish Gaelic");
    a language the model lacks always answers "unchecked"."""

    def supports(self, lang: str) -> bool:
        """True when `check(text, lang)` can answer something other than "unchecked"."""
        return lang in _CODES

    @staticmethod
    def _classify(text: str) -> tuple[str | None, float] | None:
        """(taxonomy name or None for non-language, confidence); None if the text is too short."""
        start = head(text)
        if not enough_letters(start):
            return None
        code, conf = identifier().classify(start)
        return _NAME_OF.get(code), conf

    def detect(self, text: str) -> str | None:
        """The taxonomy name of the text's language, or None if too short or unsure."""
        got = self._classify(text)
        return got[0] if got is not None and got[1] >= MIN_CONFIDENCE else None

    def check(self, text: str, expected: str) -> Verdict:
        """"ok", "mismatch" (confidently another language), or "unchecked" (cannot judge)."""
        return self.judge(text, expected)[0]

    def judge(self, text: str, expected: str) -> tuple[Verdict, str | None]:
        """(verdict, detected language or None)."""
        got = self._classify(text) if expected in _CODES else None
        if got is None:
            return "unchecked", None
        name, conf = got
        detected = name if conf >= MIN_CONFIDENCE else None
        if name in _FRIENDS.get(expected, {expected}):
            return "ok", detected
        if {name, expected} == _HAN_PAIR and not _KANA.search(head(text)):
            return "unchecked", detected
        return ("mismatch" if detected else "unchecked"), detected
