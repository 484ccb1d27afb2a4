"""The answer's text as a JSON string literal: the message content inside the response's JSON."""

from __future__ import annotations


def json_string(text: str) -> str:
    """text as a JSON string literal, for text with no control characters except newlines.

    Answers are json.dumps output (which escapes control characters) or that with chatter
    around it, so three replaces do what a full encoder would, at C speed.
    """
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
