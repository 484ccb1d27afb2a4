"""One endpoint's HTTP client: the SDK's `DefaultAioHttpClient` with what synthgen needs of it, as
response hooks (public httpx API, run before any body is read) and proxy mounts."""

from __future__ import annotations

import os
from urllib.parse import urlparse

import httpx2
import openai

from ..config import LLMConfig
from ..errors import EndpointError, FatalLLMError
from ..redact import redact
from .retry import AnswerTooLarge


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class CappedStream(httpx2.AsyncByteStream):
    """An error answer's body, read no further than `max_bytes`: the SDK reads an error's body
    whole to build its exception, and a server streaming an endless one took the run to 9 GB."""

    def __init__(self, stream: httpx2.AsyncByteStream, max_bytes: int, status: int) -> None:
        self.stream, self.max_bytes, self.status = stream, max_bytes, status

    async def __aiter__(self):
        size = 0
        async for chunk in self.stream:
            size += len(chunk)
            if size > self.max_bytes:
                raise AnswerTooLarge(f"HTTP {self.status} answer over llm.max_response_bytes "
                                     f"({self.max_bytes} bytes); not read further")
            yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()


def capping_error_bodies(max_bytes: int):
    """An httpx response hook (run before any body is read) that caps the body of a 4xx or 5xx."""
    async def cap(response: httpx2.Response) -> None:
        if response.status_code >= 400:
            response.stream = CappedStream(response.stream, max_bytes, response.status_code)
    return cap


async def refuse_post_redirect(response: httpx2.Response) -> None:
    """A response hook: a 301/302/303 turns the POST into a GET without body (as browsers do), which
    the server then refuses with a 404 or 405 that does not say why. Name the redirect instead."""
    if response.status_code in (301, 302, 303) and response.request.method == "POST":
        raise FatalLLMError(redact(f"HTTP {response.status_code}: {response.url} redirects to "
                                   f"{response.headers.get('location')}, and a redirected POST turns into a "
                                   "GET; set llm.base_url to the new address"))


def http_client(cfg: LLMConfig, url: str) -> openai.DefaultAioHttpClient:
    """One endpoint's HTTP client: error bodies capped; a loopback URL (vLLM, Ollama...) never goes
    through HTTP(S)_PROXY, whose loopback is not ours."""
    direct = {f"all://{urlparse(url).netloc}": None} if is_loopback(url) else None
    hooks = [capping_error_bodies(cfg.max_response_bytes), refuse_post_redirect]
    try:
        return openai.DefaultAioHttpClient(timeout=cfg.timeout_s, mounts=direct,
                                           event_hooks={"response": hooks})
    except OSError as exc:  # the transport loads SSL_CERT_FILE up front, even for http:// URLs
        raise EndpointError(f"SSL_CERT_FILE={os.environ.get('SSL_CERT_FILE')} cannot be loaded as "
                            f"CA certificates ({exc.strerror or exc}); fix or unset it") from None
    except ValueError as exc:  # a proxy variable of a scheme httpx lacks (a typo, socks4://)
        raise EndpointError(f"{exc} (from HTTP_PROXY, HTTPS_PROXY or ALL_PROXY)") from None
