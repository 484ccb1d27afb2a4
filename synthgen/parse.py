"""A tolerant parser for LLM output: bare JSON, fenced blocks, chatter around JSON, Python lists.

Models that ignore "output a JSON object only" still often return usable JSON inside prose or a
```json fence; dropping those would waste paid responses. What cannot be recovered is reported
as `bad_json` by the caller.
"""

from __future__ import annotations

import ast
import json
import re

_FENCE = re.compile(r"```(?:json|python|JSON)?\s*\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


class ParseError(ValueError):
    pass


def _candidates(text: str):
    yield text
    for m in _FENCE.finditer(text):
        yield m.group(1).strip()


def _raw_decode_from(text: str, opener: str):
    start = text.find(opener)
    while start != -1:
        try:
            value, _ = _DECODER.raw_decode(text, start)
            return value
        except json.JSONDecodeError:
            start = text.find(opener, start + 1)
    raise ParseError("no JSON value found")


def parse_json_value(text: str, want: type) -> object:
    """Return the first JSON value of type `want` (dict or list) found in `text`."""
    text = text.strip()
    opener = "{" if want is dict else "["
    for cand in _candidates(text):
        try:
            value = json.loads(cand)
            if isinstance(value, want):
                return value
        except json.JSONDecodeError:
            pass
        try:
            value = _raw_decode_from(cand, opener)
            if isinstance(value, want):
                return value
        except ParseError:
            pass
        if want is list:
            value = _python_list(cand)
            if value is not None:
                return value
    raise ParseError(f"no JSON {'object' if want is dict else 'list'} in output")


def _python_list(text: str) -> list | None:
    """Brainstorm prompts ask for a *python* list: accept single-quoted literals too."""
    start, end = text.find("["), text.rfind("]")
    if start == -1 or end <= start:
        return None
    try:
        value = ast.literal_eval(text[start : end + 1])
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, list) else None


def parse_object(text: str) -> dict:
    return parse_json_value(text, dict)  # type: ignore[return-value]


def parse_task_list(text: str) -> list:
    """Brainstorm output: a list, or an object holding one list (structured-output form)."""
    try:
        return parse_json_value(text, list)  # type: ignore[return-value]
    except ParseError:
        pass
    obj = parse_json_value(text, dict)
    lists = [v for v in obj.values() if isinstance(v, list)]  # type: ignore[union-attr]
    if len(lists) == 1:
        return lists[0]
    raise ParseError("no list of tasks in output")
