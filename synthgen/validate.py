"""Checks on generated examples; each failure is a reason code, never a bare False.

Reason codes (stable: they appear in rejects files, run.json and `synthgen stats`):
  bad_json        output held no JSON object (after retries)
  truncated       the answer was cut by the token limit (finish_reason=length, after retries)
  missing_key     a key the group requires is absent
  extra_key       the object has keys the group does not define
  wrong_type      a value is not a string
  empty_field     a value is empty, or only whitespace, zero-width and control characters
  duplicate       repeats an earlier example (its query with its positive) or an earlier long
                  text (normalised; `validation.dedup_min_words`), or an earlier task
  request_failed  the request kept failing after every retry (network, 5xx, timeouts)
Guideline checks, each "reject", "flag" or "off" by `[validation.rules]`:
  too_short       a text has fewer words than the prompt asked for (times min_words_ratio)
  query_length    user_query outside the sampled query_length (+- query_length_tolerance)
  copied_query    the query (or input) appears verbatim inside a document
  same_positive_negative  positive and hard negative documents are the same text
  hard_negative_closer    the hard negative shares more words with the query than the positive
  same_labels     label and misleading_label are the same
  label_in_input  label or misleading_label appears in input_text
  identical_sentences     two of S1/S2/S3 are the same text
  sts_order       STS: S3 (low score) overlaps S1 more than S2 (high score) does
  wrong_language  a text is not in the sampled language (see synthgen.quality.langid)
  near_duplicate  MinHash-estimated near copy of an earlier long query or document
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .quality.textnorm import normalize
from .taxonomy import GROUPS

# guideline checks a user may turn into flags or switch off; shape checks always reject
RULE_DEFAULTS: dict[str, str] = {
    "too_short": "reject", "copied_query": "reject", "same_positive_negative": "reject",
    "same_labels": "reject", "identical_sentences": "reject", "label_in_input": "reject",
    "query_length": "flag", "hard_negative_closer": "flag", "sts_order": "flag",
    "wrong_language": "reject", "near_duplicate": "reject",
}


@dataclass(frozen=True)
class Rules:
    """What the checks read of `[validation]` (config.ValidationConfig.rules_for_checks), as a
    plain object: the check worker is sent it and then needs no pydantic (16 MB of its RSS)."""

    min_words_ratio: float
    min_field_words: int
    query_length_tolerance: int
    near_duplicate_threshold: float
    rules: dict[str, str]
    dedup_min_words: int
    dedup_scope: str

    def policy(self, rule: str) -> str:
        return self.rules.get(rule, RULE_DEFAULTS[rule])


@dataclass(frozen=True)
class Finding:
    reason: str
    detail: str
    field: str | None = None


_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SCRIPT_NO_SPACES = r"\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer
_TOKEN = re.compile(rf"[{_CJK}]|[{_SCRIPT_NO_SPACES}]+|[^\s{_CJK}{_SCRIPT_NO_SPACES}]+")
_SPECIAL = re.compile(f"[{_CJK}{_SCRIPT_NO_SPACES}]")
_NO_SPACES_START = re.compile(f"[{_SCRIPT_NO_SPACES}]")


def count_words(text: str) -> int:
    """Whitespace words; a CJK character counts as a word, an unspaced Thai-like run per 4 chars
    (the common case is one str.split, which agrees with the token regex there, ~50x faster)."""
    if text.isascii() or not _SPECIAL.search(text):
        return len(text.split())
    n = 0
    for tok in _TOKEN.findall(text):
        if _NO_SPACES_START.match(tok):
            n += max(1, len(tok) // 4)
        else:
            n += 1
    return n


_CJK_CHAR = re.compile(f"[{_CJK}]")


def count_words_low(text: str) -> int:
    """count_words with Chinese and Japanese characters two to a word (their words average about
    two): where a word per character overshoots against a most (query_length) or a "long text"
    threshold (dedup_min_words). too_short keeps count_words, the lenient side there."""
    n = count_words(text)
    return n if text.isascii() else n - len(_CJK_CHAR.findall(text)) // 2


_AT_LEAST = re.compile(r"at least (\d+)")


def required_words(group: str, key: str, placeholders: dict[str, str]) -> int | None:
    """Words the prompt asked for in this field, or None where it asked for no length."""
    rule = GROUPS[group].lengths.get(key)
    if rule is None or isinstance(rule, int):
        return rule
    value = placeholders.get(rule, "")
    if value.isdigit():
        return int(value)
    m = _AT_LEAST.match(value)  # "at least 50"; "less than 10" asks for no minimum
    return int(m.group(1)) if m else None


def check_shape(group: str, obj: dict) -> Finding | None:
    keys = GROUPS[group].output_keys
    for key in keys:
        if key not in obj:
            return Finding("missing_key", f"no '{key}' in output", key)
    extra = sorted(set(obj) - set(keys))
    if extra:
        return Finding("extra_key", f"unexpected key(s) {extra}", extra[0])
    for key in keys:
        if not isinstance(obj[key], str):
            return Finding("wrong_type", f"'{key}' is {type(obj[key]).__name__}, not a string", key)
        if not any(c.isprintable() and c != " " for c in obj[key]):  # whitespace, zero-width, controls
            return Finding("empty_field", f"'{key}' is empty", key)
    return None


# a letter or digit of a script written with spaces; space-less scripts count per character
_SPACED = rf"[^\W{_CJK}{_SCRIPT_NO_SPACES}]"
_LEXEME = re.compile(rf"[{_CJK}{_SCRIPT_NO_SPACES}]|{_SPACED}+")
# ASCII punctuation and symbols -> space: for ASCII text, split() then gives what _LEXEME finds
_ASCII_NON_WORD = str.maketrans({c: " " for c in map(chr, range(128)) if not (c.isalnum() or c == "_")})


def _word_set(normalized: str) -> set[str]:
    """The words of an already normalised text (str.translate + split for ASCII: ~5x a regex)."""
    if normalized.isascii():
        return set(normalized.translate(_ASCII_NON_WORD).split())
    return set(_LEXEME.findall(normalized))


def _jaccard(wa: set[str], wb: set[str]) -> float:
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


_QUERY_LENGTH = {"less than 5 words": (0, 4), "5 to 15 words": (5, 15), "at least 10 words": (10, None)}


def _counted(text: str, normalized: str | None) -> int:
    """count_words(text); for an ASCII text, read off normalize(text) when the caller has it (the
    same whitespace-separated words, now single-spaced: no second split of the text)."""
    if normalized is not None and text.isascii():
        return normalized.count(" ") + 1 if normalized else 0
    return count_words(text)


def check_lengths(group: str, obj: dict, placeholders: dict[str, str], cfg: Rules,
                  normalized: dict[str, str] | None = None) -> list[Finding]:
    out = []
    n = normalized or {}
    for key in GROUPS[group].output_keys:
        need = required_words(group, key, placeholders)
        floor = need * cfg.min_words_ratio if need else cfg.min_field_words
        have = _counted(obj[key], n.get(key))
        if have < floor:
            asked = f" (asked for {need})" if need else ""
            out.append(Finding("too_short", f"'{key}' has {have} words, needs {floor:g}{asked}", key))
            break
    if group == "short-long" and placeholders.get("query_length") in _QUERY_LENGTH:
        lo, hi = _QUERY_LENGTH[placeholders["query_length"]]
        n_words, tol = _counted(obj["user_query"], n.get("user_query")), cfg.query_length_tolerance
        if hi is not None and n_words > hi + tol:
            n_words = count_words_low(obj["user_query"])
        if n_words < lo - tol or (hi is not None and n_words > hi + tol):
            out.append(Finding("query_length", f"user_query has {n_words} words, asked for "
                                               f"{placeholders['query_length']}", "user_query"))
    return out


_SPACED_RE = re.compile(_SPACED)


def _contains_phrase(haystack: str, needle: str) -> bool:
    """Whole words only ("art" is not in "party"); no boundary in space-less scripts (体育 is in
    关于体育的文章), where a word has no spaces around it."""
    if not needle:
        return False
    # str.find plus boundary checks: a regex per (needle) would be compiled for every example
    check_left = _SPACED_RE.match(needle[0]) is not None
    check_right = _SPACED_RE.match(needle[-1]) is not None
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        ok_left = not check_left or start == 0 or not _SPACED_RE.match(haystack[start - 1])
        ok_right = not check_right or end == len(haystack) or not _SPACED_RE.match(haystack[end])
        if ok_left and ok_right:
            return True
        start = haystack.find(needle, start + 1)
    return False


def check_content(group: str, obj: dict, normalized: dict[str, str] | None = None) -> list[Finding]:
    """`normalized`: normalize() of the fields, when the caller has it already."""
    n = normalized if normalized is not None else {k: normalize(v) for k, v in obj.items()}
    out = []
    if group == "short-long":
        for doc in ("positive_document", "hard_negative_document"):
            if _contains_phrase(n[doc], n["user_query"]):
                out.append(Finding("copied_query", f"user_query appears verbatim in {doc}", doc))
                break
        if n["positive_document"] == n["hard_negative_document"]:
            out.append(Finding("same_positive_negative", "positive and hard negative are identical",
                               "hard_negative_document"))
        elif _jaccard(w := _word_set(n["user_query"]), _word_set(n["hard_negative_document"])) > \
                _jaccard(w, _word_set(n["positive_document"])):
            out.append(Finding("hard_negative_closer", "hard negative shares more words with the query than the "
                                                       "positive does", "hard_negative_document"))
    elif group == "long-short":
        if n["label"] == n["misleading_label"]:
            out.append(Finding("same_labels", "label equals misleading_label", "misleading_label"))
        for key in ("label", "misleading_label"):
            if _contains_phrase(n["input_text"], n[key]):
                out.append(Finding("label_in_input", f"{key} appears in input_text", key))
                break
    elif group in ("short-short", "long-long"):
        if _contains_phrase(n["positive_document"], n["input"]):
            out.append(Finding("copied_query", "positive_document repeats the input", "positive_document"))
    elif group in ("sts", "bitext"):
        for a, b in (("S1", "S2"), ("S1", "S3"), ("S2", "S3")):
            if n[a] == n[b]:
                out.append(Finding("identical_sentences", f"{a} and {b} are identical", b))
                break
        if group == "sts" and _jaccard(w := _word_set(n["S1"]), _word_set(n["S3"])) > _jaccard(w, _word_set(n["S2"])):
            out.append(Finding("sts_order", "S3 (low score) is closer to S1 than S2 (high score) is", "S3"))
    return out


def apply_policy(findings: list[Finding], cfg: Rules) -> tuple[Finding | None, list[str]]:
    """The first finding whose rule rejects, and the codes of those that only flag."""
    reject, flags = None, []
    for f in findings:
        policy = cfg.policy(f.reason)
        if policy == "reject" and reject is None:
            reject = f
        elif policy == "flag" and f.reason not in flags:
            flags.append(f.reason)
    return reject, flags


def validate_example(group: str, obj: dict, placeholders: dict[str, str], cfg: Rules,
                     normalized: dict[str, str] | None = None) -> tuple[Finding | None, list[str]]:
    """(the finding that rejects the example or None, the guideline codes it is flagged with);
    `normalized`: normalize() of the object's string fields, when the caller has it already."""
    shape = check_shape(group, obj)
    if shape:
        return shape, []
    return apply_policy(check_lengths(group, obj, placeholders, cfg, normalized)
                        + check_content(group, obj, normalized), cfg)

