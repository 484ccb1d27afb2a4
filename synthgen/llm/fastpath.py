"""Chat completions through the openai SDK without its per-request typing work.

`chat.completions.create` spends most of its client CPU on `async_maybe_transform` (walking the
request against TypedDict annotations) and on building pydantic models from the response. At
high concurrency that CPU, not the network, sets the pace (see /work/notes/throughput.md). The
SDK's generic `client.post(..., cast_to=httpx2.Response)` keeps everything that matters - base URL,
auth and default headers, timeout, the transport, status-code -> exception mapping - and returns
the raw response, which we decode once with `json.loads`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx2
import openai


@dataclass(frozen=True)
class RawChatResponse:
    status: int
    headers: dict[str, str]
    data: dict[str, Any]


async def post_chat(client: openai.AsyncOpenAI, body: dict[str, Any], timeout: float) -> RawChatResponse:
    """POST /chat/completions with `body` as given. Errors are the SDK's own: RateLimitError and
    other APIStatusError subclasses (with `.response.headers`), APITimeoutError,
    APIConnectionError, and APIResponseValidationError for a 2xx body that is not a JSON object.
    The SDK's own retries are off for this call: one retry layer, the caller's."""
    response = await client.post(
        "/chat/completions",
        body=body,
        cast_to=httpx2.Response,
        options={"timeout": timeout, "max_retries": 0},
    )
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise openai.APIResponseValidationError(response, response.text, message="response body is not a JSON object")
    return RawChatResponse(response.status_code, dict(response.headers), data)
