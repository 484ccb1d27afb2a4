"""post_chat through the real openai SDK against a real local HTTP server."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

import openai
import pytest
from aiohttp import web

from synthgen.llm.fastpath import FastAioHttpClient, RawChatResponse, post_chat

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"q\": \"héllo\"}"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
}

HTTP_CLIENTS: dict[str, Callable[[], Any]] = {
    "fast-aiohttp": FastAioHttpClient,
    "sdk-aiohttp": openai.DefaultAioHttpClient,
    "sdk-httpx": openai.DefaultAsyncHttpxClient,
}


class Server:
    """Behaviour chosen by the request's model name; records what it received."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.seen.append((request.path_qs, {k.lower(): v for k, v in request.headers.items()}, body))
        model = body["model"]
        if model == "ratelimit":
            return web.json_response({"error": {"message": "slow down", "type": "rate_limit"}}, status=429,
                                     headers={"Retry-After": "7", "x-ratelimit-remaining-requests": "0"})
        if model == "boom":
            return web.json_response({"error": {"message": "internal"}}, status=500)
        if model == "slow":
            await asyncio.sleep(5)
        if model == "html":
            return web.Response(text="<html>proxy page</html>", content_type="text/html")
        if body.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            for piece in ("hel", "lo"):
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model,
                         "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await resp.write(b"data: [DONE]\n\n")
            return resp
        return web.json_response(COMPLETION, headers={"x-ratelimit-remaining-requests": "99"})


@asynccontextmanager
async def serve() -> AsyncIterator[tuple[Server, str]]:
    server = Server()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.chat)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", server.chat)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield server, f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


def make_client(base_url: str, kind: str, max_retries: int = 2) -> openai.AsyncOpenAI:
    # max_retries=2 on purpose: post_chat must still make exactly one attempt
    return openai.AsyncOpenAI(api_key="sk-test", base_url=base_url, max_retries=max_retries,
                              default_headers={"X-Run": "r1"}, http_client=HTTP_CLIENTS[kind]())


def body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5,
            "custom_server_field": [1, 2], **extra}


@pytest.mark.parametrize("kind", HTTP_CLIENTS)
def test_success_returns_status_headers_and_json(kind: str) -> None:
    async def main() -> tuple[RawChatResponse, Server]:
        async with serve() as (server, url):
            client = make_client(url, kind)
            try:
                return await post_chat(client, body("ok"), timeout=5), server
            finally:
                await client.close()

    result, server = asyncio.run(main())
    assert result.status == 200
    assert result.data == COMPLETION
    assert result.headers["x-ratelimit-remaining-requests"] == "99"
    path, headers, sent = server.seen[0]
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-test" and headers["x-run"] == "r1"
    assert sent == body("ok")  # sent as given, unknown fields included


@pytest.mark.parametrize("kind", HTTP_CLIENTS)
def test_429_raises_rate_limit_error_with_retry_after(kind: str) -> None:
    async def main() -> tuple[openai.RateLimitError, int]:
        async with serve() as (server, url):
            client = make_client(url, kind)
            try:
                with pytest.raises(openai.RateLimitError) as info:
                    await post_chat(client, body("ratelimit"), timeout=5)
                return info.value, len(server.seen)
            finally:
                await client.close()

    exc, hits = asyncio.run(main())
    assert hits == 1, "the SDK's own retries must stay off"
    assert exc.status_code == 429
    assert exc.response.headers["retry-after"] == "7"
    assert "slow down" in str(exc)


@pytest.mark.parametrize("kind", HTTP_CLIENTS)
def test_500_raises_api_status_error(kind: str) -> None:
    async def main() -> openai.APIStatusError:
        async with serve() as (_, url):
            client = make_client(url, kind)
            try:
                with pytest.raises(openai.InternalServerError) as info:
                    await post_chat(client, body("boom"), timeout=5)
                return info.value
            finally:
                await client.close()

    exc = asyncio.run(main())
    assert isinstance(exc, openai.APIStatusError) and exc.status_code == 500


@pytest.mark.parametrize("kind", HTTP_CLIENTS)
def test_timeout_raises_api_timeout_error_promptly(kind: str) -> None:
    async def main() -> float:
        async with serve() as (_, url):
            client = make_client(url, kind)
            try:
                start = time.monotonic()
                with pytest.raises(openai.APITimeoutError):
                    await post_chat(client, body("slow"), timeout=0.3)
                return time.monotonic() - start
            finally:
                await client.close()

    assert asyncio.run(main()) < 2.0


def test_refused_connection_raises_api_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        client = make_client(f"http://127.0.0.1:{port}/v1", "fast-aiohttp")
        try:
            with pytest.raises(openai.APIConnectionError):
                await post_chat(client, body("ok"), timeout=2)
        finally:
            await client.close()

    asyncio.run(main())


def test_non_json_success_body_is_a_validation_error() -> None:
    async def main() -> None:
        async with serve() as (_, url):
            client = make_client(url, "fast-aiohttp")
            try:
                with pytest.raises(openai.APIResponseValidationError):
                    await post_chat(client, body("html"), timeout=5)
            finally:
                await client.close()

    asyncio.run(main())


def test_fast_client_keeps_the_sdk_working_for_typed_and_streaming_calls() -> None:
    # everything the fast road does not cover (here: streaming) goes the SDK's usual way
    async def main() -> tuple[str | None, str]:
        async with serve() as (_, url):
            client = make_client(url, "fast-aiohttp")
            try:
                typed = await client.chat.completions.create(model="ok", messages=[{"role": "user", "content": "x"}])
                stream = await client.chat.completions.create(
                    model="ok", messages=[{"role": "user", "content": "x"}], stream=True)
                text = "".join([c.choices[0].delta.content or "" async for c in stream])
                return typed.choices[0].message.content, text
            finally:
                await client.close()

    typed, streamed = asyncio.run(main())
    assert typed == '{"q": "héllo"}'
    assert streamed == "hello"


def test_many_concurrent_requests_share_one_client() -> None:
    async def main() -> int:
        async with serve() as (server, url):
            client = make_client(url, "fast-aiohttp")
            try:
                results = await asyncio.gather(*(post_chat(client, body("ok"), timeout=5) for _ in range(200)))
                assert all(r.data["usage"]["total_tokens"] == 13 for r in results)
                return len(server.seen)
            finally:
                await client.close()

    assert asyncio.run(main()) == 200


def test_the_first_requests_of_a_run_build_one_direct_route(monkeypatch) -> None:
    # a run starts with `concurrency` requests at once: one of them builds the route (a thread
    # hop and ~3 ms), the others wait for it, instead of each building and discarding its own
    from synthgen.llm import fastpath

    built: list[object] = []

    class Counted(fastpath._DirectRoute):
        def __init__(self, *args: Any) -> None:
            built.append(self)
            super().__init__(*args)

    monkeypatch.setattr(fastpath, "_DirectRoute", Counted)

    async def main() -> tuple[int, bool]:
        async with serve() as (server, url):
            client = make_client(url, "fast-aiohttp")
            try:
                results = await asyncio.gather(*(post_chat(client, body("ok"), timeout=5) for _ in range(64)))
                assert all(r.data == COMPLETION for r in results)
                return len(server.seen), fastpath._routes.get(client) is built[0]
            finally:
                await client.close()

    assert asyncio.run(main()) == (64, True)
    assert len(built) == 1


def test_follows_a_changed_base_url() -> None:
    async def main() -> tuple[int, int]:
        async with serve() as (first, url1), serve() as (second, url2):
            client = make_client(url1, "fast-aiohttp")
            try:
                await post_chat(client, body("ok"), timeout=5)
                client.base_url = url2
                await post_chat(client, body("ok"), timeout=5)
                return len(first.seen), len(second.seen)
            finally:
                await client.close()

    assert asyncio.run(main()) == (1, 1)


def test_azure_client_keeps_its_deployment_routing() -> None:
    async def main() -> str:
        async with serve() as (server, url):
            client = openai.AsyncAzureOpenAI(
                api_key="az-key", api_version="2024-10-21", azure_endpoint=url.removesuffix("/v1"),
                max_retries=0, http_client=FastAioHttpClient(),
            )
            try:
                result = await post_chat(client, body("my-deployment"), timeout=5)
                assert result.data == COMPLETION
                path, headers, _ = server.seen[0]
                assert headers["api-key"] == "az-key"
                return path
            finally:
                await client.close()

    assert asyncio.run(main()) == "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21"


def test_plain_client_posts_directly_with_the_headers_the_sdk_sends() -> None:
    # the direct route must be invisible to the server: same URL, auth and SDK headers as `create`
    from synthgen.llm import fastpath

    async def main() -> tuple[dict[str, str], dict[str, str], bool]:
        async with serve() as (server, url):
            client = make_client(url, "fast-aiohttp")
            try:
                await client.chat.completions.create(model="ok", messages=[{"role": "user", "content": "hi"}],
                                                     timeout=5)
                await post_chat(client, body("ok"), timeout=5)
                await post_chat(client, body("ok"), timeout=5)
                direct = fastpath._routes.get(client) is not None
                return server.seen[0][1], server.seen[2][1], direct
            finally:
                await client.close()

    typed, direct_headers, took_direct = asyncio.run(main())
    assert took_direct
    same = {k: v for k, v in typed.items() if k not in ("content-length", "accept-encoding", "host")}
    assert same and {k: direct_headers.get(k) for k in same} == same


def test_direct_route_follows_a_changed_api_key() -> None:
    async def main() -> list[str]:
        async with serve() as (server, url):
            client = make_client(url, "fast-aiohttp")
            try:
                await post_chat(client, body("ok"), timeout=5)
                client.api_key = "sk-rotated"
                await post_chat(client, body("ok"), timeout=5)
                return [h["authorization"] for _, h, _ in server.seen]
            finally:
                await client.close()

    assert asyncio.run(main()) == ["Bearer sk-test", "Bearer sk-rotated"]


def test_gzip_answers_are_decoded_on_the_direct_route() -> None:
    import gzip

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        status = 200 if request.headers.get("x-want") != "error" else 503
        payload = COMPLETION if status == 200 else {"error": {"message": "overloaded"}}
        return web.Response(body=gzip.compress(json.dumps(payload).encode()), status=status,
                            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def main() -> tuple[RawChatResponse, openai.APIStatusError]:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ok_client = make_client(f"http://127.0.0.1:{port}/v1", "fast-aiohttp")
        bad_client = openai.AsyncOpenAI(api_key="k", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0,
                                        default_headers={"x-want": "error"}, http_client=FastAioHttpClient())
        try:
            ok = await post_chat(ok_client, body("ok"), timeout=5)
            with pytest.raises(openai.InternalServerError) as info:
                await post_chat(bad_client, body("ok"), timeout=5)
            return ok, info.value
        finally:
            await ok_client.close()
            await bad_client.close()
            await runner.cleanup()

    ok, err = asyncio.run(main())
    assert ok.data == COMPLETION
    assert err.status_code == 503 and "overloaded" in str(err)


def test_a_client_without_the_private_methods_takes_the_sdk_road() -> None:
    # if an SDK release renames what the direct route uses, requests still go out (slower)
    from synthgen.llm import fastpath

    async def main() -> tuple[RawChatResponse, object]:
        async with serve() as (_, url):
            client = make_client(url, "fast-aiohttp")
            client._make_status_error_from_response = None  # type: ignore[assignment]
            try:
                return await post_chat(client, body("ok"), timeout=5), fastpath._routes.get(client, "unset")
            finally:
                await client.close()

    result, route = asyncio.run(main())
    assert result.data == COMPLETION
    assert route is None
