"""A tolerant parser for LLM output: bare JSON, fenced blocks, chatter around JSON, Python lists.

Models that ignore "output a JSON object only" often still return usable JSON in prose or a fence;
dropping it would waste paid responses. What cannot be recovered the caller reports as `bad_json`."""

from __future__ import annotations

import ast
import json
import re

import orjson

from .redact import drop_secrets

_FENCE = re.compile(r"```(?:json|python|JSON)?\s*\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()
# Where a JSON value or a Python list of strings can start. Trying only these keeps a degenerate
# answer ("{{{{..." from a looping small model) fast: every failed json decode costs O(offset).
_STARTS = {"{": re.compile(r'\{\s*["}]'), "[": re.compile(r'\[\s*["\[{\]\d\-tfn]')}
_PY_LIST_START = re.compile(r"""\[\s*['"\]]""")
# Chatter holds a few stray brackets, not hundreds; past these, the text is not an answer.
_MAX_FAILED_DECODES = 64
_MAX_LITERAL_TRIES = 8
# a reasoning model's thoughts ahead of its answer (DeepSeek-R1, QwQ, Qwen3 without a reasoning
# parser; the opening tag may be in the prompt): its drafts are no answer, however large
_THINK = re.compile(r"\s*(?:<think>)?.*?</think>", re.DOTALL)


class ParseError(ValueError):
    pass


def _json_values(text: str, opener: str) -> tuple[list[tuple[int, object]], int]:
    """Complete top-level JSON values starting at `opener` as (span, value), and where a value
    that runs off the end of the text starts (len(text) if none does). Openers inside a decoded
    value are skipped, so an inner object never competes with the one holding it."""
    found: list[tuple[int, object]] = []
    starts = _STARTS[opener]
    m, failures = starts.search(text), 0
    while m and failures < _MAX_FAILED_DECODES:
        start = m.start()
        try:
            value, end = _DECODER.raw_decode(text, start)
        except RecursionError:
            return found, start  # nested deeper than any answer we could use
        except ValueError as err:  # not JSON here, or an integer past 4300 digits (a looping model)
            if isinstance(err, json.JSONDecodeError) and (err.msg.startswith("Unterminated string")
                                                          or err.pos >= len(text)):
                return found, start  # truncated: the answer was cut here
            failures += 1
            m = starts.search(text, start + 1)  # a brace in the chatter
            continue
        found.append((end - start, value))
        m = starts.search(text, end)
    return found, len(text)


def _python_lists(text: str) -> list[tuple[int, object]]:
    """The paper's brainstorm prompts asked for a *python* list, and models still answer that
    way: accept single-quoted literals too."""
    ends = [text.rfind("]")]  # the last three "]": chatter after the list may hold some
    while len(ends) < 3 and ends[-1] > 0:
        ends.append(text.rfind("]", 0, ends[-1]))
    found: list[tuple[int, object]] = []
    tries = 0
    for m in _PY_LIST_START.finditer(text):
        for end in ends:
            if end <= m.start():
                break
            if tries >= _MAX_LITERAL_TRIES:
                return found
            tries += 1
            try:
                value = ast.literal_eval(text[m.start() : end + 1])
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(value, list):
                found.append((end + 1 - m.start(), value))
                break
    return found


def parse_json_value(text: str, want: type) -> object:
    """The JSON value of type `want` (dict or list) that makes up the answer in `text`: the largest
    complete one ("Here are [20] tasks: [...]" yields the tasks), unless a larger one was cut off."""
    value = _largest_value(text, want)
    try:  # json and ast decode a broken "\ud83d" escape (half an emoji) into text no file can hold
        dumped = orjson.dumps(value, default=repr).decode()
    except orjson.JSONEncodeError:
        raise ParseError("a string in the output holds half of a \\u surrogate pair (a broken escape)") from None
    clean = drop_secrets(dumped)  # the key echoed in \u escapes, which the scrub of the raw answer missed
    return value if clean == dumped else orjson.loads(clean)


def _largest_value(text: str, want: type) -> object:
    text = text.strip()
    if "</think>" in text and not text.startswith(("{", "[")):  # a JSON answer may speak of "</think>"
        try:
            return _largest_value(_THINK.sub("", text, count=1), want)
        except ParseError:
            pass  # the "</think>" was inside the answer, which lies across it
    opener = "{" if want is dict else "["
    for cand in (text, *(m.group(1).strip() for m in _FENCE.finditer(text))):
        for loads in (orjson.loads, json.loads):  # orjson: the common answer; json takes what it refuses
            try:
                value = loads(cand)
            except (ValueError, RecursionError):
                continue
            if isinstance(value, want):
                return value
            break
        found, cut = _json_values(cand, opener)
        if want is list:
            found += _python_lists(cand[:cut])
        if found:
            span, value = max(found, key=lambda f: f[0])
            if span > len(cand) - cut:
                return value
    raise ParseError(f"no JSON {'object' if want is dict else 'list'} in output")


def parse_object(text: str) -> dict:
    return parse_json_value(text, dict)  # type: ignore[return-value]


def parse_task_list(text: str) -> list:
    """Brainstorm output: the {"tasks": [...]} object the prompts ask for, else the largest list
    (models that ignore the format write the paper's python list, or use another key)."""
    try:
        tasks = parse_object(text).get("tasks")
    except ParseError:
        tasks = None
    if isinstance(tasks, list):
        return tasks
    try:
        return parse_json_value(text, list)  # type: ignore[return-value]
    except ParseError:
        raise ParseError("no list of tasks in output") from None
