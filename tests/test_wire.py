"""The direct route's own HTTP/1.1 connections (synthgen/llm/wire.py), through the real openai SDK
client, against raw loopback servers that answer the ways real servers and proxies do."""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
import zlib
from typing import Awaitable, Callable

import openai
import pytest

from synthgen.llm.fastpath import FastAioHttpClient, post_chat, tls_context

COMPLETION = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"q\": \"ok\"}"},
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
PAYLOAD = json.dumps(COMPLETION).encode()

# handler(reader, writer, request_number) answers one request; returns False to close the connection
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]


class RawServer:
    """A loopback HTTP/1.1 server written by hand, so answers can be exactly what a test needs."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.connections = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((headers, body))
                if not await self.handler(reader, writer, len(self.requests)):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


def answer(body: bytes = PAYLOAD, status: str = "200 OK", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            .encode() + body)


def client_for(url: str, **kw: object) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-wire", base_url=url, max_retries=0,
                              http_client=FastAioHttpClient(verify=tls_context([url])), **kw)  # type: ignore[arg-type]


def ask(handler: Handler, n: int = 1, timeout: float = 5.0, between: float = 0.0):
    """n sequential post_chat calls; (answers or the exception, the server)."""
    server = RawServer(handler)

    async def main():
        async with server as url:
            client = client_for(url)
            out = []
            try:
                for _ in range(n):
                    try:
                        out.append(await post_chat(client, {"model": "m", "messages": []}, timeout=timeout))
                    except Exception as exc:  # noqa: BLE001 - the test inspects it
                        out.append(exc)
                    await asyncio.sleep(between)
            finally:
                await client.close()
            return out

    return asyncio.run(main()), server


async def plain(reader, writer, i) -> bool:
    writer.write(answer())
    return True


def test_keeps_connections_alive_and_sends_the_sdk_request() -> None:
    out, server = ask(plain, n=5)
    assert [r.data for r in out] == [COMPLETION] * 5
    assert server.connections == 1  # one connection, reused
    headers, body = server.requests[0]
    assert headers["authorization"] == "Bearer sk-wire" and headers["content-type"] == "application/json"
    assert headers["host"].startswith("127.0.0.1:") and "openai" in headers["user-agent"].lower()
    assert json.loads(body) == {"model": "m", "messages": []}


def test_chunked_answers_with_trailers_are_read_whole() -> None:
    async def chunked(reader, writer, i) -> bool:
        parts = [PAYLOAD[:7], PAYLOAD[7:40], PAYLOAD[40:]]
        data = b"".join(f"{len(p):x};ext=1\r\n".encode() + p + b"\r\n" for p in parts)
        trailer = b"X-Trailer: yes\r\n" if i == 2 else b""
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for j in range(0, len(data), 5):  # in small pieces, as a slow network delivers them
            writer.write(data[j:j + 5])
            await writer.drain()
        writer.write(b"0\r\n" + trailer + b"\r\n")
        return True

    out, server = ask(chunked, n=3)
    assert [r.data for r in out] == [COMPLETION] * 3 and server.connections == 1


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
def test_compressed_answers_are_decoded(coding: str) -> None:
    packed = {"gzip": gzip.compress(PAYLOAD), "deflate": zlib.compress(PAYLOAD),
              "raw-deflate": zlib.compress(PAYLOAD)[2:-4]}[coding]
    name = "gzip" if coding == "gzip" else "deflate"

    async def compressed(reader, writer, i) -> bool:
        writer.write(answer(packed, extra=f"Content-Encoding: {name}\r\n"))
        return True

    out, server = ask(compressed)
    assert out[0].data == COMPLETION
    assert "gzip" in server.requests[0][0]["accept-encoding"]


def test_an_answer_without_length_runs_to_the_end_of_the_connection() -> None:
    async def http10(reader, writer, i) -> bool:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + PAYLOAD)
        return False

    out, server = ask(http10, n=2)
    assert [r.data for r in out] == [COMPLETION] * 2 and server.connections == 2


def test_connection_close_is_honoured() -> None:
    async def closing(reader, writer, i) -> bool:
        writer.write(answer(extra="Connection: close\r\n"))
        return False

    out, server = ask(closing, n=3)
    assert [r.data for r in out] == [COMPLETION] * 3 and server.connections == 3


def test_a_kept_connection_the_server_dropped_is_replaced_quietly() -> None:
    # servers close idle keep-alive connections (uvicorn after 5 s); the next request must not fail
    async def drops_after_each(reader, writer, i) -> bool:
        writer.write(answer())
        await writer.drain()
        return False  # closes without saying Connection: close

    out, server = ask(drops_after_each, n=3, between=0.05)
    assert [r.data for r in out] == [COMPLETION] * 3
    assert len(server.requests) == 3  # each request reached the server exactly once


def test_a_server_that_goes_quiet_is_a_timeout() -> None:
    async def silent(reader, writer, i) -> bool:
        await asyncio.sleep(10)
        return False

    out, _ = ask(silent, timeout=0.5)
    assert isinstance(out[0], openai.APITimeoutError)


def test_a_slow_but_steady_answer_is_not_a_timeout() -> None:
    # the timeout bounds silence, not the whole answer (as the SDK's aiohttp transport does)
    async def trickle(reader, writer, i) -> bool:
        data = answer()
        for j in range(0, len(data), len(data) // 5 + 1):
            writer.write(data[j:j + len(data) // 5 + 1])
            await writer.drain()
            await asyncio.sleep(0.25)
        return True

    out, _ = ask(trickle, timeout=0.6)
    assert out[0].data == COMPLETION


def test_a_connection_cut_mid_answer_is_a_connection_error() -> None:
    async def cut(reader, writer, i) -> bool:
        writer.write(answer()[:60])
        await writer.drain()
        return False

    out, server = ask(cut)
    assert isinstance(out[0], openai.APIConnectionError) and not isinstance(out[0], openai.APITimeoutError)
    assert len(server.requests) == 1  # a request the server saw is never re-sent by the transport


def test_garbage_instead_of_http_is_a_connection_error() -> None:
    async def garbage(reader, writer, i) -> bool:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        return True

    out, _ = ask(garbage)
    assert isinstance(out[0], openai.APIConnectionError)


def test_error_statuses_become_the_sdks_exceptions_with_their_headers() -> None:
    async def limited(reader, writer, i) -> bool:
        body = json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode()
        writer.write(answer(body, status="429 Too Many Requests", extra="Retry-After: 3\r\n"))
        return True

    out, _ = ask(limited)
    err = out[0]
    assert isinstance(err, openai.RateLimitError) and err.status_code == 429
    assert err.response.headers["retry-after"] == "3" and "slow down" in str(err)


def test_refused_connection_names_the_host_and_not_the_key() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main():
        client = client_for(f"http://127.0.0.1:{port}/v1")
        try:
            with pytest.raises(openai.APIConnectionError) as info:
                await post_chat(client, {"model": "m", "messages": []}, timeout=2)
            return info.value
        finally:
            await client.close()

    err = asyncio.run(main())
    from synthgen.llm.client import describe

    line = describe(err)
    assert f"127.0.0.1:{port}" in line and "sk-wire" not in line


def test_plain_http_endpoints_get_a_verifying_context_without_the_certificate_store() -> None:
    plain_ctx = tls_context(["http://127.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"])
    assert plain_ctx.verify_mode == ssl.CERT_REQUIRED and plain_ctx.check_hostname
    assert plain_ctx.cert_store_stats()["x509_ca"] == 0  # nothing loaded: nothing trusted
    tls_ctx = tls_context(["http://127.0.0.1:8000/v1", "https://api.openai.com/v1"])
    assert tls_ctx.verify_mode == ssl.CERT_REQUIRED and tls_ctx.cert_store_stats()["x509_ca"] > 0


def test_a_proxy_from_the_environment_is_used(monkeypatch) -> None:
    # proxies are the SDK transport's business: with one configured the request must reach it
    # (the direct connections would bypass it)
    seen: list[str] = []

    async def proxy(reader, writer) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0].decode())
        length = next(int(ln.split(b":")[1]) for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        writer.write(answer(extra="Connection: close\r\n"))
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(proxy, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = client_for("http://upstream.example/v1")
        try:
            return await post_chat(client, {"model": "m", "messages": []}, timeout=5)
        finally:
            await client.close()
            server.close()

    out = asyncio.run(main())
    assert out.data == COMPLETION
    assert seen == ["POST http://upstream.example/v1/chat/completions HTTP/1.1"]


def _self_signed(tmp_path):
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


def _https_exchange(key, cert, trusted: bool):
    seen: list[str] = []

    async def handle(reader, writer) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        seen.append(head.split(b"\r\n", 1)[0].decode())
        length = next(int(ln.split(b":")[1]) for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        writer.write(answer())
        await writer.drain()
        writer.close()

    async def main():
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(cert, key)
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        client_ctx = ssl.create_default_context(cafile=str(cert)) if trusted else tls_context(["https://x"])
        client = openai.AsyncOpenAI(api_key="sk-wire", base_url=f"https://localhost:{port}/v1", max_retries=0,
                                    http_client=FastAioHttpClient(verify=client_ctx))
        try:
            return await post_chat(client, {"model": "m", "messages": []}, timeout=5)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            return exc
        finally:
            await client.close()
            server.close()

    return asyncio.run(main()), seen


def test_https_endpoints_are_reached_over_verified_tls(tmp_path) -> None:
    key, cert = _self_signed(tmp_path)
    out, seen = _https_exchange(key, cert, trusted=True)
    assert out.data == COMPLETION
    assert seen == ["POST /v1/chat/completions HTTP/1.1"]


def test_an_untrusted_certificate_is_refused(tmp_path) -> None:
    key, cert = _self_signed(tmp_path)
    out, seen = _https_exchange(key, cert, trusted=False)
    assert isinstance(out, openai.APIConnectionError) and seen == []
    from synthgen.llm.client import describe

    assert "certificate" in describe(out).lower()
