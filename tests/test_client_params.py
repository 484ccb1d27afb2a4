"""Parameters some servers refuse: the client adapts instead of failing every item."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from synthgen.config import LLMConfig
from synthgen.llm.client import LLMClient, RequestFailed

from helpers_http import serve_app

ANSWER = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
          "choices": [{"index": 0, "finish_reason": "stop",
                       "message": {"role": "assistant", "content": json.dumps({"a": "b"})}}],
          "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


def two_chats(url: str, schema: dict | None = None):
    async def go():
        client = LLMClient(LLMConfig(model="m", max_attempts=1), [url], "key")
        try:
            first = await client.chat([{"role": "user", "content": "hi"}], seed=1, schema=schema)
            second = await client.chat([{"role": "user", "content": "again"}], seed=2, schema=schema)
        finally:
            await client.aclose()
        return first, second

    return asyncio.run(go())


def test_max_tokens_refused_switches_to_max_completion_tokens():
    seen = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(sorted(body))
        if "max_tokens" in body:
            return web.json_response({"error": {"message": "Unsupported parameter: 'max_tokens' is not supported "
                                                           "with this model. Use 'max_completion_tokens' instead.",
                                                "type": "invalid_request_error"}}, status=400)
        return web.json_response(ANSWER)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    with serve_app(app) as url:
        first, second = two_chats(url)
    assert json.loads(first.content) == {"a": "b"} and second.completion_tokens == 3
    assert "max_tokens" in seen[0] and "max_completion_tokens" in seen[1]
    assert all("max_tokens" not in s for s in seen[1:])  # remembered for the rest of the run


def test_structured_output_steps_down_schema_then_object_then_off():
    formats = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        kind = (body.get("response_format") or {}).get("type")
        formats.append(kind)
        if kind is not None:
            return web.json_response({"error": {"message": f"response_format {kind} is not supported",
                                                "type": "invalid_request_error"}}, status=400)
        return web.json_response(ANSWER)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    with serve_app(app) as url:
        first, second = two_chats(url, SCHEMA)
    assert json.loads(first.content) == {"a": "b"} and json.loads(second.content) == {"a": "b"}
    assert formats == ["json_schema", "json_object", None, None]  # the step down is remembered


def test_a_prompt_over_vllms_context_is_refused_once_and_max_tokens_kept():
    # vLLM's 400 names both parameters: the run switched to max_completion_tokens (which some
    # servers ignore, leaving answers unbounded) and sent each such prompt a second time
    seen = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(sorted(body))
        if body["messages"][0]["content"] == "long":
            return web.json_response({"object": "error", "type": "BadRequestError", "code": 400, "message":
                                      "'max_tokens' or 'max_completion_tokens' is too large: 2048. This model's "
                                      "maximum context length is 2048 tokens and your request has 900 input "
                                      "tokens (2048 > 2048 - 900)."}, status=400)
        return web.json_response(ANSWER)

    async def go(url: str):
        client = LLMClient(LLMConfig(model="m", max_attempts=1), [url], "key")
        try:
            await client.chat([{"role": "user", "content": "hi"}], seed=1)
            with pytest.raises(RequestFailed) as err:
                await client.chat([{"role": "user", "content": "long"}], seed=2)
            await client.chat([{"role": "user", "content": "again"}], seed=3)
        finally:
            await client.aclose()
        return err.value

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    with serve_app(app) as url:
        refused = asyncio.run(go(url))
    assert refused.permanent and "too large" in str(refused)
    assert len(seen) == 3 and all("max_tokens" in s and "max_completion_tokens" not in s for s in seen)
