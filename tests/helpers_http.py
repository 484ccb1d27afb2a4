"""A throwaway aiohttp app on loopback, in a thread, for tests that need a server of their own."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import aiohttp
from aiohttp import web


@contextmanager
def serve_app(app: web.Application, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1; yields its base URL (http or https, ending in /v1)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, handler_cancellation=True)
    ready = threading.Event()
    holder: dict[str, int] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        loop.run_until_complete(site.start())
        holder["port"] = runner.addresses[0][1]
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "test server did not start"
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{holder['port']}/v1"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def rewriting_proxy(upstream: str, rewrite: Callable[[dict, web.Request], None]) -> web.Application:
    """An app that forwards chat requests to `upstream` (a base URL ending in /v1) and lets
    `rewrite(answer, request)` change the answer before it goes back: a server that misbehaves
    only in what it says."""
    async def forward(request: web.Request) -> web.Response:
        async with aiohttp.ClientSession() as session, session.post(
                upstream + "/chat/completions", data=await request.read(),
                headers={"Content-Type": "application/json"}) as r:
            answer = await r.json()
        rewrite(answer, request)
        return web.json_response(answer)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", forward)
    return app
