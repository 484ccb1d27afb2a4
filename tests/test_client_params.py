"""Parameters newer OpenAI models refuse: the client adapts instead of failing every item."""

from __future__ import annotations

import asyncio
import json
import threading

from aiohttp import web

from synthgen.config import LLMConfig
from synthgen.llm.client import LLMClient


def _serve(app: web.Application) -> tuple[str, callable]:
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    ready = threading.Event()
    holder = {}

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        holder["port"] = site._server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    ready.wait(5)

    def stop():
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)

    return f"http://127.0.0.1:{holder['port']}/v1", stop


def test_max_tokens_refused_switches_to_max_completion_tokens():
    seen = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(sorted(body))
        if "max_tokens" in body:
            return web.json_response({"error": {"message": "Unsupported parameter: 'max_tokens' is not supported "
                                                           "with this model. Use 'max_completion_tokens' instead.",
                                                "type": "invalid_request_error"}}, status=400)
        return web.json_response({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": json.dumps({"a": "b"})}}],
                                  "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    url, stop = _serve(app)
    try:
        async def go():
            client = LLMClient(LLMConfig(model="m", max_attempts=1), [url], "key")
            try:
                first = await client.chat([{"role": "user", "content": "hi"}], seed=1)
                second = await client.chat([{"role": "user", "content": "again"}], seed=2)
            finally:
                await client.aclose()
            return first, second

        first, second = asyncio.run(go())
    finally:
        stop()
    assert json.loads(first.content) == {"a": "b"} and second.completion_tokens == 3
    assert "max_tokens" in seen[0] and "max_completion_tokens" in seen[1]
    assert all("max_tokens" not in s for s in seen[1:])  # remembered for the rest of the run
