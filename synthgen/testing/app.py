"""The scripted server's aiohttp handlers for chat, models, /_stats and /_reset.

Answers are pure functions of the request (state.request_digests): a restarted server gives the same bytes.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from aiohttp import web

from synthgen.testing.options import FIRST_SIGHT, FakeServerOptions
from synthgen.testing.reading import message_text, read_request, schema_of
from synthgen.testing.state import ServerState, content_faults, request_digests, transient_fault
from synthgen.testing.textgen import write_text

_JSON = "application/json"
CHAT = "/v1/chat/completions"
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
_CREATED_BASE = 1_700_000_000
_HTML = (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
         b"<h1>502 Bad Gateway</h1><p>The upstream server did not answer in time.</p></body></html>")
# the error answers of the first-sight faults that refuse a request
_REFUSALS = {"429": (429, "Rate limit reached (scripted fault). Please retry.", "rate_limit_error",
                     "rate_limit_exceeded"),
             "500": (500, "The server had an error (scripted fault).", "server_error", None),
             "400": (400, "This request was refused (scripted fault).", "invalid_request_error", None)}


def error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
          headers: dict[str, str] | None = None, param: str | None = None,
          echo: str | None = None) -> web.Response:
    """An OpenAI-shaped error answer."""
    if echo is not None:  # as some servers do: the request's credentials repeated back
        message += f" (you sent Authorization: {echo})"
    return web.json_response({"error": {"message": message, "type": kind, "param": param, "code": code}},
                             status=status, headers=headers)


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": _seconds(wait), "retry-after-ms": str(round(wait * 1000))}


def _duration(value: float) -> str:
    """OpenAI's reset header style: '20ms', '1.5s', '1m0s'."""
    if value < 1:
        return f"{round(value * 1000)}ms"
    minutes, secs = divmod(value, 60)
    return f"{int(minutes)}m{_seconds(secs)}s" if minutes else f"{_seconds(secs)}s"


def _count(value: float) -> str:
    """A quota number as OpenAI prints it; a CLI may pass 100.0 for 100."""
    return str(int(value)) if float(value).is_integer() else str(value)


async def drip(out: web.StreamResponse, data: bytes, pieces: int, seconds: float) -> None:
    """Write data in `pieces` spread over `seconds`, so a client's read timeouts can trip."""
    for i in range(pieces):
        await out.write(data[i * len(data) // pieces:(i + 1) * len(data) // pieces])
        if seconds:
            await asyncio.sleep(seconds / pieces)


def _tokens(text: str) -> int:
    return len(text) // 4 + 1


def prompt_tokens(body: dict[str, Any]) -> int:
    return sum(_tokens(message_text(m)) for m in body["messages"] if isinstance(m, dict))


class FakeApp:
    """Handlers bound to one ServerState; also tracks the last request for idle exit."""

    def __init__(self, options: FakeServerOptions) -> None:
        self.options = options
        self.state = ServerState(options)
        self.last_activity = time.monotonic()

    def make(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._guard])
        app.router.add_post(CHAT, self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/_stats", self.stats)
        app.router.add_post("/_reset", self.reset)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Every request counts as activity (idle exit); all but /_stats and /_reset need the key
        (the chat route checks it itself, to count the refusal)."""
        self.last_activity = time.monotonic()
        denied = None if request.path == CHAT or request.path.startswith("/_") else self.auth(request)
        return denied if denied is not None else await handler(request)

    async def models(self, request: web.Request) -> web.Response:
        model = {"id": "synthgen-fake", "object": "model", "created": _CREATED_BASE, "owned_by": "synthgen"}
        return web.json_response({"object": "list", "data": [model]})

    async def stats(self, request: web.Request) -> web.Response:
        with_keys = request.query.get("by_key", "1") not in ("0", "false", "no")
        return web.json_response(self.state.snapshot(with_keys))

    async def reset(self, request: web.Request) -> web.Response:
        self.state.reset()
        return web.json_response({"ok": True})

    def auth(self, request: web.Request) -> web.Response | None:
        """The 401 answer when an API key is set and the request does not carry it."""
        key = self.options.api_key
        if key is not None and request.headers.get("Authorization") != f"Bearer {key}":
            return error(401, "Incorrect API key provided.", code="invalid_api_key", echo=self._echo(request))
        return None

    def _echo(self, request: web.Request) -> str | None:
        return request.headers.get("Authorization", "") if self.options.echo_auth else None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.state.requests += 1
        response = await self._chat(request)
        self.state.by_status[response.status] += 1
        slow = self.options.drip_seconds or self.options.answer_bytes
        if response.status == 200 and slow and response.body:
            return await self._stream(request, response)
        return response

    async def _stream(self, request: web.Request, answer: web.Response) -> web.StreamResponse:
        """Send `answer` in pieces: padded with spaces to answer_bytes, spread over drip_seconds."""
        body = bytes(answer.body)  # type: ignore[arg-type]
        head, tail = body[:-1], body[-1:]
        pad = max(0, self.options.answer_bytes - len(body))
        out = web.StreamResponse(status=200, headers=answer.headers)
        out.content_type = _JSON
        out.enable_chunked_encoding()
        await out.prepare(request)
        await drip(out, head, 20 if self.options.drip_seconds else 1, self.options.drip_seconds)
        chunk = b" " * 65536
        while pad > 0:  # written piece by piece: the server never holds the whole answer
            await out.write(chunk[:pad])
            pad -= len(chunk)
        await out.write(tail)
        await out.write_eof()
        return out

    async def _chat(self, request: web.Request) -> web.Response:
        opts, state, echo = self.options, self.state, self._echo(request)
        denied = self.auth(request)
        if denied is not None:
            return denied
        try:
            body = json.loads(await request.read())
        except ValueError:
            return error(400, "Request body is not valid JSON.", echo=echo)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return error(400, "'messages' is a required list.", param="messages")
        if body.get("stream"):
            return error(400, "Streaming is not supported by this server.", param="stream")
        if not opts.json_schema and schema_of(body.get("response_format")) is not None:
            return error(400, "response_format of type json_schema is not supported.",
                         param="response_format", echo=echo)
        cdigest, digest = request_digests(body)
        state.by_key[digest.hex()] += 1
        tokens = prompt_tokens(body)
        now = time.monotonic()
        limited = self._check_quota(now, tokens)
        if limited is not None:
            state.faults["quota"] += 1
            return limited
        fault = None
        if any(getattr(opts, f"rate_{name}") for name in FIRST_SIGHT) and cdigest not in state.seen_content:
            state.seen_content.add(cdigest)
            fault = transient_fault(opts, cdigest)
            if fault is not None:
                state.faults[fault] += 1
            if fault in _REFUSALS:
                return error(*_REFUSALS[fault], _retry_after(opts.retry_after) if fault == "429" else None,
                             echo=echo)
            if fault == "hang":
                await asyncio.sleep(opts.hang_seconds)
        if opts.latency_ms:
            await asyncio.sleep(opts.latency_ms / 1000)
        payload = self.completion(body, digest, tokens)
        if fault == "html":
            return web.Response(body=_HTML, content_type="text/html")
        if fault in ("empty_body", "cut_envelope"):  # a 200 whose body is no (whole) completion
            return web.Response(body=payload[: len(payload) // 2 if fault == "cut_envelope" else 0],
                                content_type=_JSON)
        return web.Response(body=payload, content_type=_JSON, headers=self._quota_headers(now))

    def completion(self, body: dict[str, Any], digest: bytes, prompt_tokens: int) -> bytes:
        """The chat completion for `body` (request digest `digest`), content faults applied."""
        opts, state = self.options, self.state
        faults = content_faults(opts, digest)
        rng = random.Random(int.from_bytes(digest, "big"))
        text = write_text(read_request(body), rng, faults, opts.rate_repeat_task)
        finish = "length" if "length" in faults else "stop"
        for name in faults:
            state.faults[name] += 1
        completion_tokens = _tokens(text)
        if state.tpm is not None:
            state.tpm.spend(time.monotonic(), prompt_tokens + completion_tokens)
        hexd = digest.hex()
        model = body.get("model") or "synthgen-fake"
        usage = ""
        if opts.usage:
            total = prompt_tokens + completion_tokens
            usage = (f',"usage":{{"prompt_tokens":{prompt_tokens},"completion_tokens":'
                     f'{completion_tokens},"total_tokens":{total}}}')
        # a template, not json.dumps of a dict: this runs on every request and costs a third
        return (f'{{"id":"chatcmpl-{hexd[:24]}","object":"chat.completion",'
                f'"created":{_CREATED_BASE + int(hexd[:5], 16)},"model":{_ENCODE(model)},'
                f'"system_fingerprint":"fp_synthgen_fake","choices":[{{"index":0,'
                f'"finish_reason":"{finish}","logprobs":null,"message":{{"role":"assistant",'
                f'"content":{_ENCODE(text)}}}}}]{usage}}}').encode()

    def _check_quota(self, now: float, prompt_tokens: int) -> web.Response | None:
        """A 429 if the request or token quota is spent; otherwise take a request slot."""
        rpm, tpm = self.state.rpm, self.state.tpm
        wait = max(rpm.wait_time(now, 1) if rpm else 0.0, tpm.wait_time(now, prompt_tokens) if tpm else 0.0)
        if wait > 0:
            return error(429, f"Rate limit reached; retry in {_seconds(wait)}s.", "rate_limit_error",
                         "rate_limit_exceeded", self._quota_headers(now) | _retry_after(wait))
        if rpm is not None:
            rpm.spend(now, 1)
        return None

    def _quota_headers(self, now: float) -> dict[str, str]:
        headers: dict[str, str] = {}
        for window, unit in ((self.state.rpm, "requests"), (self.state.tpm, "tokens")):
            if window is not None:
                headers[f"x-ratelimit-limit-{unit}"] = _count(window.limit)
                headers[f"x-ratelimit-remaining-{unit}"] = _count(window.remaining())
                headers[f"x-ratelimit-reset-{unit}"] = _duration(window.reset_in(now))
        return headers
