"""Validation: each reason code fires on a crafted example and stays quiet on a clean one."""

from __future__ import annotations

import pytest

from synthgen.config import ValidationConfig
from synthgen.validate import check_content, count_words, required_words, validate_example

DEFAULT = ValidationConfig()

POSITIVE = (
    "Honey bee colonies survive the winter by forming a tight cluster inside the hive. Worker bees shiver "
    "their flight muscles to make heat, and they rotate between the cold outer layer and the warm centre. "
    "The colony eats stored honey for energy, which is why beekeepers leave enough honey in autumn."
)
NEGATIVE = (
    "Bumblebee queens spend the cold months alone, buried a few centimetres under loose soil or leaf "
    "litter. Their workers and males die in autumn, so no colony exists until spring, when each queen "
    "wakes, finds a nest site and lays her first eggs on a small ball of pollen."
)

CLEAN = {
    "short-long": ({"user_query": "how do honey bees survive winter",
                    "positive_document": POSITIVE, "hard_negative_document": NEGATIVE},
                   {"query_type": "common", "query_length": "5 to 15 words", "clarity": "clear", "num_words": "50",
                    "difficulty": "college", "language": "English"}),
    "long-short": ({"input_text": "The home side scored twice in the last ten minutes and won the cup final in "
                                  "front of a sold-out stadium.",
                    "label": "sports", "misleading_label": "politics"},
                   {"num_words": "at least 10", "clarity": "clear", "difficulty": "high school", "language": "English"}),
    "short-short": ({"input": "best pizza in naples",
                     "positive_document": "A guide to the most celebrated pizzerias of the Italian south"},
                    {"language": "English"}),
    "long-long": ({"input": " ".join(f"alpha{i}" for i in range(320)),
                   "positive_document": " ".join(f"beta{i}" for i in range(320))},
                  {"language": "English"}),
    "sts": ({"S1": "The cat sat on the warm mat.", "S2": "A cat was sitting on the warm mat.",
             "S3": "The dog slept in the cold garden."},
            {"unit": "sentence", "high_score": "4.5", "low_score": "2.5", "difficulty": "college",
             "language": "English"}),
    "bitext": ({"S1": "Le chat dort sur le tapis.", "S2": "The cat sleeps on the rug.",
                "S3": "The dog sleeps on the sofa."},
               {"unit": "sentence", "high_score": "5", "low_score": "2", "difficulty": "college",
                "src_lang": "French", "tgt_lang": "English"}),
}


def run(group: str, cfg: ValidationConfig = DEFAULT, placeholders: dict | None = None, **changes):
    obj, ph = CLEAN[group]
    obj = {**obj, **changes}
    obj = {k: v for k, v in obj.items() if v is not None}
    return validate_example(group, obj, {**ph, **(placeholders or {})}, cfg.rules_for_checks())


def reason(group: str, **kw) -> str | None:
    finding, _ = run(group, **kw)
    return finding.reason if finding else None


@pytest.mark.parametrize("group", list(CLEAN))
def test_clean_examples_pass_without_flags(group):
    assert run(group) == (None, [])


@pytest.mark.parametrize("group", list(CLEAN))
def test_shape_checks(group):
    obj, _ = CLEAN[group]
    first = next(iter(obj))
    assert reason(group, **{first: None}) == "missing_key"
    assert reason(group, explanation="because") == "extra_key"
    assert reason(group, **{first: ["a", "list"]}) == "wrong_type"
    assert reason(group, **{first: 12}) == "wrong_type"
    assert reason(group, **{first: "  \n "}) == "empty_field"


def test_missing_key_names_the_key():
    finding, flags = run("long-short", label=None)
    assert (finding.reason, finding.field, flags) == ("missing_key", "label", [])


def test_too_short_follows_num_words_and_min_words_ratio():
    doc = " ".join(f"word{i}" for i in range(40))  # 40 words, the prompt asked for 100
    ph = {"num_words": "100"}
    finding, _ = run("short-long", placeholders=ph, positive_document=doc)
    assert finding.reason == "too_short" and finding.field == "positive_document"
    assert "asked for 100" in finding.detail
    lenient = ValidationConfig(min_words_ratio=0.4)
    assert reason("short-long", cfg=lenient, placeholders=ph, positive_document=doc) is None
    # long-long fixes 300 words on both sides
    assert reason("long-long", input=" ".join(f"gamma{i}" for i in range(149))) == "too_short"
    assert reason("long-long", input=" ".join(f"gamma{i}" for i in range(150))) is None
    # classification: "at least 50" asks for 50 words in input_text, "less than 10" for none
    assert reason("long-short", placeholders={"num_words": "at least 50"}) == "too_short"
    assert reason("long-short", placeholders={"num_words": "less than 10"}) is None


def test_min_field_words_applies_where_no_length_was_asked():
    cfg = ValidationConfig(min_field_words=3)
    assert reason("long-short", cfg=cfg, label="ball games") == "too_short"
    assert reason("long-short", label="ball games") is None


def test_required_words():
    assert required_words("short-long", "positive_document", {"num_words": "200"}) == 200
    assert required_words("short-long", "user_query", {"num_words": "200"}) is None
    assert required_words("long-short", "input_text", {"num_words": "at least 100"}) == 100
    assert required_words("long-short", "input_text", {"num_words": "less than 10"}) is None
    assert required_words("long-long", "input", {}) == 300
    assert required_words("sts", "S1", {}) is None


def test_query_length_with_tolerance_is_a_flag():
    short = {"query_length": "less than 5 words"}
    seven = "how do honey bees survive cold winters"
    assert run("short-long", placeholders=short, user_query=seven) == (None, ["query_length"])
    six = "how do honey bees survive winter"
    assert run("short-long", placeholders=short, user_query=six) == (None, [])  # 4 + tolerance 2
    assert run("short-long", cfg=ValidationConfig(query_length_tolerance=0), placeholders=short,
               user_query=six) == (None, ["query_length"])
    assert run("short-long", cfg=ValidationConfig(query_length_tolerance=3), placeholders=short,
               user_query=seven) == (None, [])
    at_least = {"query_length": "at least 10 words"}
    assert run("short-long", placeholders=at_least, user_query="honey bees winter") == (None, ["query_length"])


def test_query_length_counts_chinese_and_japanese_words_not_characters():
    # a word per character flagged nearly every CJK query as too long
    short, middle = {"query_length": "less than 5 words"}, {"query_length": "5 to 15 words"}
    assert run("short-long", placeholders=short, user_query="東京 おすすめ ラーメン 店") == (None, [])
    assert run("short-long", placeholders=short, user_query="如何在家种植番茄") == (None, [])
    assert run("short-long", placeholders=middle, user_query="在北京租一套两居室的公寓每个月大概需要多少钱") == (None, [])
    assert run("short-long", placeholders=short, user_query="在北京租一套两居室的公寓每个月大概需要多少钱") == \
        (None, ["query_length"])
    assert run("short-long", placeholders={"query_length": "at least 10 words"},
               user_query="北京租房价格") == (None, ["query_length"])


def test_copied_query():
    copied = POSITIVE + " How do honey bees survive winter?"
    finding, _ = run("short-long", positive_document=copied)
    assert (finding.reason, finding.field) == ("copied_query", "positive_document")
    assert reason("short-long", hard_negative_document=NEGATIVE + " HOW DO HONEY BEES SURVIVE WINTER") == "copied_query"
    assert reason("short-short", positive_document="Where to find the best pizza in Naples today") == "copied_query"
    assert reason("short-short", positive_document="Best pizza in Naples") == "copied_query"


def test_copied_query_matches_whole_words_only():
    # "tax" inside "syntax", "cat" inside "category": the query was not copied
    assert reason("short-long", user_query="tax", positive_document="Syntax " + POSITIVE) is None
    assert reason("short-short", input="cat", positive_document="The category list of the shop") is None
    assert reason("short-short", input="cat", positive_document="The cat list of the shop") == "copied_query"


def test_copied_query_in_a_script_without_spaces():
    obj = {"input": "北京烤鸭", "positive_document": "这家餐厅的北京烤鸭非常有名，每天都有很多游客。"}
    assert [f.reason for f in check_content("short-short", obj)] == ["copied_query"]


def test_same_positive_negative():
    assert reason("short-long", hard_negative_document=POSITIVE.upper()) == "same_positive_negative"


def test_hard_negative_closer_is_a_flag():
    closer = "Honey bees survive winter? How do they do it? " + NEGATIVE
    assert run("short-long", hard_negative_document=closer) == (None, ["hard_negative_closer"])


def test_same_labels():
    assert reason("long-short", misleading_label="Sports ") == "same_labels"


def test_label_in_input_matches_whole_words_only():
    text = "The party went on all night and nobody talked about paintings."
    assert reason("long-short", input_text=text, label="art", misleading_label="music") is None
    text = "A review of the modern art museum that opened downtown last month."
    finding, _ = run("long-short", input_text=text, label="Art", misleading_label="music")
    assert (finding.reason, finding.field) == ("label_in_input", "label")
    finding, _ = run("long-short", input_text=text, label="travel", misleading_label="art museum")
    assert (finding.reason, finding.field) == ("label_in_input", "misleading_label")


def test_label_in_input_in_a_script_without_spaces():
    obj = {"input_text": "这是一篇关于体育的文章，讲述了一场足球比赛的结果。", "label": "体育", "misleading_label": "经济"}
    assert [f.reason for f in check_content("long-short", obj)] == ["label_in_input"]


@pytest.mark.parametrize("group", ["sts", "bitext"])
def test_identical_sentences(group):
    obj, _ = CLEAN[group]
    assert reason(group, S2=obj["S1"]) == "identical_sentences"
    assert reason(group, S3=obj["S2"].lower()) == "identical_sentences"


def test_sts_order_is_a_flag():
    assert run("sts", S2="The dog slept in the cold garden.", S3="A cat was sitting on the warm mat.") == (
        None, ["sts_order"])
    # bitext pairs different languages: word overlap says nothing there
    obj, _ = CLEAN["bitext"]
    assert run("bitext", S2=obj["S3"], S3=obj["S2"]) == (None, [])


def test_sts_order_in_a_script_without_spaces():
    obj = {"S1": "我喜欢在公园里散步。", "S2": "他讨厌下雨天。", "S3": "我喜欢在公园里跑步。"}
    assert [f.reason for f in check_content("sts", obj)] == ["sts_order"]
    obj["S2"], obj["S3"] = obj["S3"], obj["S2"]
    assert check_content("sts", obj) == []


def test_rules_move_codes_between_reject_flag_and_off():
    copied = POSITIVE + " how do honey bees survive winter"
    assert reason("short-long", positive_document=copied) == "copied_query"
    flag = ValidationConfig(rules={"copied_query": "flag"})
    assert run("short-long", cfg=flag, positive_document=copied) == (None, ["copied_query"])
    off = ValidationConfig(rules={"copied_query": "off"})
    assert run("short-long", cfg=off, positive_document=copied) == (None, [])
    # a default flag can become a reject, and be switched off
    short = {"query_length": "less than 5 words"}
    seven = "how do honey bees survive cold winters"
    finding, flags = run("short-long", cfg=ValidationConfig(rules={"query_length": "reject"}), placeholders=short,
                         user_query=seven)
    assert finding.reason == "query_length" and flags == []
    assert run("short-long", cfg=ValidationConfig(rules={"query_length": "off"}), placeholders=short,
               user_query=seven) == (None, [])


def test_flags_are_collected_alongside_a_reject():
    short = {"query_length": "less than 5 words"}
    finding, flags = run("short-long", placeholders=short, user_query="how do honey bees survive cold winters",
                         hard_negative_document=POSITIVE)
    assert finding.reason == "same_positive_negative"
    assert flags == ["query_length"]


def test_shape_failures_skip_the_guideline_checks():
    assert run("short-long", cfg=ValidationConfig(rules={"too_short": "flag"}), user_query=None)[1] == []


def test_count_words_english():
    assert count_words("Hello, big world!") == 3
    assert count_words("  spaced\tout\n\nwords  ") == 3
    assert count_words("") == 0


def test_count_words_chinese_counts_each_han_character():
    assert count_words("我喜欢猫") == 4
    assert count_words("我喜欢在公园里散步") == 9
    assert count_words("I like 猫和狗") == 5
    assert count_words("日本語のテキスト") == 8  # kana count per character too


def test_count_words_thai():
    # Thai has no spaces between words: a run counts one word per 4 characters
    assert count_words("ภาษาไทยเป็นภาษาที่สวยงาม") == 6  # ภาษา ไทย เป็น ภาษา ที่ สวยงาม
    assert count_words("สวัสดี ครับ") == 2
    assert count_words("ที่") == 1  # a short run is still a word
