"""Chat completions through the real openai SDK client, minus the work a pipeline does not need.

At concurrency 64 the client's CPU per request, not the network, sets the pace (measure it with
`python bench/sdk_overhead.py`). What costs, and what we do about it:

* `chat.completions.create` checks the request against TypedDict annotations and builds pydantic
  models from the response (~2/3 of its CPU). `post_chat` goes through the SDK's generic
  `client.request(..., cast_to=httpx2.Response)` instead: same base URL, auth hooks, default
  headers, timeout and status -> exception mapping; the raw body is decoded once with `json.loads`.
  Its request options are copied from a template rather than built by pydantic per call.
* httpx2 parses URLs and normalises headers several times per request and wraps each aiohttp
  response in its auth/redirect/stream layers. `FastAioHttpClient` is the SDK's own aiohttp
  client with a short road for the common case (buffered, no custom auth, proxy or hooks); every
  other case takes the inherited road, so only speed differs.
* Even that road costs ~1 ms of CPU per request, three times a bare aiohttp call, and at 64 in
  flight it was the largest single cost of a run. So for the plain case (an exact
  `openai.AsyncOpenAI` with a static key on a `FastAioHttpClient`, no proxy, hooks, provider or
  workload identity) `post_chat` asks the SDK once to build the request it would send, keeps its
  URL and headers (auth, user agent, x-stainless-*), and then posts each body through the SDK
  transport's own aiohttp session. Non-2xx answers still become the SDK's exceptions through
  `client._make_status_error_from_response`, and transport errors its APITimeoutError /
  APIConnectionError. The route is rebuilt if the client's base URL, key or timeout changes.
* aiohttp's own request machinery was then the largest part left (~0.45 ms per call, against
  ~0.19 ms for the bytes themselves), so the route sends the SDK's request over its own
  keep-alive HTTP/1.1 connections (`wire.py`), with the transport's TLS context and timeouts.
  A transport with a Unix socket, a local address or socket options keeps aiohttp.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import ssl
import time
import weakref
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx2
import openai

from .wire import Answer, WireError, WirePool, WireTimeout

try:
    # The SDK's aiohttp transport imports httpcore2 (and trio, where installed) when the first
    # client is made: ~0.1-0.2 s inside the run's first requests. Importing it with this module
    # makes it start-up, like every other import.
    import httpcore2  # noqa: F401
except ImportError:  # pragma: no cover - depends on the SDK release
    pass

try:  # private SDK names: if a release moves them we lose speed, not function
    from openai._models import FinalRequestOptions

    # the options `chat.completions.create` sends, minus its typing; max_retries=0: one retry layer
    _CHAT_OPTIONS: Any = FinalRequestOptions.construct(
        method="post", url="/chat/completions", files=None, security={"bearer_auth": True}, max_retries=0
    )
except Exception:  # pragma: no cover - depends on the SDK release
    _CHAT_OPTIONS = None
try:
    from httpx2._client import ClientState, UseClientDefault
    from openai._vendor.httpx_aiohttp.transport import AiohttpTransport, map_aiohttp_exceptions

    FAST_TRANSPORT = True
except ImportError:  # pragma: no cover - depends on the SDK release
    FAST_TRANSPORT = False

_HTTP11 = b"HTTP/1.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class RawChatResponse:
    status: int
    headers: dict[str, str]
    data: dict[str, Any]


async def post_chat(client: openai.AsyncOpenAI, body: dict[str, Any], timeout: float) -> RawChatResponse:
    """POST /chat/completions with `body` as given (no client-side schema checks).

    Errors are the SDK's own: RateLimitError and the other APIStatusError subclasses (headers,
    e.g. Retry-After, on `exc.response.headers`), APITimeoutError, APIConnectionError, and
    APIResponseValidationError for a 2xx body that is not a JSON object. The SDK's retries are
    off for this call whatever the client says: there is one retry layer, the caller's."""
    route = await _route_for(client, body, timeout) if _DIRECT else None
    if route is not None:
        direct = await route.post(client, body)
        if direct is not None:
            return direct
    if _CHAT_OPTIONS is not None:
        # what `client.post` would build, copied from a template: pydantic construction costs ~10x
        options = _options_for(client).model_copy(update={"json_data": body, "timeout": timeout})
        response = await client.request(httpx2.Response, options)
    else:  # pragma: no cover
        response = await client.post(
            "/chat/completions", body=body, cast_to=httpx2.Response,
            options={"timeout": timeout, "max_retries": 0, "security": {"bearer_auth": True}},
        )
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise openai.APIResponseValidationError(response, response.text, message="response body is not a JSON object")
    return RawChatResponse(response.status_code, dict(response.headers), data)


_templates: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()


def _options_for(client: openai.AsyncOpenAI) -> Any:
    base = client.base_url
    hit = _templates.get(client)
    if hit is not None and hit[0] is base:
        return hit[1]
    template = _CHAT_OPTIONS
    if type(client) is openai.AsyncOpenAI and getattr(client, "_provider_runtime", None) is None:
        # A plain client: an absolute URL spares the SDK two URL parses per call (~15% of its
        # work). Subclasses (Azure) and providers route on the relative path, so they keep it.
        template = _CHAT_OPTIONS.model_copy(update={"url": str(base).rstrip("/") + "/chat/completions"})
    _templates[client] = (base, template)
    return template


class _FastAioHttpClient(openai.DefaultAioHttpClient):  # type: ignore[misc, valid-type]
    """`openai.DefaultAioHttpClient` with a direct path for plain buffered requests.

    Pass it as `http_client=` to `openai.AsyncOpenAI`. Streaming, custom httpx auth (Azure AD,
    workload identity), event hooks, proxies and redirects all take the inherited path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wire_pools: list[WirePool] = []  # the direct route's connections (wire.py)

    async def aclose(self) -> None:
        pools, self._wire_pools = self._wire_pools, []
        for pool in pools:
            pool.close()
        await super().aclose()

    def build_request(  # type: ignore[override]
        self,
        method: str,
        url: httpx2.URL | str,
        *,
        content: Any = None,
        data: Any = None,
        files: Any = None,
        json: Any = None,
        params: Any = None,
        headers: Any = None,
        cookies: Any = None,
        timeout: Any = httpx2.USE_CLIENT_DEFAULT,
        extensions: Any = None,
    ) -> httpx2.Request:
        # The SDK always hands over an absolute URL string, a header list and bytes; httpx2's
        # general merge parses the URL and normalises every header twice more than needed.
        if (
            data is not None or files is not None or json is not None or params or cookies or extensions
            or not isinstance(url, str) or not url.startswith(("http://", "https://"))
            or not isinstance(content, (bytes, type(None))) or self._cookies or self._params
        ):
            return super().build_request(
                method, url, content=content, data=data, files=files, json=json, params=params,
                headers=headers, cookies=cookies, timeout=timeout, extensions=extensions,
            )
        merged = {k.lower(): (k, v) for k, v in self._headers.multi_items()}
        if headers:
            items = headers.multi_items() if isinstance(headers, httpx2.Headers) else (
                headers.items() if hasattr(headers, "items") else headers)
            for k, v in items:
                merged[k.lower()] = (k, v)
        t = self.timeout if isinstance(timeout, UseClientDefault) else httpx2.Timeout(timeout)
        parsed = _urls.get(url)
        if parsed is None:  # a run posts to one or two URLs: parse each once (URL is immutable)
            if len(_urls) > 256:
                _urls.clear()
            parsed = _urls[url] = httpx2.URL(url)
        return httpx2.Request(
            method, parsed, headers=list(merged.values()), content=content, extensions={"timeout": t.as_dict()}
        )

    async def send(
        self,
        request: httpx2.Request,
        *,
        stream: bool = False,
        auth: Any = httpx2.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx2.USE_CLIENT_DEFAULT,
    ) -> httpx2.Response:
        transport = self._transport_for_url(request.url)
        plain = (
            not stream
            and isinstance(auth, UseClientDefault)
            and self._auth is None
            and not self._event_hooks["request"]
            and not self._event_hooks["response"]
            and type(transport) is AiohttpTransport
            and transport.proxy is None
            and self._state is not ClientState.CLOSED
            and not request.url.userinfo
            and isinstance(request.stream, httpx2.ByteStream)
        )
        if not plain:
            return await super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        self._state = ClientState.OPENED
        response = await _send_buffered(transport, request)
        if response.status_code in _REDIRECTS and "location" in response.headers:
            follow = self.follow_redirects if isinstance(follow_redirects, UseClientDefault) else follow_redirects
            if follow:  # rare for an API: let httpx apply its redirect rules
                return await super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        if "set-cookie" in response.headers:
            self.cookies.extract_cookies(response)
        return response


FastAioHttpClient: type[httpx2.AsyncClient] = (
    _FastAioHttpClient if FAST_TRANSPORT else openai.DefaultAioHttpClient  # type: ignore[assignment]
)


def tls_context(urls: list[str]) -> ssl.SSLContext:
    """One TLS context for all of a run's endpoints, passed as `verify=` to each HTTP client.

    Left to itself each client loads the system certificate store (0.05-0.2 s of CPU, at the
    start of every stage). Endpoints on plain HTTP (a local vLLM or llama.cpp) never use it, so
    they get a context with no certificates: it still verifies, so a redirect to HTTPS fails
    rather than going unchecked."""
    if any(u.lower().startswith("https:") for u in urls):
        return httpx2.create_ssl_context(verify=True, trust_env=True)
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
_urls: dict[str, httpx2.URL] = {}
_timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}


def _client_timeout(request: httpx2.Request) -> aiohttp.ClientTimeout:
    # Same mapping as the SDK's aiohttp transport; cached since a run uses one or two timeouts.
    t = request.extensions.get("timeout") or {}
    key = (t.get("connect"), t.get("read"), t.get("pool"))
    timeout = _timeouts.get(key)
    if timeout is None:
        timeout = _timeouts[key] = aiohttp.ClientTimeout(sock_connect=key[0], sock_read=key[1], connect=key[2])
    return timeout


async def _send_buffered(transport: AiohttpTransport, request: httpx2.Request) -> httpx2.Response:
    if not isinstance(transport.client, aiohttp.ClientSession):
        transport.client = transport.get_client()
    session = transport.client
    start = time.perf_counter()
    with map_aiohttp_exceptions():
        async with session.request(
            request.method,
            str(request.url),
            headers=request.headers.multi_items(),
            data=request.content or None,
            allow_redirects=False,
            auto_decompress=False,  # httpx2.Response decodes Content-Encoding, as on the usual path
            compress=False,
            timeout=_client_timeout(request),
            server_hostname=request.extensions.get("sni_hostname"),
        ) as resp:
            body = await resp.read()
    extensions: dict[str, Any] = {"http_version": _HTTP11}
    if resp.reason:
        extensions["reason_phrase"] = resp.reason.encode()
    response = httpx2.Response(
        resp.status, headers=resp.raw_headers, content=body, request=request, extensions=extensions
    )
    response.elapsed = datetime.timedelta(seconds=time.perf_counter() - start)
    return response


try:  # more private names, for the direct route only; without them post_chat takes the SDK road
    from openai._base_client import get_platform
    from openai._httpx2 import request_exceptions, timeout_exceptions
    from openai._utils import asyncify

    _DIRECT = FAST_TRANSPORT and _CHAT_OPTIONS is not None
except ImportError:  # pragma: no cover - depends on the SDK release
    _DIRECT = False

try:  # a tenth of json's CPU for the request body (prompt + schema) and the answer
    import orjson

    _dumps, _loads = orjson.dumps, orjson.loads
    _JSONError: tuple[type[Exception], ...] = (ValueError, orjson.JSONDecodeError)
except ImportError:  # pragma: no cover - orjson is a dependency; json gives the same answers
    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    _loads, _JSONError = json.loads, (ValueError,)

# the SDK asks for these; aiohttp decodes gzip and deflate itself and we never ask for more
_SKIP_HEADERS = frozenset({"content-length", "accept-encoding", "host"})


class _DirectRoute:
    """The URL and headers the SDK builds for a chat completion, kept for one client."""

    def __init__(self, client: openai.AsyncOpenAI, request: httpx2.Request, timeout: float,
                 transport: AiohttpTransport, http: _FastAioHttpClient) -> None:
        self.base, self.api_key, self.timeout = client.base_url, client.api_key, timeout
        self.url = str(request.url)
        self.headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _SKIP_HEADERS]
        self.headers.append(("Accept-Encoding", "gzip, deflate"))
        self.transport = transport
        self.request = request  # what the SDK's exceptions carry
        self.client_timeout = _client_timeout(request)
        self.timeouts = timeout_exceptions()
        self.failures = request_exceptions()
        self.wire: WirePool | None = None
        if transport.uds is None and transport.local_address is None and not transport.socket_options:
            # our own HTTP/1.1 connections (wire.py): a third of aiohttp's CPU per request
            t = request.extensions.get("timeout") or {}
            keepalive = getattr(transport.limits, "keepalive_expiry", 5.0)
            try:
                self.wire = WirePool(self.url, self.headers, tls=transport.ssl_context,
                                     connect_timeout=t.get("connect"), read_timeout=t.get("read"),
                                     keepalive=keepalive, server_hostname=request.extensions.get("sni_hostname"))
            except (ValueError, UnicodeEncodeError):  # a header aiohttp may still send: its road
                self.wire = None
            else:
                http._wire_pools.append(self.wire)

    def close(self) -> None:
        if self.wire is not None:
            self.wire.close()

    def fits(self, client: openai.AsyncOpenAI, timeout: float) -> bool:
        return client.base_url is self.base and client.api_key == self.api_key and timeout == self.timeout

    async def post(self, client: openai.AsyncOpenAI, body: dict[str, Any]) -> RawChatResponse | None:
        """One POST; None for an answer the SDK road should handle (a redirect)."""
        if self.wire is not None:
            return await self._post_wire(client, body)
        session = self.transport.client
        if not isinstance(session, aiohttp.ClientSession):
            session = self.transport.client = self.transport.get_client()
        try:
            with map_aiohttp_exceptions():
                async with session.post(self.url, data=_dumps(body), headers=self.headers,
                                        allow_redirects=False, compress=False,
                                        timeout=self.client_timeout) as resp:
                    raw = await resp.read()
        except self.timeouts as err:
            raise openai.APITimeoutError(request=self.request) from err
        except openai.OpenAIError:
            raise
        except self.failures as err:
            raise openai.APIConnectionError(request=self.request) from err
        status = resp.status
        if 200 <= status < 300:
            try:
                data = _loads(raw)
            except _JSONError:
                data = None
            if not isinstance(data, dict):
                response = self._response(resp, raw)
                raise openai.APIResponseValidationError(response, response.text,
                                                        message="response body is not a JSON object")
            return RawChatResponse(status, {k.lower(): v for k, v in resp.headers.items()}, data)
        if 300 <= status < 400:
            return None
        raise client._make_status_error_from_response(self._response(resp, raw))

    async def _post_wire(self, client: openai.AsyncOpenAI, body: dict[str, Any]) -> RawChatResponse | None:
        try:
            answer = await self.wire.post(_dumps(body))  # type: ignore[union-attr]
        except WireTimeout as err:
            raise openai.APITimeoutError(request=self.request) from err
        except WireError as err:
            raise openai.APIConnectionError(request=self.request) from err
        status = answer.status
        if 200 <= status < 300:
            try:
                data = _loads(answer.body)
            except _JSONError:
                data = None
            if not isinstance(data, dict):
                response = self._wire_response(answer)
                raise openai.APIResponseValidationError(response, response.text,
                                                        message="response body is not a JSON object")
            return RawChatResponse(status, answer.header_dict(), data)
        if 300 <= status < 400:
            return None
        raise client._make_status_error_from_response(self._wire_response(answer))

    def _wire_response(self, answer: Answer) -> httpx2.Response:
        headers = [(k, v) for k, v in answer.headers
                   if k.lower() not in (b"content-encoding", b"transfer-encoding", b"content-length")]
        extensions: dict[str, Any] = {"http_version": _HTTP11}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason
        return httpx2.Response(answer.status, headers=headers, content=answer.body, request=self.request,
                               extensions=extensions)

    def _response(self, resp: aiohttp.ClientResponse, raw: bytes) -> httpx2.Response:
        # the body is already decoded: drop Content-Encoding so httpx2 does not decode it again
        headers = [(k, v) for k, v in resp.raw_headers if k.lower() != b"content-encoding"]
        return httpx2.Response(resp.status, headers=headers, content=raw, request=self.request)


_routes: weakref.WeakKeyDictionary[Any, _DirectRoute | None] = weakref.WeakKeyDictionary()
_building: weakref.WeakKeyDictionary[Any, asyncio.Future] = weakref.WeakKeyDictionary()


def _plain_http(http: Any) -> AiohttpTransport | None:
    """The aiohttp transport of a FastAioHttpClient with nothing that needs httpx2's layers."""
    if not isinstance(http, _FastAioHttpClient) or http._auth is not None or http._cookies or http._params:
        return None
    if http._event_hooks["request"] or http._event_hooks["response"] or http._state is ClientState.CLOSED:
        return None
    transport = http._transport
    if http._mounts or type(transport) is not AiohttpTransport or transport.proxy is not None:
        return None
    return transport


async def _route_for(client: openai.AsyncOpenAI, body: dict[str, Any], timeout: float) -> _DirectRoute | None:
    route = _routes.get(client, False)
    if route is not False and (route is None or route.fits(client, timeout)):
        return route
    # one build per client: the first 64 requests of a run arrive together, and each build
    # costs a thread hop and ~3 ms (get_platform); the others wait for that one and re-check
    building = _building.get(client)
    if building is not None:
        await asyncio.shield(building)
        return await _route_for(client, body, timeout)
    done = asyncio.get_running_loop().create_future()
    _building[client] = done
    try:
        return await _build_route(client, body, timeout)
    finally:
        _building.pop(client, None)
        done.set_result(None)


async def _build_route(client: openai.AsyncOpenAI, body: dict[str, Any], timeout: float) -> _DirectRoute | None:
    route = None
    transport = _plain_http(client._client)
    if (type(client) is openai.AsyncOpenAI and getattr(client, "_provider_runtime", None) is None
            and getattr(client, "_workload_identity_auth", None) is None and client.custom_auth is None
            and transport is not None and isinstance(client.api_key, str)):
        try:  # private SDK methods: if a release changes them, the SDK road is taken instead
            if client._platform is None:  # as `client.request` does before its first call
                client._platform = await asyncify(get_platform)()
            options = _options_for(client).model_copy(update={"json_data": body, "timeout": timeout})
            options = await client._prepare_options(options)
            request = client._build_request(options, retries_taken=0)
            await client._prepare_request(request)
            usable = (callable(getattr(client, "_make_status_error_from_response", None))
                      and not request.url.userinfo and request.url.scheme in ("http", "https")
                      and not request.url.query)
        except Exception:
            usable = False
        if usable:
            old = _routes.get(client)
            if old:
                old.close()
            route = _DirectRoute(client, request, timeout, transport, client._client)
    _routes[client] = route
    return route
