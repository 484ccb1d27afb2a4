"""TLS failures no retry can heal stop the run at once; a trusted certificate works."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import time

import pytest
from aiohttp import web

from synthgen.config import LLMConfig
from synthgen.errors import FatalLLMError
from synthgen.llm.client import LLMClient

from helpers import run_cli
from helpers_http import serve_app

ANSWER = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
          "choices": [{"index": 0, "finish_reason": "stop",
                       "message": {"role": "assistant", "content": json.dumps({"a": "b"})}}],
          "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1, made with openssl into tmp_path."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def tls_app(certificate):
    seen = []

    async def chat(request: web.Request) -> web.Response:
        seen.append(1)
        return web.json_response(ANSWER)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*certificate)
    return app, ctx, seen


class Sleeps:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, seconds: float) -> None:
        self.count += 1


def ask(url: str, sleep: Sleeps):
    async def go():
        client = LLMClient(LLMConfig(model="m", max_attempts=6), [url], "sk-test", sleep=sleep)
        try:
            return await client.chat([{"role": "user", "content": "hi"}], seed=1)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_an_untrusted_certificate_stops_at_once(certificate):
    app, ctx, seen = tls_app(certificate)
    sleep = Sleeps()
    with serve_app(app, tls=ctx) as url:
        with pytest.raises(FatalLLMError) as err:
            ask(url, sleep)
    # not aiohttp's "Cannot connect to host ... ssl:True [SSLCertVerificationError: (1, '[SSL: ..."
    said = str(err.value)  # "self-signed certificate" or, older OpenSSL, "self signed certificate"
    assert said.startswith("TLS certificate not trusted (self") and "ssl:True" not in said
    assert sleep.count == 0 and seen == []  # one attempt, no retry


def test_a_trusted_certificate_is_used(certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    app, ctx, seen = tls_app(certificate)
    with serve_app(app, tls=ctx) as url:
        result = ask(url, Sleeps())
    assert json.loads(result.content) == {"a": "b"} and seen == [1]


def test_https_to_a_plain_http_server_stops_at_once(server):
    sleep = Sleeps()
    with pytest.raises(FatalLLMError) as err:
        ask(server.base_url.replace("http://", "https://"), sleep)
    assert "does not speak TLS" in str(err.value)
    assert sleep.count == 0


def test_the_cli_stops_with_one_line_when_https_meets_plain_http(tmp_path, server, write_config):
    cfg = write_config(server.base_url.replace("http://", "https://"))
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out",
                        str(tmp_path / "run"), "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not speak TLS" in lines[0], r.stderr
    assert time.monotonic() - started < 60  # not minutes of retries (6 x 30 s before)


def test_an_ssl_cert_file_pointing_nowhere_is_one_line_not_a_traceback(tmp_path, server, write_config):
    # plain http: the transport still loads SSL_CERT_FILE
    r = run_cli(write_config(server.base_url), tmp_path / "run", SSL_CERT_FILE=str(tmp_path / "missing.pem"))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "SSL_CERT_FILE" in lines[0] and "missing.pem" in lines[0], r.stderr
