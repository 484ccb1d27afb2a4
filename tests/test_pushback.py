"""A 429 pauses everyone only when the key's quota is spent (or most answers are 429s);
otherwise only the request that got it waits its Retry-After."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from synthgen.config import LLMConfig
from synthgen.llm.client import LLMClient
from synthgen.llm.ratelimit import AdaptiveConcurrency, quota_exhausted

from helpers_http import serve_app

ANSWER = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
          "choices": [{"index": 0, "finish_reason": "stop",
                       "message": {"role": "assistant", "content": json.dumps({"a": "b"})}}]}


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_scattered_429s_without_quota_headers_never_pause_everyone() -> None:
    p = AdaptiveConcurrency(16)
    decisions = []
    for i in range(1000):  # 30% of answers are 429s, spread as a storm spreads them
        if i % 10 in (1, 4, 8):
            decisions.append(p.rate_limited(0, {"retry-after": "2"}))
        else:
            p.success(0)
    assert len(decisions) == 300 and not any(decisions) and p.pauses == 0 and p.limit == 16


def test_a_spent_quota_pauses_everyone() -> None:
    p = AdaptiveConcurrency(16)
    assert p.rate_limited(0, {"retry-after": "1", "x-ratelimit-remaining-requests": "0"})
    assert p.rate_limited(1, {"x-ratelimit-remaining-tokens": "0.0"})
    assert not p.rate_limited(2, {"x-ratelimit-remaining-requests": "12"})
    assert p.limit == 4 and p.pauses == 2
    assert quota_exhausted({"x-ratelimit-remaining-requests": "0"})
    assert not quota_exhausted({"x-ratelimit-remaining-requests": "junk"})


def test_a_wall_of_429s_pauses_everyone_once_then_counts_afresh() -> None:
    p = AdaptiveConcurrency(16, window=10, share=0.6)
    for _ in range(3):
        p.success(0)
    got = [p.rate_limited(0, {}) for _ in range(7)]  # 7 of the last 10 answers are 429s
    assert got == [False] * 6 + [True]
    assert not p.rate_limited(1, {})  # the window starts over after a pause


def run_client(url: str, n: int, **cfg):
    sleep = FakeSleep()

    async def go():
        client = LLMClient(LLMConfig(model="scripted", concurrency=16, **cfg), [url], "sk-test", sleep=sleep)
        try:
            msgs = [[{"role": "user", "content": f"item {i}"}] for i in range(n)]
            results = await asyncio.gather(*(client.chat(m, seed=1) for m in msgs))
            return client, results
        finally:
            await client.aclose()

    client, results = asyncio.run(go())
    return client, results, sleep


def test_a_429_storm_makes_only_the_refused_requests_wait(make_server) -> None:
    srv = make_server(rate_429=0.3, retry_after=2)
    client, results, sleep = run_client(srv.base_url, 200)
    assert len(results) == 200
    refused = srv.stats()["by_status"]["429"]
    assert 30 < refused < 90 and client.rate_limited == refused
    assert sleep.waits == [2.0] * refused  # each refused request waited its own Retry-After
    assert client.window.pauses == 0 and client.window.cuts == 0
    assert client.concurrency_limit == 16


def test_a_spent_server_quota_pauses_every_request() -> None:
    calls = []

    async def chat(request: web.Request) -> web.Response:
        calls.append(1)
        if len(calls) <= 3:  # out of quota, as OpenAI says it
            return web.json_response({"error": {"message": "Rate limit reached", "type": "requests"}},
                                     status=429, headers={"retry-after-ms": "50",
                                                          "x-ratelimit-remaining-requests": "0"})
        return web.json_response(ANSWER)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    with serve_app(app) as url:
        client, results, sleep = run_client(url, 8)
    assert len(results) == 8 and client.rate_limited == 3
    assert client.window.pauses == 3  # every one of them paused everyone
    assert client.window.cuts >= 1  # and the window narrowed
