"""Is this text in the language the prompt asked for?

Detector: py3langid (pip ``py3langid``, model shipped in the wheel, works offline). Chosen over
lingua-language-detector after measuring both on hand-written passages in 25 languages
(bench/langid_compare.py, figures in quality-measurements.md): both perfect from 15 words up and
about 96% exact on 5-word snippets, but py3langid knows 90 of the paper's 93 languages (lingua:
64), loads in about 1 s to about 130 MB (lingua's accurate mode: 20 s and 1.1 GB; its low-accuracy
mode errs on whole sentences), and this checker takes about 0.2 ms CPU per sentence and 0.4 ms
per 100-word text, up to ~1 ms on a busy machine (lingua: 2-5 ms).

Checks are tolerant by design: a check only says "mismatch" when the text is long enough, the
detector is confident, and the detected language is not a close neighbour of the expected one that
no detector separates reliably (Bosnian/Croatian/Serbian, Malay/Indonesian, ...). Everything else
is "unchecked", so a gate built on this rejects real wrong-language output and little else.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
import threading
import unicodedata
from collections.abc import Iterable
from typing import Literal

from synthgen.taxonomy import ALL_LANGUAGES

Verdict = Literal["ok", "mismatch", "unchecked"]

# Taxonomy name -> the py3langid codes that count as that language. Extra codes are dialects
# or alternative standards the model labels separately (Nynorsk, Cantonese, Egyptian Arabic, ...).
_CODES: dict[str, tuple[str, ...]] = {
    "English": ("en",), "Polish": ("pl",), "Japanese": ("ja",), "Italian": ("it",),
    "Russian": ("ru",), "Indonesian": ("id",), "German": ("de",), "Persian": ("fa",),
    "Spanish": ("es",), "Chinese": ("zh", "yue", "wuu"), "French": ("fr",),
    "Portuguese": ("pt",), "Dutch": ("nl",), "Arabic": ("ar", "ary", "arz"),
    "Afrikaans": ("af",), "Albanian": ("sq",), "Amharic": ("am",), "Armenian": ("hy",),
    "Assamese": ("as",), "Azerbaijani": ("az",), "Basque": ("eu",), "Belarusian": ("be",),
    "Bengali": ("bn",), "Bosnian": ("bs",), "Breton": ("br",), "Bulgarian": ("bg",),
    "Burmese": ("my",), "Catalan": ("ca",), "Croatian": ("hr",), "Czech": ("cs",),
    "Danish": ("da",), "Esperanto": ("eo",), "Estonian": ("et",), "Filipino": ("tl",),
    "Finnish": ("fi",), "Galician": ("gl",), "Georgian": ("ka",), "Greek": ("el",),
    "Gujarati": ("gu",), "Hausa": ("ha",), "Hebrew": ("he",), "Hindi": ("hi",),
    "Hungarian": ("hu",), "Icelandic": ("is",), "Irish": ("ga",), "Javanese": ("jv",),
    "Kannada": ("kn",), "Kazakh": ("kk",), "Khmer": ("km",), "Korean": ("ko",),
    "Kurdish": ("ku", "sdh"), "Kyrgyz": ("ky",), "Lao": ("lo",), "Latin": ("la",),
    "Latvian": ("lv", "ltg"), "Lithuanian": ("lt",), "Macedonian": ("mk",),
    "Malagasy": ("mg",), "Malay": ("ms",), "Malayalam": ("ml",), "Marathi": ("mr",),
    "Mongolian": ("mn",), "Nepali": ("ne",), "Norwegian": ("no", "nn"), "Oriya": ("or",),
    "Oromo": ("om",), "Pashto": ("ps",), "Punjabi": ("pa",), "Romanian": ("ro",),
    "Sanskrit": ("sa",), "Scottish Gaelic": ("gd",), "Serbian": ("sr",), "Sinhala": ("si",),
    "Slovak": ("sk",), "Slovenian": ("sl",), "Somali": ("so",), "Swahili": ("sw",),
    "Swedish": ("sv",), "Tamil": ("ta",), "Telugu": ("te",), "Thai": ("th",),
    "Turkish": ("tr",), "Ukrainian": ("uk",), "Urdu": ("ur",), "Uyghur": ("ug",),
    "Uzbek": ("uz", "uzs"), "Vietnamese": ("vi",), "Welsh": ("cy",),
    "Western Frisian": ("fy",), "Xhosa": ("xh",),
    # Not in the model: Sindhi, Sundanese, Yiddish -> always "unchecked".
}
_NOT_LANGUAGE = "zxx"  # the model's class for numbers, markup, identifiers

# Written standards that differ more in spelling conventions than in vocabulary; on short texts
# the detector flips between them, and an LLM mixing them is not the failure this gate is for.
CONFUSABLE: tuple[frozenset[str], ...] = (
    frozenset({"Bosnian", "Croatian", "Serbian"}),
    frozenset({"Malay", "Indonesian"}),
    frozenset({"Norwegian", "Danish"}),
    frozenset({"Czech", "Slovak"}),
    frozenset({"Galician", "Portuguese"}),
    frozenset({"Macedonian", "Bulgarian"}),
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
# Only the head of a long text is classified: accuracy is already perfect on one sentence, and the
# cost is linear in bytes (a pure-Python DFA walk), so this keeps a check under a millisecond.
MAX_BYTES = 256  # ~40 English words, ~85 CJK characters

# Not letters: digits, punctuation, spaces, symbols. Brahmic and Southeast Asian vowel signs are
# combining marks (not \w), yet half of what is written in those scripts, so they count too.
_INDIC_SEA = "\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
_NON_LETTERS = re.compile(f"(?:[^\\w{_INDIC_SEA}]|[\\d_\u0964\u0965])+")
_DENSE = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")

_model = None
_model_lock = threading.Lock()
_CACHE_FORMAT = 3  # 3: depth_of.npy


def _cache_dir():
    """Where the unpacked model is kept: $SYNTHGEN_CACHE_DIR, else $XDG_CACHE_HOME/synthgen, else
    ~/.cache/synthgen; keyed by the py3langid model file so an upgrade unpacks afresh. None
    disables the cache (SYNTHGEN_CACHE_DIR="")."""
    import os

    from py3langid.langid import MODEL_DIR, MODEL_FILE

    root = os.environ.get("SYNTHGEN_CACHE_DIR")
    if root == "":
        return None
    if root is None:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "synthgen")
    try:
        st = (MODEL_DIR / MODEL_FILE).stat()
    except OSError:
        return None
    return Path(root) / f"langid-{_CACHE_FORMAT}-{st.st_size}-{int(st.st_mtime)}"


def _load_model() -> "_Model":
    """The classifier, loaded once per process (about 1 s)."""
    global _model
    with _model_lock:
        if _model is None:
            _model = _Model()
    return _model


_CHUNK = 96  # texts classified together


def _trie_depth(nextmove, rowbase) -> int:
    """How many bytes back the DFA's state can depend on (6 for py3langid's model).

    The DFA is an Aho-Corasick automaton: its state after any input is the trie node of the
    longest suffix of that input which is a path of the trie. So the state is fixed by the last
    `depth` bytes, and the fewest bytes that reach a node is that node's depth: a breadth-first
    walk from the start state finds the deepest one."""
    import numpy as np

    seen = np.zeros(len(rowbase), dtype=bool)
    seen[0] = True
    frontier, depth, step = np.zeros(1, dtype=np.int64), 0, np.arange(256, dtype=np.int64)
    while True:
        reached = np.zeros(len(rowbase), dtype=bool)
        for i in range(0, len(frontier), 4096):  # ~8 MB of indices at a time
            reached[nextmove[(rowbase[frontier[i: i + 4096]][:, None] + step).ravel()]] = True
        new = np.flatnonzero(reached & ~seen)
        if not len(new):
            return depth
        seen[new] = True
        frontier, depth = new, depth + 1


class _Model:
    """py3langid's model and arithmetic (same codes and probabilities), held more cheaply.

    py3langid keeps the full 142-class float16 table, our float32 copy of the taxonomy's
    columns and the DFA as a Python array: ~110 MB, and a text at a time. This holds the DFA as
    numpy arrays (memoryviews for the scalar walk), the float16 table for the taxonomy's classes
    only (~20 MB), and classifies a batch of texts with one vectorised DFA walk. The first process to
    load it unpacks it once into the user's cache (~80 MB of .npy files); later ones map those
    files: no 1 s LZMA decode per process, and only the pages a text touches become resident.
    """

    _ARRAYS = ("ptc", "pc", "nextmove", "rowbase", "out", "depth_of")

    def __init__(self) -> None:
        import numpy as np

        cache = _cache_dir()
        if cache is not None and not (cache / "classes.json").exists():
            self._unpack_to(cache)  # one array at a time: the unpacking never holds the whole model
        if not (cache is not None and self._map(cache)):
            self._unpack()  # no usable cache: the arrays stay in this process's memory
        first: dict[str, int] = {}
        self.alias_pairs = []
        for i, c in enumerate(self.classes):
            if c in first:
                self.alias_pairs.append((first[c], i))
            else:
                first[c] = i
        self.depth = int(self.depth_of[0])
        self._np = np

    def _map(self, cache) -> bool:
        """Memory-map the unpacked arrays: milliseconds, and only pages a text touches are read."""
        import json

        import numpy as np

        try:
            for name in self._ARRAYS:
                mapped = np.load(cache / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                setattr(self, name, mapped.view(np.ndarray))  # plain arrays: memmap ops are slower
            self.classes = json.loads((cache / "classes.json").read_text())
            return True
        except (OSError, ValueError):
            return False

    def _arrays(self):
        """(name, array) from py3langid's LZMA-compressed npz (about 1 s), one at a time, for the
        taxonomy's classes; sets self.classes first."""
        import lzma
        import shutil
        import tempfile

        import numpy as np
        from py3langid.langid import MODEL_DIR, MODEL_FILE

        with tempfile.TemporaryFile(suffix=".npz") as tmp:  # never hold the whole npz in memory
            with lzma.open(MODEL_DIR / MODEL_FILE) as src:
                shutil.copyfileobj(src, tmp, length=1 << 20)
            tmp.seek(0)
            with np.load(tmp, allow_pickle=False) as data:
                classes = data["classes"].tolist()
                known = set(classes)
                wanted = {c for codes in _CODES.values() for c in codes} | {_NOT_LANGUAGE}
                # Dropping the non-taxonomy classes (Luxembourgish, Occitan, Venetian, ...) stops
                # German or Catalan text from being "detected" as a regional neighbour.
                keep = [i for i, c in enumerate(classes) if c in wanted and c in known]
                self.classes = [classes[i] for i in keep]
                # float16, as py3langid keeps it (20 MB): rows are widened per batch, exactly
                yield "ptc", np.ascontiguousarray(data["ptc"][:, keep])
                yield "pc", np.ascontiguousarray(data["pc"][keep], dtype=np.float32)
                nextmove = np.ascontiguousarray(data["nextmove"])
                rowbase = data["nextmove_row"].astype(np.int64) << 8
                yield "depth_of", np.array([_trie_depth(nextmove, rowbase)], dtype=np.int64)
                yield "nextmove", nextmove
                yield "rowbase", rowbase
                yield "out", np.ascontiguousarray(data["out_feat"], dtype=np.int32)

    def _unpack(self) -> None:
        for name, array in self._arrays():
            setattr(self, name, array)

    def _unpack_to(self, cache) -> None:
        """Write the arrays for this and later processes to map; best effort (a read-only home
        only costs memory and a second of start-up per process)."""
        import json
        import os
        import shutil
        import tempfile

        import numpy as np

        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=cache.name + ".", dir=cache.parent))
        except OSError:
            return
        try:
            for name, array in self._arrays():
                np.save(tmp / f"{name}.npy", array, allow_pickle=False)
                del array
            (tmp / "classes.json").write_text(json.dumps(self.classes))
            os.rename(tmp, cache)  # atomic: readers see all files or none
        except OSError:  # disk full, or another process won the race (theirs is as good)
            shutil.rmtree(tmp, ignore_errors=True)
            return
        # unpacked copies of other model files or formats (~70 MB each) are never read again;
        # a process still mapping one keeps its pages (Linux frees them when it unmaps)
        for old in cache.parent.glob("langid-*"):
            if old != cache and old.is_dir() and re.fullmatch(r"langid-\d+-\d+-\d+", old.name):
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def encode(text: str) -> bytes:
        if text.isupper():
            text = text.lower()
        return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")

    def _features(self, raws: list[bytes]):
        """(text, feature index) of every feature the DFA emits, for all texts at once.

        The state at a byte is the DFA walked from its start over the `depth` bytes ending
        there (`_trie_depth`), so every position of every text steps together: `depth` numpy
        steps over the whole batch, instead of one step per byte position (256) or a Python
        loop per byte. Same features, in the same order, as py3langid's byte-by-byte walk."""
        np = self._np
        lens = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
        data = np.frombuffer(b"".join(raws), dtype=np.uint8).astype(np.int64)
        owner = np.repeat(np.arange(len(raws), dtype=np.int64), lens)
        local = np.arange(len(data), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
        nm, rb = self.nextmove, self.rowbase
        states = np.zeros(len(data), dtype=np.int64)
        for back in range(self.depth - 1, 0, -1):  # the window's bytes, oldest first
            at = np.flatnonzero(local >= back)  # windows that start before the text keep state 0
            states[at] = nm[rb[states[at]] + data[at - back]]
        states = nm[rb[states] + data]
        feats = self.out[states]
        hit = feats >= 0
        return owner[hit], feats[hit]

    def _probabilities(self, owner, feats, nbytes: list[int]):
        """py3langid's norm_probs scores for many texts at once: (texts x classes) float32."""
        np = self._np
        n_feats = len(self.ptc)
        scores = np.zeros((len(nbytes), len(self.classes)), dtype=np.float32)
        have = np.unique(owner).tolist()
        if have:  # texts with no features keep zeros: uniform, as py3langid's norm_probs does
            keys, counts = np.unique(owner * n_feats + feats, return_counts=True)  # one sort for all
            weights = np.log1p(counts.astype(np.float32))
            bounds = np.searchsorted(keys // n_feats, np.asarray(have + [len(nbytes)])).tolist()
            # the batch's distinct rows (~2k for 96 texts, against ~10k (text, feature) pairs),
            # widened once: float16 x float32 products have no BLAS path
            distinct, local = np.unique(keys % n_feats, return_inverse=True)
            table = np.take(self.ptc, distinct, axis=0).astype(np.float32)
            for r, i in enumerate(have):  # a small matrix-vector product per text (BLAS)
                a, b = bounds[r], bounds[r + 1]
                scores[i] = weights[a:b] @ table[local[a:b]]
            scores[have] += self.pc
        # T = sqrt(bytes) keeps the softmax calibrated across lengths (py3langid's norm_probs)
        scores *= (1.0 / np.sqrt(np.maximum(np.asarray(nbytes, dtype=np.float32), 1.0)))[:, None]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        for i, j in self.alias_pairs:  # script aliases (srl -> sr) count as one label
            scores[:, i] += scores[:, j]
            scores[:, j] = 0.0
        return scores

    def classify_many(self, texts: list[str]) -> list[tuple[str, float]]:
        """(code, probability) per text, as py3langid's `classify` with norm_probs answers."""
        out: list[tuple[str, float]] = []
        for start in range(0, len(texts), _CHUNK):  # bounded temporaries (~4 MB a chunk)
            raws = [self.encode(t) for t in texts[start : start + _CHUNK]]
            owner, feats = self._features(raws)
            scores = self._probabilities(owner, feats, [len(r) for r in raws])
            best = scores.argmax(axis=1)
            conf = scores[self._np.arange(len(raws)), best]
            out += [(self.classes[b], c) for b, c in zip(best.tolist(), conf.tolist())]
        return out

    def classify(self, text: str) -> tuple[str, float]:
        return self.classify_many([text])[0]


def letter_count(text: str) -> int:
    """Letters in `text`, ideographs/kana/Hangul weighted as roughly one word each."""
    letters = _NON_LETTERS.sub("", text)
    dense = len(letters) - len(_DENSE.sub("", letters))
    return len(letters) + (_DENSE_WEIGHT - 1) * dense


def enough_letters(text: str, minimum: int) -> bool:
    """letter_count(text) >= minimum, usually from the first few dozen characters only."""
    if minimum <= 0:
        return True
    if len(text) > 3 * minimum and letter_count(text[: 3 * minimum]) >= minimum:
        return True  # counts only grow with more text
    return letter_count(text) >= minimum


def _head(text: str) -> str:
    """The first MAX_BYTES bytes of `text` (UTF-8), cut on a character boundary."""
    head = text[:MAX_BYTES]
    raw = head.encode("utf-8", "ignore")
    if len(raw) <= MAX_BYTES:
        return head
    return raw[:MAX_BYTES].decode("utf-8", "ignore")


class LanguageChecker:
    """Language identity checks against taxonomy language names (e.g. "German", "Scottish Gaelic")."""

    def __init__(self, languages: Iterable[str] | None = None) -> None:
        names = tuple(ALL_LANGUAGES if languages is None else languages)
        unknown = [n for n in names if n not in ALL_LANGUAGES]
        if unknown:
            raise ValueError(f"unknown language name(s): {', '.join(unknown)}")
        self._checked = frozenset(n for n in names if n in _CODES)
        self._code_to_name = {c: n for n, codes in _CODES.items() for c in codes}
        self._friends = {n: s for s in CONFUSABLE for n in s}

    def supports(self, lang: str) -> bool:
        """True when `check(text, lang)` can answer something other than "unchecked"."""
        return lang in self._checked

    def _classify(self, text: str, min_letters: int = MIN_LETTERS) -> tuple[str | None, float] | None:
        """(taxonomy name or None for non-language, confidence); None if the text is too short."""
        return self._classify_many([text], min_letters)[0]

    def _classify_many(self, texts: list[str], min_letters: int = MIN_LETTERS) -> list:
        heads = [_head(t) for t in texts]
        judged = [i for i, h in enumerate(heads) if enough_letters(h, min_letters)]
        out: list = [None] * len(texts)
        if judged:
            answers = _load_model().classify_many([heads[i] for i in judged])
            for i, (code, conf) in zip(judged, answers):
                out[i] = (self._code_to_name.get(code), conf)
        return out

    def detect(self, text: str) -> str | None:
        """The taxonomy name of the text's language, or None if too short or unsure.

        Detection ranges over every language the model knows, not just the checked ones, so a
        reply in an unexpected language is reported as what it is.
        """
        return self._detected(self._classify(text))

    @staticmethod
    def _detected(got) -> str | None:
        if got is None or got[0] is None or got[1] < MIN_CONFIDENCE:
            return None
        return got[0]

    def check(self, text: str, expected: str) -> Verdict:
        """"ok", "mismatch" (confidently another language), or "unchecked" (cannot judge)."""
        return self.check_many([(text, expected)])[0][0]

    def check_many(self, pairs: list[tuple[str, str]]) -> list[tuple[Verdict, str | None]]:
        """(verdict, detected language or None) for many (text, expected) pairs in one batch."""
        todo = [i for i, (_, expected) in enumerate(pairs) if expected in self._checked]
        got = self._classify_many([pairs[i][0] for i in todo])
        out: list[tuple[Verdict, str | None]] = [("unchecked", None)] * len(pairs)
        for i, g in zip(todo, got):
            out[i] = (self._verdict(g, pairs[i][1]), self._detected(g))
        return out

    def _verdict(self, got, expected: str) -> Verdict:
        if got is None:
            return "unchecked"
        name, conf = got
        if name is not None and (name == expected or name in self._friends.get(expected, ())):
            return "ok"
        if name is None or conf < MIN_CONFIDENCE:
            return "unchecked"
        return "mismatch"
