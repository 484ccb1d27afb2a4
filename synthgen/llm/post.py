"""One chat request through the SDK's documented `client.post`, the answer read with a size cap.

`client.post("/chat/completions", cast_to=httpx2.Response, body=..., stream=True)` returns the
SDK's raw response (httpx2.Response is what the SDK hands back for that `cast_to`) with the body
not yet read: status, headers (x-ratelimit-*, retry-after) and then the bytes, which we take in
chunks and stop taking past `max_bytes`, so memory never follows what a server sends. Error
statuses still become the SDK's exceptions (RateLimitError, AuthenticationError, ...), raised
by `client.post` itself. The body is decoded once with orjson.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
import openai
import orjson

from .retry import AnswerTooLarge, BadAnswer


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: dict[str, str]  # lower-case names
    data: dict[str, Any]


def _choice_ok(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    choices = data.get("choices")
    return isinstance(choices, list) and bool(choices) and isinstance(choices[0], dict)


async def post_chat(client: openai.AsyncOpenAI, body: dict[str, Any], timeout: float,
                    max_bytes: int) -> RawAnswer:
    """POST /chat/completions; raises the SDK's errors, BadAnswer or AnswerTooLarge."""
    response = await client.post("/chat/completions", cast_to=httpx2.Response, body=body,
                                 options={"timeout": timeout, "max_retries": 0}, stream=True)
    try:
        headers = {k.lower(): v for k, v in response.headers.items()}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise AnswerTooLarge(f"answer of {int(declared)} bytes is over llm.max_response_bytes ({max_bytes})")
        parts: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise AnswerTooLarge(f"answer over llm.max_response_bytes ({max_bytes} bytes); not read further")
            parts.append(chunk)
    finally:
        await response.aclose()
    raw = b"".join(parts)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not _choice_ok(data):
        kind = headers.get("content-type", "no content type").split(";")[0]
        what = "an empty body" if not raw.strip() else f"{len(raw)} bytes of {kind} that are not a chat completion"
        raise BadAnswer(f"HTTP {response.status_code} with {what}", headers)
    return RawAnswer(response.status_code, headers, data)
