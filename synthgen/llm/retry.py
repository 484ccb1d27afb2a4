"""Which failures are worth another attempt, how long to wait, and what to tell the user. One retry
policy (`retrying`: tenacity, the SDK's own retries off), up to `llm.max_attempts`.

- Transient: 408, 409, 429, 5xx, timeouts, dropped connections (a body cut off or not decodable
  included: the SDK leaves those raw `httpx2` errors), a 200 that is no chat completion.
- Permanent (the item is rejected): any other 4xx, an answer over `llm.max_response_bytes`.
- Fatal (the run stops): a refused key, an unknown model, missing permissions, TLS that fails, a
  proxy asking for credentials (407), a redirect loop, a 429 that says the account has no credit
  left (`insufficient_quota`).
"""

from __future__ import annotations

import email.utils
import random
import ssl
import time
from typing import Callable

import aiohttp
import httpx2
import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from ..redact import redact


class BadAnswer(Exception):
    """A 2xx whose body is not a chat completion (HTML page, empty body, cut-off envelope)."""

    def __init__(self, why: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(why)
        self.headers = headers or {}


class AnswerTooLarge(Exception):
    """The answer went past `llm.max_response_bytes`; it was not read further."""


class RequestTimeout(Exception):
    """The whole request (connect, send, every byte of the answer) took over `timeout_s`."""


_NOT_TLS = ("wrong_version", "wrong version", "record layer", "http_request", "unknown_protocol",
            "packet_length", "packet length")


def tls_failure(exc: BaseException) -> str | None:
    """Why a connection failed TLS in a way no retry can fix, or None."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and all(cur is not e for e in chain):
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    # the innermost: aiohttp's wrapper is one too, without the verify_message of the ssl error it wraps
    for cur in reversed(chain):
        if isinstance(cur, ssl.SSLCertVerificationError):
            why = getattr(cur, "verify_message", None) or getattr(cur, "reason", None) or cur
            return f"TLS certificate not trusted ({why})"
    for cur in chain:
        if isinstance(cur, ssl.SSLError) and not isinstance(
                cur, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)):
            reason = str(getattr(cur, "reason", None) or cur)
            if any(w in reason.lower() for w in _NOT_TLS):
                return "the server does not speak TLS (is the URL meant to be http://?)"
            return f"TLS handshake failed ({reason})"
    return None


# errors the SDK lets through unwrapped: httpx2's from reading a body, aiohttp's from a reply that
# is not HTTP (a garbled status line, too many headers)
RAW_HTTP_ERRORS = (httpx2.RequestError, aiohttp.ClientError)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (BadAnswer, RequestTimeout, *RAW_HTTP_ERRORS)):
        return True
    if is_fatal(exc):
        return False
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError)  # APITimeoutError included


def is_fatal(exc: BaseException) -> bool:
    """Failures that every later request would meet as well."""
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)):
        return True
    if isinstance(exc, openai.APIStatusError) and exc.status_code == 407:  # a proxy wants credentials
        return True
    if isinstance(exc, openai.RateLimitError) and exc.code == "insufficient_quota":  # no credit left
        return True
    return isinstance(exc, openai.APIConnectionError) and (  # a redirect loop, or TLS that fails
        isinstance(exc.__cause__, httpx2.TooManyRedirects) or tls_failure(exc) is not None)


def headers_of(exc: BaseException) -> dict[str, str]:
    """The answer's headers as lower-case names, when the failure came with an answer."""
    if isinstance(exc, BadAnswer):
        return exc.headers
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return {str(k).lower(): str(v) for k, v in headers.items()} if headers else {}


def retry_after_seconds(headers: dict[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` or `Retry-After`."""
    for name, scale in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            return max(0.0, float(headers[name]) / scale)
        except (KeyError, ValueError):
            pass
    try:
        parsed = email.utils.parsedate_to_datetime(headers.get("retry-after", ""))
    except (TypeError, ValueError):  # no header, or not a date
        return None
    return max(0.0, parsed.timestamp() - now())


class Backoff:
    """tenacity `wait`: Retry-After when the server gives one, else capped exponential + jitter."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, max_retry_after: float = 300.0) -> None:
        self.base, self.cap, self.max_retry_after = base, cap, max_retry_after

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        told = retry_after_seconds(headers_of(exc)) if exc else None
        if told is not None:
            return min(told, self.max_retry_after)
        return min(self.cap, self.base * 2 ** (state.attempt_number - 1)) * (0.5 + random.random() / 2)


def retrying(max_attempts: int, **options) -> AsyncRetrying:
    """Transient failures asked again, up to `max_attempts` in all, waiting as `Backoff` says."""
    return AsyncRetrying(stop=stop_after_attempt(max_attempts), wait=Backoff(),
                         retry=retry_if_exception(is_transient), reraise=True, **options)


def describe(exc: BaseException) -> str:
    """One line about a failure, with the key and anything token-shaped masked."""
    if isinstance(exc, openai.APIStatusError):
        said = str(exc.message)
        if said == f"Error code: {exc.status_code}" and exc.body:  # no `message` field: say the body
            said += f" - {exc.body}"
        # a base_url without its /v1 is a 404 too: the URL asked shows which it is
        where = f" from {exc.request.url}" if exc.status_code == 404 else ""
        text = f"HTTP {exc.status_code}{where}: {said}"
    elif isinstance(exc, (BadAnswer, AnswerTooLarge, RequestTimeout)):
        text = str(exc)
    elif isinstance(exc, openai.APIConnectionError) and tls_failure(exc):
        text = str(tls_failure(exc))
    elif isinstance(exc, openai.APITimeoutError):
        cause = exc.__cause__
        if cause is None or isinstance(cause.__cause__, TimeoutError):
            text = "timeout"
        else:  # the aiohttp transport reports a refused, reset or dropped connection as a connect timeout
            text = "connection error: " + str(cause).split(" [")[0].replace("Cannot connect", "cannot connect")
    elif isinstance(exc, aiohttp.ClientResponseError):  # its status is aiohttp's, not the server's
        text = f"the reply is not valid HTTP ({exc.message})"
    elif isinstance(exc, (openai.APIConnectionError, *RAW_HTTP_ERRORS)):
        text = f"connection error: {exc.__cause__ or exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    # one line whatever the server's message held; masked before it is cut, so no part of a key is left
    return " ".join(redact(text).split())[:300]
