"""The one place synthgen talks to an LLM: the openai SDK, one retry layer, structured output.

- The SDK's own retries are off (`max_retries=0`); `LLMClient.chat` retries 408/409/429/5xx,
  timeouts and connection errors, honouring `Retry-After` / `retry-after-ms`, for at most
  `llm.max_attempts` attempts. Two stacked retry layers would multiply the attempts. (A plain
  loop, not tenacity: its async iterator machinery cost ~5% of the client's CPU per request.)
- Structured output: `auto` tries a JSON-schema `response_format`, falls back to `json_object`,
  then to none, when a server answers 400 to it; the fallback is remembered for the run.
- Errors that retrying cannot fix (bad key, unknown model) raise `FatalLLMError` so the run stops
  at once instead of burning through every item.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Callable

import openai

from ..config import LLMConfig
from ..errors import FatalLLMError
from .concurrency import AdaptiveConcurrency
from .fastpath import FastAioHttpClient, post_chat, tls_context
from .ratelimit import RateLimiter
from .tokens import count_message_tokens, count_tokens

_MODES = ("json_schema", "json_object", "off")


class RequestFailed(RuntimeError):
    """One request kept failing after every retry.

    `permanent`: the server refused this very request (HTTP 400, 413, 422): asking again cannot
    help, so the item is rejected. Otherwise (timeouts, 5xx, connection trouble, 429) the run
    stops and a rerun asks again.
    """

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


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


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` or `Retry-After`."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class _Wait:
    """Retry-After when the server gives one, else capped exponential backoff with jitter."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, max_retry_after: float = 300.0):
        self.base, self.cap, self.max_retry_after = base, cap, max_retry_after

    def delay(self, exc: BaseException | None, attempt_number: int) -> float:
        """Seconds to wait after failed attempt number `attempt_number` (1-based)."""
        told = retry_after_seconds(exc) if exc else None
        if told is not None:
            return min(told, self.max_retry_after)
        return min(self.cap, self.base * 2 ** (attempt_number - 1)) * (0.5 + random.random() / 2)


def describe(exc: BaseException) -> str:
    """One line, never containing the API key (the SDK's messages do not; we add none)."""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {str(exc.message)[:200]}"
    if isinstance(exc, openai.APITimeoutError):
        cause = str(exc.__cause__ or "")
        if "Cannot connect" in cause or "Connect call failed" in cause:
            # the aiohttp transport reports a refused connection as a connect timeout
            return "connection error: " + cause.split(" [")[0].replace("Cannot connect", "cannot connect")
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {exc.__cause__ or exc}"[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


class LLMClient:
    def __init__(self, cfg: LLMConfig, base_urls: list[str], api_key: str,
                 response_format: Callable[[dict, str, str], dict | None] | None = None,
                 model_override: str | None = None):
        from .endpoints import EndpointPool

        self.cfg = cfg
        self.model = model_override or cfg.model
        self.mode = "json_schema" if cfg.structured_output == "auto" else cfg.structured_output
        self._response_format = response_format or _openai_response_format
        self.pool = EndpointPool(base_urls)
        tls = tls_context(self.pool.urls)
        self.clients = {
            url: openai.AsyncOpenAI(api_key=api_key, base_url=url, max_retries=0,
                                    timeout=cfg.timeout_s, http_client=FastAioHttpClient(verify=tls))
            for url in self.pool.urls
        }
        self.on_retry: Callable[[BaseException], None] | None = None
        self.before_send: Callable[[], None] | None = None
        # newer OpenAI models (o-series, gpt-5) refuse max_tokens: switched on their 400
        self._max_tokens_key = "max_tokens"
        self.succeeded = 0
        self.refused = 0
        self.max_concurrency = cfg.concurrency
        initial = cfg.concurrency
        self.limiter = AdaptiveConcurrency(initial, minimum=1, maximum=cfg.concurrency) \
            if cfg.adaptive_concurrency else AdaptiveConcurrency(initial, minimum=initial, maximum=initial)
        self.rate = RateLimiter(cfg.requests_per_minute, cfg.tokens_per_minute)
        self.rate_limited = 0  # 429 answers seen
        self.retries = 0
        self._wait = _Wait()

    def sdk(self) -> openai.AsyncOpenAI:
        """The SDK client of the first endpoint: batch mode's files and batches calls."""
        return self.clients[self.pool.urls[0]]

    @property
    def concurrency_limit(self) -> int:
        return self.limiter.limit

    @property
    def in_flight(self) -> int:
        return self.limiter.in_flight

    async def aclose(self) -> None:
        for c in self.clients.values():
            await c.close()

    def build_body(self, messages: list[dict], seed: int, schema: dict | None, schema_name: str) -> dict:
        body = {
            "model": self.model, "messages": messages, "temperature": self.cfg.temperature,
            "top_p": self.cfg.top_p, self._max_tokens_key: self.cfg.max_tokens, "seed": seed,
        }
        if schema is not None and self.mode != "off":
            rf = self._response_format(schema, schema_name, self.mode)
            if rf is not None:
                body["response_format"] = rf
        body.update(self.cfg.extra_body)
        return body

    async def chat(self, messages: list[dict], seed: int, schema: dict | None = None,
                   schema_name: str = "output", urgent: bool = False, before_send=None, on_answer=None) -> ChatResult:
        """One completion. `urgent`: the caller is asking again (e.g. after a truncated answer);
        it and every retry here queue ahead of first attempts for a place in the window."""
        self.before_send = before_send
        attempt = 0
        try:
            while True:
                attempt += 1
                try:
                    return await self._limited(messages, seed, schema, schema_name, urgent or attempt > 1, on_answer)
                except Exception as exc:
                    if not _is_transient(exc) or attempt >= self.cfg.max_attempts:
                        raise
                    self.retries += 1
                    if self.on_retry:
                        self.on_retry(exc)
                    await asyncio.sleep(self._wait.delay(exc, attempt))
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as exc:
            raise FatalLLMError(describe(exc)) from None
        except openai.APIStatusError as exc:
            if not _is_transient(exc) and self.succeeded == 0:
                self.refused += 1
                if self.refused >= 3:
                    # refused again and again before anything worked: the config is wrong
                    raise FatalLLMError(f"the endpoint refuses the requests ({describe(exc)})") from None
            raise RequestFailed(describe(exc), permanent=not _is_transient(exc)) from None
        except (openai.APIError, OSError) as exc:
            raise RequestFailed(describe(exc)) from None

    async def _limited(self, messages, seed, schema, schema_name, urgent: bool = False, on_answer=None) -> ChatResult:
        """One attempt under the concurrency window and the requests/tokens per minute budget."""
        async with self.limiter.slot(urgent) as slot:
            if self.before_send is not None:
                self.before_send()  # budgets are checked when a request is really about to go
            estimate = 0
            if self.rate.tpm is not None:
                estimate = count_message_tokens(messages, self.model) + self.cfg.max_tokens
            reservation = await self.rate.acquire(estimate)
            try:
                result = await self._once(messages, seed, schema, schema_name)
            except openai.RateLimitError as exc:
                self.rate_limited += 1
                slot.rate_limited()
                reservation.settle(0)
                wait = retry_after_seconds(exc)
                if wait:
                    self.rate.pause_until(time.monotonic() + min(wait, 300.0))
                raise
            except BaseException:
                reservation.settle(0)
                raise
            reservation.settle(result.prompt_tokens + result.completion_tokens)
            slot.success()
            if on_answer is not None:
                await on_answer(result)  # journaled while it still holds its place
            return result

    async def _once(self, messages, seed, schema, schema_name) -> ChatResult:
        url = self.pool.pick()
        try:
            while True:
                mode = self.mode
                body = self.build_body(messages, seed, schema, schema_name)
                started = time.perf_counter()
                try:
                    raw = await post_chat(self.clients[url], body, self.cfg.timeout_s)
                except openai.BadRequestError as exc:
                    # another request may have stepped down already while this one was in flight
                    if "response_format" in body and (mode != self.mode or self._downgrade(exc)):
                        continue
                    if self._max_tokens_key in body and "max_completion_tokens" in str(exc.message) \
                            and self._max_tokens_key == "max_tokens":
                        self._max_tokens_key = "max_completion_tokens"
                        continue
                    if self._max_tokens_key not in body:  # another request switched it meanwhile
                        continue
                    raise
                except (openai.APIConnectionError, openai.InternalServerError):
                    if len(self.clients) > 1:
                        self.pool.mark_failed(url)
                    raise
                break
        finally:
            self.pool.release(url)
        self.pool.mark_ok(url)
        self.succeeded += 1
        self.rate.update_from_headers(raw.headers)
        return self._result(raw.data, messages, time.perf_counter() - started, url)

    def _downgrade(self, exc: openai.BadRequestError) -> bool:
        """Step down json_schema -> json_object -> off when the server rejects the format."""
        if self.cfg.structured_output != "auto":
            return False
        text = str(exc.message).lower()
        if not any(w in text for w in ("response_format", "json_schema", "schema", "json", "format")):
            return False
        i = _MODES.index(self.mode)
        if i + 1 >= len(_MODES):
            return False
        self.mode = _MODES[i + 1]
        return True

    def _result(self, data: dict, messages: list[dict], latency: float, url: str) -> ChatResult:
        choice = (data.get("choices") or [{}])[0]
        content = (choice.get("message") or {}).get("content")
        usage = data.get("usage") or {}
        p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
        estimated = p is None or c is None
        if p is None:
            p = count_message_tokens(messages, self.model)
        if c is None:
            c = count_tokens(content or "", self.model)
        return ChatResult(content, choice.get("finish_reason"), int(p), int(c), estimated,
                          latency, data.get("model"), url)


def _openai_response_format(schema: dict, name: str, mode: str) -> dict | None:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
    if mode == "json_object":
        return {"type": "json_object"}
    return None
