"""The tolerant parser: what a model's reply may look like, and what must count as bad_json."""

from __future__ import annotations

import json
import time

import pytest

from synthgen.parse import ParseError, parse_object, parse_task_list

EXAMPLE = {"user_query": "why do cats purr", "positive_document": "Cats purr when content {or stressed}.",
           "hard_negative_document": "Dogs wag their tails."}
TASKS = ["Retrieve news articles about a company", "Find recipes that use a given ingredient"]


def test_bare_json_object():
    assert parse_object('{"user_query": "why do cats purr", "positive_document": "Cats purr when content '
                        '{or stressed}.", "hard_negative_document": "Dogs wag their tails."}') == EXAMPLE


def test_fenced_json_block():
    text = 'Here you go:\n```json\n{"a": "b", "n": [1, 2]}\n```\nLet me know if you need more.'
    assert parse_object(text) == {"a": "b", "n": [1, 2]}
    assert parse_task_list('```python\n["t one", "t two"]\n```') == ["t one", "t two"]
    assert parse_task_list("```\n['t one', 't two']\n```") == ["t one", "t two"]


def test_chatter_before_and_after_the_json():
    text = 'Sure! Here is the example you asked for:\n{"S1": "a", "S2": "b", "S3": "c"}\nI hope this helps.'
    assert parse_object(text) == {"S1": "a", "S2": "b", "S3": "c"}
    assert parse_task_list(f"Tasks:\n{TASKS!r}\nThat is all.".replace("'", '"')) == TASKS


def test_braces_inside_strings_do_not_confuse_the_parser():
    obj = {"input": "use {name} and } or { freely", "positive_document": "a [list] ] of [ things"}
    import json

    assert parse_object("Answer: " + json.dumps(obj) + " (done)") == obj


def test_stray_brace_in_chatter_before_the_answer():
    assert parse_object('Format is {like this}. Result: {"label": "x"}') == {"label": "x"}


def test_python_list_with_single_quotes():
    text = "['Retrieve news articles about a company', \"Find a user's saved recipes\"]"
    assert parse_task_list(text) == ["Retrieve news articles about a company", "Find a user's saved recipes"]


def test_python_list_followed_by_chatter_with_brackets():
    text = "Here: ['task one', 'task two']\nNote [1]: tasks are broad [as asked]."
    assert parse_task_list(text) == ["task one", "task two"]


def test_a_small_list_in_the_chatter_does_not_hide_the_task_list():
    # "[20]" decodes as JSON on its own; the answer is the big list after it
    assert parse_task_list('Here are [20] tasks:\n["task one", "task two"]') == ["task one", "task two"]
    assert parse_task_list("Here are [20] tasks:\n['task one', 'task two']") == ["task one", "task two"]


def test_structured_output_object_holding_the_list():
    assert parse_task_list('{"tasks": ["task one", "task two"]}') == ["task one", "task two"]
    assert parse_task_list('{\n  "count": 2,\n  "tasks": [\n    "task one",\n    "task two"\n  ]\n}') == [
        "task one", "task two"]


def test_the_tasks_key_wins_over_other_lists_in_the_object():
    # the prompt and the schema ask for {"tasks": [...]}; a longer list beside it is not the answer
    text = '{"tasks": ["task one", "task two"], "notes": ["a", "b", "c", "d", "e", "f", "g"]}'
    assert parse_task_list(text) == ["task one", "task two"]
    assert parse_task_list('Here you go:\n```json\n{"tasks": ["task one"]}\n```') == ["task one"]


def test_the_papers_bare_list_is_still_accepted():
    assert parse_task_list('["task one", "task two"]') == ["task one", "task two"]
    assert parse_task_list('{"retrieval_tasks": ["task one", "task two"]}') == ["task one", "task two"]


def test_tasks_that_are_not_a_list_are_a_parse_error():
    with pytest.raises(ParseError):
        parse_task_list('{"tasks": "task one; task two"}')


@pytest.mark.parametrize("text", [
    "", "   ", "I cannot help with that.", "null", "42", '"just a string"', "{not json at all}",
    "{'single': 'quoted'}",
])
def test_garbage_is_a_parse_error(text):
    with pytest.raises(ParseError):
        parse_object(text)
    with pytest.raises(ParseError):
        parse_task_list(text)


def test_a_list_is_not_an_object_and_vice_versa():
    with pytest.raises(ParseError):
        parse_object('["a", "b"]')
    with pytest.raises(ParseError):
        parse_task_list('{"label": "x"}')


@pytest.mark.parametrize("text", [
    '{"user_query": "why do cats purr", "positive_document": "Cats pu',
    '{"user_query": "why do cats purr", "positive_document": ',
    '{"user_query": "why do cats purr"',
    '```json\n{"user_query": "why do cats purr", "positive',
])
def test_truncated_object_is_a_parse_error(text):
    with pytest.raises(ParseError):
        parse_object(text)


def test_truncated_object_does_not_yield_an_inner_object():
    # the cut outer object must not be replaced by the complete object nested in it
    with pytest.raises(ParseError):
        parse_object('{"meta": {"lang": "en"}, "user_query": "why do cats pu')
    with pytest.raises(ParseError):
        parse_object('Example: {"a": 1}. Output: {"user_query": "what", "positive_document": "cut here')


def test_a_complete_answer_survives_a_cut_quote_in_trailing_chatter():
    text = '{"S1": "a", "S2": "b", "S3": "c"}\nNote: keys look like {"'
    assert parse_object(text) == {"S1": "a", "S2": "b", "S3": "c"}


@pytest.mark.parametrize("text", ['["task one", "task two", "task th', "['task one', 'task two", '[["a"], ["b"'])
def test_truncated_list_is_a_parse_error(text):
    with pytest.raises(ParseError):
        parse_task_list(text)


def test_degenerate_output_is_a_parse_error_not_a_crash():
    # a looping small model: json alone raises RecursionError on deep nesting
    for text in ("[" * 5000, '{"a": ' + "[" * 5000, "{" * 20000, "[a]" * 5000):
        start = time.perf_counter()
        with pytest.raises(ParseError):
            parse_object(text)
        with pytest.raises(ParseError):
            parse_task_list(text)
        assert time.perf_counter() - start < 2.0, text[:10]


@pytest.mark.parametrize("text", [
    '{"query": "fix a chain \\ud83d", "positive": "x"}',  # the first half of an emoji, the second lost
    'Here it is: {"query": "a \\udc00 b"} done',  # found in chatter (the stdlib decoder)
    "['a \\ud800 task']",  # a python list
])
def test_a_broken_surrogate_escape_is_a_parse_error_not_text(text):
    # json and ast decode it into a str no UTF-8 file can hold: the run crashed on the first write
    with pytest.raises(ParseError):
        parse_object(text) if "{" in text else parse_task_list(text)


def test_a_whole_surrogate_pair_is_text():
    assert parse_object('{"query": "ok \\ud83d\\ude00"}') == {"query": "ok \U0001f600"}


@pytest.mark.parametrize("text", [
    '{"score": 1' + "1" * 5000 + "}",  # a small model looping on a digit
    'Sure: {"score": 4' + "4" * 5000 + "}",
    'Tasks: ["a", 1' + "2" * 5000 + "]",
])
def test_a_number_of_thousands_of_digits_is_a_parse_error_not_a_crash(text):
    # Python refuses to convert integers past 4300 digits with a ValueError the parser let through
    with pytest.raises(ParseError):
        parse_object(text) if "{" in text else parse_task_list(text)


def test_a_runaway_number_in_the_chatter_does_not_hide_the_answer():
    assert parse_object('{"score": 1' + "1" * 5000 + '} no, this: {"score": 3}') == {"score": 3}


@pytest.mark.parametrize("opening", ["<think>\n", ""])  # R1's template puts <think> in the prompt
def test_a_reasoning_models_thoughts_are_not_taken_for_its_answer(opening):
    # a draft in the thoughts larger than the answer was taken as the answer (and rejected)
    draft = {k: "a long first draft " * 20 for k in EXAMPLE}
    text = f"{opening}Let me draft it: {json.dumps(draft)} too long.\n</think>\n\n{json.dumps(EXAMPLE)}"
    assert parse_object(text) == EXAMPLE
    assert parse_task_list(f"{opening}maybe [\"x\"]? </think>\n{json.dumps({'tasks': TASKS})}") == TASKS
    about_tags = {"user_query": "what closes a think tag", "positive_document": "The </think> tag closes it."}
    assert parse_object(json.dumps(about_tags)) == about_tags
    assert parse_object(f"Here it is: {json.dumps(about_tags)}") == about_tags  # no thoughts, chatter first
