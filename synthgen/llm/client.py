"""The one place synthgen talks to an LLM: one documented SDK call per attempt (`post_chat`,
`max_retries=0`, over `openai.DefaultAioHttpClient`), retried per `retry.py`, paced per `ratelimit.py`.
A 400 about `response_format` (with `auto`) or `max_tokens` changes that parameter for the run.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import httpx2
import openai
import orjson
from tenacity import RetryCallState

from ..config import LLMConfig
from ..errors import FatalLLMError
from ..redact import drop_secrets
from .endpoints import EndpointPool
from .http_client import http_client
from .ratelimit import MAX_WAIT_S, AdaptiveConcurrency, RateLimiter
from .retry import (RAW_HTTP_ERRORS, AnswerTooLarge, BadAnswer, RequestTimeout, describe, headers_of, is_fatal,
                    is_transient, retry_after_seconds, retrying)
from .tokens import count_message_tokens, count_tokens

_MODES = ("json_schema", "json_object", "off")
_SURROGATE = re.compile("[\ud800-\udfff]")


class RequestFailed(RuntimeError):
    """One request could not be answered. `permanent` (a 4xx, an answer too large): the item is
    rejected with `reason`; otherwise the run stops and a rerun asks again."""

    def __init__(self, message: str, permanent: bool = False, reason: str = "request_failed"):
        super().__init__(message)
        self.permanent = permanent
        self.reason = reason


@dataclass(frozen=True)
class ChatResult:
    content: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    usage_estimated: bool
    latency_s: float
    model: str | None
    endpoint: str


async def post_chat(client: openai.AsyncOpenAI, body: dict[str, Any], timeout: float,
                    max_bytes: int) -> tuple[dict[str, str], dict[str, Any]]:
    """POST /chat/completions: (lower-case headers, decoded body). `stream=True` hands back the body
    unread, so it is taken in chunks up to `max_bytes`: memory never follows what a server sends."""
    response = await client.post("/chat/completions", cast_to=httpx2.Response, body=body,
                                 options={"timeout": timeout, "max_retries": 0}, stream=True)
    try:
        headers = {k.lower(): v for k, v in response.headers.items()}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise AnswerTooLarge(f"answer of {declared} bytes is over llm.max_response_bytes ({max_bytes})")
        parts: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise AnswerTooLarge(f"answer over llm.max_response_bytes ({max_bytes} bytes); "
                                     "not read further")
            parts.append(chunk)
    finally:
        await response.aclose()
    raw = b"".join(parts)
    data = decode_body(raw.removeprefix(b"\xef\xbb\xbf"))  # a BOM (.NET servers), as the SDK allows
    if not is_completion(data):
        kind = headers.get("content-type", "no content type").split(";")[0]
        what = f"{len(raw)} bytes of {kind} that are not a chat completion"
        if not raw.strip():
            what = "an empty body"
        error = data.get("error") if isinstance(data, dict) else None
        if error:  # some proxies (OpenRouter, LiteLLM) send an upstream failure as a 200
            what = f"an error in its body: {error.get('message', error) if isinstance(error, dict) else error}"
        raise BadAnswer(f"HTTP {response.status_code} with {what}", headers)
    return headers, data


def decode_body(raw: bytes) -> object:
    """The JSON of a body, or None. Bytes that are not UTF-8 or a lone "\\ud800" escape (a token
    cut in half) in one string are read as U+FFFD, as the SDK's `response.text` does: refused, the
    same answer came back on every retry (same seed) and the run stopped there for good."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        text = json.dumps(json.loads(raw.decode("utf-8", "replace")), ensure_ascii=False, allow_nan=False)
        return orjson.loads(_SURROGATE.sub("\ufffd", text))
    except (ValueError, RecursionError):  # not JSON (NaN and ints past 64 bits included)
        return None


def is_completion(data: object) -> bool:
    """A chat completion's shape: a `choices` list whose first entry is an object."""
    choices = data.get("choices") if isinstance(data, dict) else None
    return isinstance(choices, list) and bool(choices) and isinstance(choices[0], dict)


def _field(data: dict, key: str) -> dict:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def read_completion(data: dict, model: str, latency_s: float, endpoint: str,
                    messages: list[dict] | None = None) -> ChatResult:
    """The first choice of a completion that `is_completion` (online or from a batch file). Usage a
    server left out or garbled is counted here and marked estimated; the prompt's only when
    `messages` are at hand. A message that is not text (or text parts) reads as no content (asked again)."""
    choice = data["choices"][0]
    message = _field(choice, "message")
    # a refusal (OpenAI's structured outputs) in place of the answer: kept, as its reject's raw text
    content = message.get("content") or message.get("refusal")
    if isinstance(content, list):  # content parts (Mistral's reasoning models: thinking, then text)
        content = "".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text"
                          and isinstance(p.get("text"), str)) or None
    content = drop_secrets(content) if isinstance(content, str) else None  # a server echoing the key
    usage = _field(data, "usage")
    # a count past 2**32 is garbled too (and one past 2**63 would not fit the journal's INTEGER)
    p, c = (n if isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**32 else None
            for n in (usage.get("prompt_tokens"), usage.get("completion_tokens")))
    estimated = p is None or c is None
    if p is None:
        p = count_message_tokens(messages, model) if messages else 0
    if c is None:
        c = count_tokens(content or "", model)
    finish, served_by = choice.get("finish_reason"), data.get("model")
    return ChatResult(content, finish if isinstance(finish, str) else None, p, c, estimated, latency_s,
                      served_by if isinstance(served_by, str) else None, endpoint)


class LLMClient:
    def __init__(self, cfg: LLMConfig, base_urls: list[str], api_key: str,
                 response_format: Callable[[dict, str, str], dict] | None = None,
                 model_override: str | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.cfg = cfg
        self.model = model_override or cfg.model
        self.mode = "json_schema" if cfg.structured_output == "auto" else cfg.structured_output
        self._response_format = response_format or _openai_response_format
        self.pool = EndpointPool(base_urls)
        self.clients = {
            url: openai.AsyncOpenAI(api_key=api_key, base_url=url, max_retries=0, timeout=cfg.timeout_s,
                                    http_client=http_client(cfg, url))
            for url in self.pool.urls
        }
        self._max_tokens_key = "max_tokens"
        self.succeeded = self.refused = 0  # answers; refusals before the first answer
        self.max_concurrency = cfg.concurrency
        low = 1 if cfg.adaptive_concurrency else cfg.concurrency
        self.window = AdaptiveConcurrency(cfg.concurrency, minimum=low, maximum=cfg.concurrency)
        self.rate = RateLimiter(cfg.requests_per_minute, cfg.tokens_per_minute)
        self.rate_limited = self.retries = 0  # 429 answers seen, attempts asked again
        self._sleep = sleep

    @property
    def concurrency_limit(self) -> int:
        return self.window.limit

    @property
    def in_flight(self) -> int:
        return self.window.in_flight

    async def aclose(self) -> None:
        for c in self.clients.values():
            await c.close()

    def build_body(self, messages: list[dict], seed: int, schema: dict | None, schema_name: str) -> dict:
        body = {
            "model": self.model, "messages": messages, "temperature": self.cfg.temperature,
            "top_p": self.cfg.top_p, self._max_tokens_key: self.cfg.max_tokens, "seed": seed,
        }
        if schema is not None and self.mode != "off":
            body["response_format"] = self._response_format(schema, schema_name, self.mode)
        body.update(self.cfg.extra_body)
        return body

    async def chat(self, messages: list[dict], seed: int, schema: dict | None = None,
                   schema_name: str = "output", urgent: bool = False,
                   before_send: Callable[[], None] | None = None,
                   on_answer: Callable[[ChatResult], Awaitable[None]] | None = None) -> ChatResult:
        """One completion. `urgent` (asking again) and every retry queue ahead of first attempts.
        `before_send()` runs right before each attempt (a budget check). `on_answer` is awaited
        while the answer still holds its window place (the engine journals it), so a kill costs
        at most the requests in flight."""
        tried = 0
        try:
            async for attempt in retrying(self.cfg.max_attempts, sleep=self._sleep,
                                          before_sleep=self._count_retry):
                with attempt:
                    tried = attempt.retry_state.attempt_number
                    return await self._attempt(messages, seed, schema, schema_name,
                                               urgent or tried > 1, before_send, on_answer)
        except Exception as exc:
            failure = self._failure(exc, tried)
            if failure is None:
                raise
            raise failure from None

    def _count_retry(self, state: RetryCallState) -> None:
        self.retries += 1

    def _failure(self, exc: Exception, tried: int) -> Exception | None:
        """The error the caller sees for `exc`, or None to let it through."""
        if is_fatal(exc):
            return FatalLLMError(describe(exc))
        if isinstance(exc, AnswerTooLarge):
            return RequestFailed(describe(exc), permanent=True, reason="response_too_large")
        if isinstance(exc, openai.APIStatusError) and not is_transient(exc):
            if self.succeeded == 0 and exc.code != "content_filter":  # Azure's filter: this prompt only
                self.refused += 1
                if self.refused >= 3:
                    # refused again and again before anything worked: the config is wrong
                    return FatalLLMError(f"{self.refused} refused before any worked; the last: {describe(exc)}")
            return RequestFailed(describe(exc), permanent=True)
        if is_transient(exc) or isinstance(exc, (openai.APIError, OSError)):
            times = "once" if tried == 1 else f"{tried} times"
            return RequestFailed(f"{describe(exc)} (tried {times})")
        return None

    async def _attempt(self, messages, seed, schema, schema_name, urgent: bool,
                       before_send: Callable[[], None] | None, on_answer) -> ChatResult:
        async with self.window.slot(urgent) as epoch:
            if before_send is not None:
                before_send()
            estimate = 0
            if self.rate.tpm is not None:
                estimate = count_message_tokens(messages, self.model) + self.cfg.max_tokens
            reserved = await self.rate.acquire(estimate)
            used = 0
            try:
                async with asyncio.timeout(self.cfg.timeout_s):
                    result = await self._once(messages, seed, schema, schema_name)
                used = result.prompt_tokens + result.completion_tokens
            except TimeoutError:
                raise RequestTimeout(
                    f"no complete answer within timeout_s ({self.cfg.timeout_s:g} s)") from None
            except openai.RateLimitError as exc:
                self.rate_limited += 1
                headers = headers_of(exc)
                self.rate.update_from_headers(headers)
                wait = retry_after_seconds(headers)
                if self.window.rate_limited(epoch, headers) and wait:
                    self.rate.pause_until(time.monotonic() + min(wait, MAX_WAIT_S))
                raise
            finally:
                self.rate.settle(reserved, used)
            self.window.success(epoch)
            if on_answer is not None:
                await on_answer(result)
            return result

    async def _once(self, messages, seed, schema, schema_name) -> ChatResult:
        url = self.pool.pick()
        try:
            while True:
                mode = self.mode
                body = self.build_body(messages, seed, schema, schema_name)
                started = time.perf_counter()
                try:
                    headers, data = await post_chat(self.clients[url], body, self.cfg.timeout_s,
                                                    self.cfg.max_response_bytes)
                    break
                except openai.BadRequestError as exc:
                    if not self._adapted(exc, body, mode):
                        raise
                except (openai.APIConnectionError, openai.InternalServerError, BadAnswer,
                        *RAW_HTTP_ERRORS, asyncio.CancelledError):  # cancelled: timeout_s ran out
                    self.pool.mark_failed(url)  # harmless with one server: it is picked anyway
                    raise
        finally:
            self.pool.release(url)
        self.pool.mark_ok(url)
        self.succeeded += 1
        self.rate.update_from_headers(headers)
        return read_completion(data, self.model, time.perf_counter() - started, url, messages)

    def _adapted(self, exc: openai.BadRequestError, body: dict, mode: str) -> bool:
        """True if a 400 was about a parameter we can change (or another request changed already):
        with `auto`, a refused format steps down json_schema -> json_object -> off."""
        text = str(exc.message)
        if "response_format" in body:
            if mode != self.mode:
                return True
            if self.cfg.structured_output == "auto" and mode != "off" and any(
                    w in text.lower() for w in ("response_format", "schema", "json", "format")):
                self.mode = _MODES[_MODES.index(mode) + 1]
                return True
        if self._max_tokens_key not in body:  # another request switched it meanwhile
            return True
        # OpenAI's "'max_tokens' is not supported ... Use 'max_completion_tokens'", not vLLM's
        # "'max_tokens' or 'max_completion_tokens' is too large" (a prompt over the context)
        if "max_completion_tokens" in text and "support" in text.lower() and self._max_tokens_key == "max_tokens":
            self._max_tokens_key = "max_completion_tokens"
            return True
        return False


def _openai_response_format(schema: dict, name: str, mode: str) -> dict:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
    return {"type": "json_object"}
