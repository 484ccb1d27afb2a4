"""The method's fixed facts (Wang et al., ACL 2024, Appendix C and figure 2; docs/method.md): task
groups, output keys, placeholder values, languages. Every part of synthgen reads this one table, so
none can disagree about what a group produces."""

from __future__ import annotations

from dataclasses import dataclass, field

# Placeholder value sets (docs/method.md, "Placeholder values").
QUERY_LENGTHS = ("less than 5 words", "5 to 15 words", "at least 10 words")
CLARITY = ("clear", "understandable with some effort", "ambiguous")
DIFFICULTY_ASYMMETRIC = ("high school", "college", "PhD")
UNITS = ("sentence", "phrase", "passage")
HIGH_SCORES = ("4", "4.5", "5")
DIFFICULTY_SYMMETRIC = ("elementary school", "high school", "college")


@dataclass(frozen=True)
class Group:
    """One task group: what it brainstorms, what keys its examples carry, what it samples."""

    name: str
    title: str
    brainstorm: bool
    # every output key holds a text (labels included)
    output_keys: tuple[str, ...]
    # training roles: which output key is the query side, the positive and the hard negative
    query: str
    positive: str
    negative: str | None = None
    # placeholder name -> the values it is sampled from; "language", "src_lang", "tgt_lang"
    # are sampled from the configured language distribution instead.
    placeholders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    language_slots: tuple[str, ...] = ("language",)
    # the training-time instruction for symmetric groups (no brainstormed task)
    instruction: str | None = None
    # output key -> the language slot it must be written in (default: every key in "language")
    languages: dict[str, str] = field(default_factory=dict)
    # output key -> the words the prompt asks for: a number, or the placeholder that holds it
    lengths: dict[str, int | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.languages:
            object.__setattr__(self, "languages", dict.fromkeys(self.output_keys, "language"))

    def language_fields(self, placeholders: dict[str, str]) -> list[tuple[str, str]]:
        """(field, language) pairs: what each text was asked to be written in."""
        return [(k, placeholders[slot]) for k, slot in self.languages.items() if placeholders.get(slot)]


# Group(name, title, brainstorm, output_keys, query, positive, negative, ...)
GROUPS: dict[str, Group] = {g.name: g for g in (
    Group("short-long", "text retrieval", True, ("user_query", "positive_document", "hard_negative_document"),
          "user_query", "positive_document", "hard_negative_document",
          placeholders={"query_type": ("extremely long-tail", "long-tail", "common"),
                        "query_length": QUERY_LENGTHS, "clarity": CLARITY,
                        "num_words": ("50", "100", "200", "300", "400", "500"),
                        "difficulty": DIFFICULTY_ASYMMETRIC},
          lengths={"positive_document": "num_words", "hard_negative_document": "num_words"}),
    Group("long-short", "text classification", True, ("input_text", "label", "misleading_label"),
          "input_text", "label", "misleading_label",
          placeholders={"num_words": ("less than 10", "at least 10", "at least 50", "at least 100",
                                      "at least 200"),
                        "clarity": CLARITY, "difficulty": DIFFICULTY_ASYMMETRIC},
          lengths={"input_text": "num_words"}),
    Group("short-short", "text matching (short)", True, ("input", "positive_document"),
          "input", "positive_document"),
    Group("long-long", "text matching (long)", True, ("input", "positive_document"),
          "input", "positive_document",
          lengths={"input": 300, "positive_document": 300}),
    Group("sts", "semantic textual similarity", False, ("S1", "S2", "S3"), "S1", "S2", "S3",
          placeholders={"unit": UNITS, "high_score": HIGH_SCORES, "low_score": ("2.5", "3", "3.5"),
                        "difficulty": DIFFICULTY_SYMMETRIC},
          instruction="Retrieve semantically similar text."),
    Group("bitext", "bitext retrieval", False, ("S1", "S2", "S3"), "S1", "S2", "S3",
          placeholders={"unit": UNITS, "high_score": HIGH_SCORES, "low_score": ("1.5", "2", "2.5"),
                        "difficulty": DIFFICULTY_SYMMETRIC},
          language_slots=("src_lang", "tgt_lang"),
          instruction="Retrieve parallel sentences.",
          languages={"S1": "src_lang", "S2": "tgt_lang", "S3": "tgt_lang"}),
)}

GROUP_NAMES: tuple[str, ...] = tuple(GROUPS)

# Examples per group in the paper, in thousands (docs/method.md, "Taxonomy").
PAPER_EXAMPLES_K = {"short-long": 167, "long-short": 122, "sts": 99, "bitext": 89, "long-long": 17,
                    "short-short": 13}

# Figure 2 of the paper: named languages with their share in percent; the remaining XLM-R
# languages split the rest evenly.
_NAMED_WEIGHTS = {
    "English": 43.1, "Polish": 3.0,
    "Japanese": 2.9, "Italian": 2.9, "Russian": 2.9, "Indonesian": 2.9, "German": 2.9, "Persian": 2.9,
    "Spanish": 2.8, "Chinese": 2.8, "French": 2.8, "Portuguese": 2.8, "Dutch": 2.8, "Arabic": 2.7,
}
OTHER_LANGUAGES = (
    "Afrikaans", "Albanian", "Amharic", "Armenian", "Assamese", "Azerbaijani", "Basque", "Belarusian",
    "Bengali", "Bosnian", "Breton", "Bulgarian", "Burmese", "Catalan", "Croatian", "Czech", "Danish",
    "Esperanto", "Estonian", "Filipino", "Finnish", "Galician", "Georgian", "Greek", "Gujarati", "Hausa",
    "Hebrew", "Hindi", "Hungarian", "Icelandic", "Irish", "Javanese", "Kannada", "Kazakh", "Khmer",
    "Korean", "Kurdish", "Kyrgyz", "Lao", "Latin", "Latvian", "Lithuanian", "Macedonian", "Malagasy",
    "Malay", "Malayalam", "Marathi", "Mongolian", "Nepali", "Norwegian", "Oriya", "Oromo", "Pashto",
    "Punjabi", "Romanian", "Sanskrit", "Scottish Gaelic", "Serbian", "Sindhi", "Sinhala", "Slovak",
    "Slovenian", "Somali", "Sundanese", "Swahili", "Swedish", "Tamil", "Telugu", "Thai", "Turkish",
    "Ukrainian", "Urdu", "Uyghur", "Uzbek", "Vietnamese", "Welsh", "Western Frisian", "Xhosa", "Yiddish",
)
_OTHERS_SHARE = 19.8


def paper_language_weights() -> dict[str, float]:
    """The paper's language distribution (percent), all XLM-R languages listed."""
    return {**_NAMED_WEIGHTS, **dict.fromkeys(OTHER_LANGUAGES, _OTHERS_SHARE / len(OTHER_LANGUAGES))}


ALL_LANGUAGES: tuple[str, ...] = tuple(paper_language_weights())
