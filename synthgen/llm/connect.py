"""Resolve where requests go (config, OPENAI_* environment, or the local backend) and open a client.
The API key, from the variable the config names, is registered with `redact`: no text a server or
an exception echoes carries it into the run directory, a log or an error message.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import urlparse

import httpx2

from ..config import RunConfig
from ..errors import EndpointError
from ..redact import redact, register_secret
from .client import LLMClient
from .http_client import is_loopback
from .local_server import RECOMMENDED_CONCURRENCY, LocalServer, response_format_for

OPENAI_URL = "https://api.openai.com/v1"


def check_url(url: str, source: str = "llm.base_url") -> None:
    """Refuse, in one line, a URL the HTTP stack would choke on or that carries a password; `source`
    names where it came from (the config, or OPENAI_BASE_URL)."""
    try:
        parts = urlparse(url)
        parts.port  # noqa: B018 - parsing the port is what raises for "host:99999" or "[::1"
        httpx2.URL(url)  # the SDK's parser: it refuses a host such as 10.0.0.256 (a traceback otherwise)
    except (ValueError, httpx2.InvalidURL) as exc:
        raise EndpointError(f"{source} '{redact(url)}' is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(f"{source} '{redact(url)}' is not an http(s) URL")
    if parts.query or parts.fragment:  # the SDK would post to the URL itself, not to .../chat/completions
        raise EndpointError(f"{source} '{redact(url)}' carries a query (?...) that requests cannot "
                            "keep; give the path only (Azure: https://<resource>.openai.azure.com/openai/v1/)")
    if parts.username is not None or parts.password is not None:
        raise EndpointError(f"{source} '{redact(url)}' carries user:password@; put the key in "
                            "the environment variable that llm.api_key_env names instead")


def resolve_endpoint(cfg: RunConfig) -> tuple[list[str], str]:
    urls = cfg.llm.base_urls() or [os.environ.get("OPENAI_BASE_URL") or OPENAI_URL]
    for url in urls:
        check_url(url, "llm.base_url" if cfg.llm.base_urls() else "OPENAI_BASE_URL")
    key = env_key(cfg)
    if not (key.isascii() and key.isprintable()):  # the header would fail in the HTTP stack
        raise EndpointError(f"{cfg.llm.api_key_env} holds a character an API key cannot (non-ASCII, e.g. "
                            "a pasted quote, or a control character)")
    if not key:
        if all(is_loopback(u) for u in urls):
            key = "no-key"  # local servers (vLLM, llama.cpp, Ollama, the scripted server) need none
        else:
            raise EndpointError(
                f"no API key: set {cfg.llm.api_key_env} (or llm.api_key_env) for {urls[0]}")
    return urls, key


def env_key(cfg: RunConfig) -> str:
    """The key `llm.api_key_env` names (a secret file's trailing newline stripped), registered with
    `redact` at once: batch-export and batch-ingest send nothing, but the engine that answered may
    echo it, and online runs mask it in everything a server says."""
    key = os.environ.get(cfg.llm.api_key_env, "").strip()
    register_secret(key)
    return key


@asynccontextmanager
async def connect(cfg: RunConfig, concurrency: int | None = None, offline: bool = False):
    """A client for the run's endpoint. `offline` (batch export): no key is needed."""
    llm = cfg.llm if concurrency is None else cfg.llm.model_copy(update={"concurrency": concurrency})
    async with AsyncExitStack() as stack:
        if llm.backend == "local":
            server = stack.enter_context(LocalServer(llm.model_path, n_ctx=llm.n_ctx))
            if concurrency is None:
                llm = llm.model_copy(update={"concurrency": min(llm.concurrency, RECOMMENDED_CONCURRENCY)})
            client = LLMClient(llm, [server.base_url], "local", model_override=server.model,
                               response_format=lambda schema, name, mode: response_format_for(
                                   schema, name, cfg.brainstorm.min_task_words))
        else:
            if offline:
                env_key(cfg)
            urls, key = (llm.base_urls() or [OPENAI_URL], "offline") if offline else resolve_endpoint(cfg)
            for url in urls if offline else ():  # batch-export sends nothing, but its client parses them
                check_url(url)
            client = LLMClient(llm, urls, key)
        stack.push_async_callback(client.aclose)
        yield client
