"""JSON text of an answer, and that text as a JSON string literal, built side by side.

The answer's JSON ends up inside the response's JSON as the message content, so it is escaped
twice. Escaping long documents character by character was the largest CPU cost per request;
generated text holds no quotes, backslashes or newlines (vocab.py checks its words), so its
escaped form is built from the same pieces at the cost of a join.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the C function when available
from typing import Any

_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def json_string(text: str) -> str:
    """text as a JSON string literal, for text with no control characters except newlines."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _plain(value: str) -> bool:
    return '"' not in value and "\\" not in value and "\n" not in value


def _piece(value: Any) -> tuple[str, str]:
    """(JSON of value, the same escaped for use inside a JSON string)."""
    if type(value) is str and _plain(value):
        return f'"{value}"', f'\\"{value}\\"'
    text = encode_basestring(value) if type(value) is str else _ENCODE(value)
    return text, json_string(text)[1:-1]


def render(body: Any) -> tuple[str, str]:
    """(two-space indented JSON as models print it, that JSON as a JSON string literal)."""
    if isinstance(body, dict) and body:
        texts, escaped = [], []
        for key, value in body.items():
            kt, ke = _piece(str(key))
            vt, ve = _piece(value)
            texts.append(f"  {kt}: {vt}")
            escaped.append(f"  {ke}: {ve}")
        return "{\n" + ",\n".join(texts) + "\n}", '"{\\n' + ",\\n".join(escaped) + '\\n}"'
    if isinstance(body, list) and body:
        pieces = [_piece(v) for v in body]
        return ("[\n" + ",\n".join("  " + t for t, _ in pieces) + "\n]",
                '"[\\n' + ",\\n".join("  " + e for _, e in pieces) + '\\n]"')
    text = _ENCODE(body)
    return text, json_string(text)
