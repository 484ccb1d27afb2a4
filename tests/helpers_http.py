"""A throwaway aiohttp app on loopback, in a thread, for tests that need a server of their own."""

from __future__ import annotations

import asyncio
import ssl
import threading
from contextlib import contextmanager
from typing import Iterator

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
