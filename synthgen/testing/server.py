"""Running the scripted server: in a background thread (tests) or blocking (CLI, subprocess)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from synthgen.testing.app import FakeApp
from synthgen.testing.batches import add_batch_routes
from synthgen.testing.options import FakeServerOptions, options_from_cli_args


async def serve(host: str, port: int, options: FakeServerOptions, stop: asyncio.Event,
                on_ready: Callable[[str, FakeApp], None]) -> None:
    """Serve until `stop` is set or the server sits idle for options.idle_exit_seconds."""
    handlers = FakeApp(options)
    app = handlers.make()
    add_batch_routes(app, handlers)
    # handler_cancellation: a client that times out on a hanging request frees its handler
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        shown = f"[{host}]" if ":" in host else host  # IPv6 literal
        on_ready(f"http://{shown}:{runner.addresses[0][1]}/v1", handlers)
        idle = options.idle_exit_seconds
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0 if idle is None else min(1.0, idle / 4))
            if idle is not None and time.monotonic() - handlers.last_activity > idle:
                break
    finally:
        await runner.cleanup()
        handlers.state.batches.stop()


def run_server(host: str, port: int, options: FakeServerOptions) -> None:
    """Blocking: serve until SIGINT/SIGTERM or idle exit; print the URL once listening."""

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not main thread / Windows
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await serve(host, port, options, stop, lambda url, _: print(f"listening on {url}", flush=True))

    asyncio.run(main())


def main(argv: list[str] | None = None, prog: str = "python -m synthgen.testing") -> int:
    """Serve until stopped; a bad flag is one error line (argparse's usage block is cut) and 2."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            command = options_from_cli_args(argv, prog=prog)
        if not 0 <= command.port <= 65535:
            raise ValueError(f"--port must be between 0 and 65535, got {command.port}")
    except SystemExit as exc:  # argparse: --help (0, on stdout) or a bad flag (2)
        lines = captured.getvalue().strip().splitlines()
        if lines:
            print(lines[-1], file=sys.stderr)
        return exc.code if isinstance(exc.code, int) else 2
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    try:
        run_server(command.host, command.port, command.options)
    except OSError as exc:  # e.g. port already in use
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    return 0


class FakeLLMServer:
    """The scripted server on its own event loop in a background thread.

    with FakeLLMServer(FakeServerOptions(rate_429=0.1)) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
    """

    def __init__(self, options: FakeServerOptions | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.options = options or FakeServerOptions()
        self.host, self.port = host, port
        self.base_url: str | None = None
        self.app: FakeApp | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> str:
        """Start serving; returns the base URL, e.g. http://127.0.0.1:PORT/v1."""
        if self._thread is not None:
            raise RuntimeError("FakeLLMServer is already started")
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="synthgen-fake-llm", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("FakeLLMServer did not start in time")
        if self._error is not None:
            self._thread = None
            raise RuntimeError(f"FakeLLMServer failed to start: {self._error}") from self._error
        return str(self.base_url)

    def _run(self) -> None:
        def on_ready(url: str, app: FakeApp) -> None:
            self.base_url, self.app = url, app
            self.port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
            self._ready.set()

        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            await serve(self.host, self.port, self.options, self._stop, on_ready)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to start(); a thread has no one else to tell
            self._error = exc
        finally:
            self._ready.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and join the thread; safe to call twice or after an idle exit."""
        thread, self._thread = self._thread, None
        if thread is not None and self._loop is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # loop already closed by idle exit
                self._loop.call_soon_threadsafe(self._stop.set)
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> FakeLLMServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _call(self, fn: Callable[[FakeApp], Any]) -> Any:
        """fn(app) on the server's loop, so counters are never read mid-update."""
        if self.app is None:
            raise RuntimeError("FakeLLMServer is not started")
        if not self.running or self._loop is None:
            return fn(self.app)  # stopped: nothing else touches the state any more

        async def call() -> Any:
            return fn(self.app)  # type: ignore[arg-type]

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)

    def stats(self, by_key: bool = True) -> dict[str, Any]:
        """Counts: requests, by_status, faults, by_key (request_key -> arrivals), batches."""
        return self._call(lambda app: app.state.snapshot(by_key))

    def reset(self) -> None:
        """Forget counts, first sights, quota windows and batches, as if freshly started."""
        self._call(lambda app: app.state.reset())

    @property
    def requests(self) -> int:
        """Chat completion requests received so far."""
        return self.stats(by_key=False)["requests"]
