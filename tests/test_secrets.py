"""A server that repeats the Authorization header in its error bodies: the key must end up nowhere,
neither in stderr nor in any file of the run (rejects/, run.json, journal/state.sqlite)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from synthgen.config import LLMConfig
from synthgen.errors import FatalLLMError
from synthgen.llm.client import LLMClient, RequestFailed
from synthgen.redact import register_secret

from helpers_http import rewriting_proxy, serve_app

KEY = "sk-live-0123456789abcdefSECRET"


def run(cfg: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    return subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out", str(out),
                           "--quiet"], capture_output=True, text=True, timeout=300, env=env)


def assert_nowhere(r: subprocess.CompletedProcess, out: Path) -> None:
    assert "Traceback" not in r.stderr
    for text in (r.stderr, r.stdout):
        assert KEY not in text and KEY[8:20] not in text
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "state.sqlite" for p in files)
    for path in files:
        data = path.read_bytes()
        assert KEY.encode() not in data and KEY[8:20].encode() not in data, path


def test_a_401_that_echoes_the_key(make_server, write_config, tmp_path):
    srv = make_server(api_key="the-right-key", echo_auth=True)
    r = run(write_config(srv.base_url), tmp_path / "run")
    assert r.returncode == 1 and "401" in r.stderr
    assert "[redacted]" in r.stderr  # the echo was there, masked
    assert_nowhere(r, tmp_path / "run")


@pytest.mark.parametrize("faults,code", [({"rate_400": 0.3}, 0), ({"rate_500": 0.3}, 1)])
def test_400_rejects_and_500_failures_that_echo_the_key(make_server, write_config, tmp_path, faults, code):
    srv = make_server(echo_auth=True, **faults)
    out = tmp_path / "run"
    r = run(write_config(srv.base_url, max_attempts=1), out)
    assert r.returncode == code, r.stderr
    if code == 0:  # the refused items are rejects whose detail carried the echo
        rejected = "".join(p.read_text() for p in (out / "rejects").glob("*.jsonl"))
        assert "HTTP 400" in rejected and "[redacted]" in rejected
    else:
        assert "still failing" in r.stderr and "[redacted]" in r.stderr
    assert_nowhere(r, out)


def test_a_200_whose_answer_repeats_the_key(make_server, write_config, tmp_path):
    # a debugging proxy that writes the request's Authorization header into the model's answer:
    # the answer is journaled and its texts become examples, so the key is masked as it is read
    def echo(answer: dict, request: web.Request) -> None:
        message = answer["choices"][0]["message"]
        message["content"] = message["content"].replace('": "', f'": "{request.headers["Authorization"]} ')

    app = rewriting_proxy(make_server().base_url, echo)
    out = tmp_path / "run"
    with serve_app(app) as url:
        r = run(write_config(url), out)
    assert r.returncode == 0, r.stderr
    assert_nowhere(r, out)
    assert "Bearer [redacted]" in (out / "examples" / "part-00000.jsonl").read_text()


def test_a_200_whose_answer_repeats_the_key_in_json_escapes(make_server, write_config, tmp_path):
    # "\u0073k-..." is the key once the JSON is decoded: masking the raw text alone let it reach
    # tasks/, examples/ and every export
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)

    def mark(v: object) -> object:  # every string (task, text) starts with the key
        return [mark(x) for x in v] if isinstance(v, list) else \
            {k: mark(x) for k, x in v.items()} if isinstance(v, dict) else f"@KEY@ {v}"

    def echo(answer: dict, request: web.Request) -> None:
        message = answer["choices"][0]["message"]
        message["content"] = json.dumps(mark(json.loads(message["content"]))).replace("@KEY@", escaped)

    out = tmp_path / "run"
    with serve_app(rewriting_proxy(make_server().base_url, echo)) as url:
        r = run(write_config(url), out)
    assert r.returncode == 0, r.stderr
    assert_nowhere(r, out)
    for kind in ("tasks", "examples"):
        assert "[redacted] " in (out / kind / "part-00000.jsonl").read_text()


def test_a_long_message_is_cut_after_the_key_is_masked_not_before():
    # cutting first left the key's first characters, too few for the token pattern, in the line
    key = "0123456789abcdef0123456789abcdef"  # an Azure-style key: no sk- prefix to spot it by
    register_secret(key)
    pads = iter(range(150, 200))

    async def echo(request: web.Request) -> web.Response:
        message = "x" * next(pads) + " Authorization: Bearer " + key
        return web.json_response({"error": {"message": message}}, status=400)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", echo)

    async def ask_all(url: str) -> list[str]:
        client = LLMClient(LLMConfig(model="m", max_attempts=1), [url], "no-key")
        said = []
        try:
            for seed in range(50):
                with pytest.raises((RequestFailed, FatalLLMError)) as err:
                    await client.chat([{"role": "user", "content": "hi"}], seed=seed)
                said.append(str(err.value))
        finally:
            await client.aclose()
        return said

    with serve_app(app) as url:
        said = asyncio.run(ask_all(url))
    assert len(said) == 50 and not [s for s in said if key[:3] in s]


@pytest.mark.parametrize("stored,code", [(KEY + "\n", 0), (f"\u201c{KEY}\u201d", 2),
                                         (KEY[:9] + "\t" + KEY[9:], 2)])
def test_a_key_variable_with_a_newline_works_and_one_with_a_pasted_quote_is_one_line(
        make_server, write_config, tmp_path, stored, code):
    # a key file's (or a Kubernetes secret's) trailing newline is no part of the key; a character no
    # header can carry was a traceback from the HTTP stack
    srv = make_server(api_key=KEY)
    env = {**os.environ, "OPENAI_API_KEY": stored}
    r = subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(write_config(srv.base_url)),
                        "--out", str(tmp_path / "run"), "--quiet"], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == code and "Traceback" not in r.stderr, r.stderr
    if code:
        assert len(r.stderr.strip().splitlines()) == 1 and "OPENAI_API_KEY" in r.stderr
        assert KEY[8:20] not in r.stderr and not (tmp_path / "run").exists()
