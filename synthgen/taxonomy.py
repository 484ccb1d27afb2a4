"""The method's fixed facts: task groups, output keys, placeholder value sets, languages.

Everything here comes from Wang et al. (ACL 2024), Appendix C and figure 2 (docs/method.md
lists them). Planning, prompts, validation, the language check, the report, export and the
scripted server all read from this one table so they cannot disagree about what a group produces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Placeholder value sets (docs/method.md, "Placeholder values").
QUERY_TYPES = ("extremely long-tail", "long-tail", "common")
QUERY_LENGTHS = ("less than 5 words", "5 to 15 words", "at least 10 words")
CLARITY = ("clear", "understandable with some effort", "ambiguous")
NUM_WORDS_RETRIEVAL = ("50", "100", "200", "300", "400", "500")
NUM_WORDS_CLASSIFICATION = ("less than 10", "at least 10", "at least 50", "at least 100", "at least 200")
DIFFICULTY_ASYMMETRIC = ("high school", "college", "PhD")
DIFFICULTY_SYMMETRIC = ("elementary school", "high school", "college")
UNITS = ("sentence", "phrase", "passage")
HIGH_SCORES = ("4", "4.5", "5")
LOW_SCORES_STS = ("2.5", "3", "3.5")
LOW_SCORES_BITEXT = ("1.5", "2", "2.5")


@dataclass(frozen=True)
class Group:
    """One task group: what it brainstorms, what keys its examples carry, what it samples."""

    name: str
    title: str
    brainstorm: bool
    output_keys: tuple[str, ...]
    # placeholder name -> the values it is sampled from; "language", "src_lang", "tgt_lang"
    # are sampled from the configured language distribution instead.
    placeholders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    language_slots: tuple[str, ...] = ("language",)
    # the training-time instruction for symmetric groups (no brainstormed task)
    instruction: str | None = None
    # training roles: which output key is the query side, the positive and the hard negative
    query: str = ""
    positive: str = ""
    negative: str | None = None
    # output key -> the language slot it must be written in (the prompt asks for it)
    languages: dict[str, str] = field(default_factory=dict)
    # output key -> the words the prompt asks for: a number, or the placeholder that holds it
    lengths: dict[str, int | str] = field(default_factory=dict)

    @property
    def text_fields(self) -> tuple[str, ...]:
        """Every output key holds a text (labels included)."""
        return self.output_keys

    def language_fields(self, placeholders: dict[str, str]) -> list[tuple[str, str]]:
        """(field, language) pairs: what each text was asked to be written in."""
        return [(k, placeholders[slot]) for k, slot in self.languages.items() if placeholders.get(slot)]


GROUPS: dict[str, Group] = {
    g.name: g
    for g in (
        Group(
            name="short-long",
            title="text retrieval",
            brainstorm=True,
            output_keys=("user_query", "positive_document", "hard_negative_document"),
            query="user_query", positive="positive_document", negative="hard_negative_document",
            languages={k: "language" for k in ("user_query", "positive_document", "hard_negative_document")},
            lengths={"positive_document": "num_words", "hard_negative_document": "num_words"},
            placeholders={
                "query_type": QUERY_TYPES,
                "query_length": QUERY_LENGTHS,
                "clarity": CLARITY,
                "num_words": NUM_WORDS_RETRIEVAL,
                "difficulty": DIFFICULTY_ASYMMETRIC,
            },
        ),
        Group(
            name="long-short",
            title="text classification",
            brainstorm=True,
            output_keys=("input_text", "label", "misleading_label"),
            query="input_text", positive="label", negative="misleading_label",
            languages={k: "language" for k in ("input_text", "label", "misleading_label")},
            lengths={"input_text": "num_words"},
            placeholders={
                "num_words": NUM_WORDS_CLASSIFICATION,
                "clarity": CLARITY,
                "difficulty": DIFFICULTY_ASYMMETRIC,
            },
        ),
        Group(
            name="short-short",
            title="text matching (short)",
            brainstorm=True,
            output_keys=("input", "positive_document"),
            query="input", positive="positive_document",
            languages={"input": "language", "positive_document": "language"},
        ),
        Group(
            name="long-long",
            title="text matching (long)",
            brainstorm=True,
            output_keys=("input", "positive_document"),
            query="input", positive="positive_document",
            languages={"input": "language", "positive_document": "language"},
            lengths={"input": 300, "positive_document": 300},
        ),
        Group(
            name="sts",
            title="semantic textual similarity",
            brainstorm=False,
            output_keys=("S1", "S2", "S3"),
            query="S1", positive="S2", negative="S3",
            languages={"S1": "language", "S2": "language", "S3": "language"},
            placeholders={
                "unit": UNITS,
                "high_score": HIGH_SCORES,
                "low_score": LOW_SCORES_STS,
                "difficulty": DIFFICULTY_SYMMETRIC,
            },
            instruction="Retrieve semantically similar text.",
        ),
        Group(
            name="bitext",
            title="bitext retrieval",
            brainstorm=False,
            output_keys=("S1", "S2", "S3"),
            query="S1", positive="S2", negative="S3",
            languages={"S1": "src_lang", "S2": "tgt_lang", "S3": "tgt_lang"},
            placeholders={
                "unit": UNITS,
                "high_score": HIGH_SCORES,
                "low_score": LOW_SCORES_BITEXT,
                "difficulty": DIFFICULTY_SYMMETRIC,
            },
            language_slots=("src_lang", "tgt_lang"),
            instruction="Retrieve parallel sentences.",
        ),
    )
}

GROUP_NAMES: tuple[str, ...] = tuple(GROUPS)

# Examples per group in the paper, in thousands (docs/method.md, "Scale and results").
PAPER_EXAMPLES_K = {
    "short-long": 167,
    "long-short": 122,
    "sts": 99,
    "bitext": 89,
    "long-long": 17,
    "short-short": 13,
}

# Figure 2 of the paper: named languages with their share in percent; the remaining XLM-R
# languages split the rest evenly.
_NAMED_WEIGHTS = {
    "English": 43.1,
    "Polish": 3.0,
    "Japanese": 2.9, "Italian": 2.9, "Russian": 2.9, "Indonesian": 2.9, "German": 2.9, "Persian": 2.9,
    "Spanish": 2.8, "Chinese": 2.8, "French": 2.8, "Portuguese": 2.8, "Dutch": 2.8,
    "Arabic": 2.7,
}
OTHER_LANGUAGES = (
    "Afrikaans", "Albanian", "Amharic", "Armenian", "Assamese", "Azerbaijani", "Basque",
    "Belarusian", "Bengali", "Bosnian", "Breton", "Bulgarian", "Burmese", "Catalan", "Croatian",
    "Czech", "Danish", "Esperanto", "Estonian", "Filipino", "Finnish", "Galician", "Georgian",
    "Greek", "Gujarati", "Hausa", "Hebrew", "Hindi", "Hungarian", "Icelandic", "Irish",
    "Javanese", "Kannada", "Kazakh", "Khmer", "Korean", "Kurdish", "Kyrgyz", "Lao", "Latin",
    "Latvian", "Lithuanian", "Macedonian", "Malagasy", "Malay", "Malayalam", "Marathi",
    "Mongolian", "Nepali", "Norwegian", "Oriya", "Oromo", "Pashto", "Punjabi", "Romanian",
    "Sanskrit", "Scottish Gaelic", "Serbian", "Sindhi", "Sinhala", "Slovak", "Slovenian",
    "Somali", "Sundanese", "Swahili", "Swedish", "Tamil", "Telugu", "Thai", "Turkish",
    "Ukrainian", "Urdu", "Uyghur", "Uzbek", "Vietnamese", "Welsh", "Western Frisian", "Xhosa",
    "Yiddish",
)
_OTHERS_SHARE = 19.8


def paper_language_weights() -> dict[str, float]:
    """The paper's language distribution (percent), all XLM-R languages listed."""
    weights = dict(_NAMED_WEIGHTS)
    each = _OTHERS_SHARE / len(OTHER_LANGUAGES)
    for lang in OTHER_LANGUAGES:
        weights[lang] = each
    return weights


ALL_LANGUAGES: tuple[str, ...] = tuple(paper_language_weights())
