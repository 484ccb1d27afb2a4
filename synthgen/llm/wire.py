"""A small HTTP/1.1 client for the direct route: keep-alive connections, one request at a time each.

Why: at 64 requests in flight the client's CPU sets the pace, and aiohttp's request machinery
(request and response objects, timers, tracing hooks, cookie jar, stream readers) costs ~0.45 ms
per call on this project's bench machine, against ~0.19 ms for an asyncio protocol that writes
the request bytes and parses the answer itself (`bench/notes/throughput.md`). The request is the
one the openai SDK builds (`fastpath._DirectRoute` keeps its URL and headers); errors become the
SDK's exceptions there. This module only moves bytes.

What it handles: HTTP and HTTPS (the SDK transport's TLS context), Content-Length, chunked and
read-to-close bodies, gzip and deflate answers, a connect timeout and a read timeout (no byte for
`read_timeout` seconds, as aiohttp's `sock_read`), `Connection: close`, idle connections closed
after `keepalive` seconds, and one quiet retry when a reused connection turns out to be closed
before any byte of the answer arrived (the server dropped it while idle, so it never saw the
request). What it does not: proxies, redirects, streaming, HTTP/2; `fastpath` sends those down
the SDK's own road.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024  # bytes of status line and headers we accept
MAX_IDLE = 512  # idle connections kept


class WireError(Exception):
    """Base of the errors below; fastpath maps them to the SDK's exceptions."""


class ConnectFailed(WireError):
    pass


class WireTimeout(WireError):
    pass


class Disconnected(WireError):
    pass


class BadResponse(WireError):
    pass


class Answer:
    """A complete HTTP answer: status, reason, raw header pairs (bytes), decoded body."""

    __slots__ = ("status", "reason", "headers", "body")

    def __init__(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header_dict(self) -> dict[str, str]:
        """Lower-case names; the last value wins, as in a plain dict of headers."""
        return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.headers}


class _Conn(asyncio.Protocol):
    """One connection; parses one answer at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.got = 0  # bytes of the current answer seen
        self.last = 0.0  # loop time of the last byte
        self.idle_since = 0.0
        self.reusable = True
        self._reset()

    def _reset(self) -> None:
        self.head: tuple[int, bytes, list[tuple[bytes, bytes]]] | None = None
        self.length: int | None = None  # Content-Length, or None
        self.chunked = False
        self.to_close = False  # body runs to the end of the connection
        self.chunks: list[bytes] = []
        self.pos = 0  # parse position in buf (chunked)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: the connection cannot be trusted
            self.reusable = False
            if self.transport is not None:
                self.transport.close()
            return
        self.got += len(data)
        self.last = self.loop.time()
        self.buf += data
        try:
            self._parse()
        except BadResponse as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            if self.to_close and self.head is not None:
                self._finish(bytes(self.buf))
            else:
                why = f"server disconnected ({exc})" if exc else "server disconnected"
                self._fail(Disconnected(why))

    # parsing
    def _parse(self) -> None:
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    raise BadResponse("response headers too large")
                return
            self._read_head(bytes(self.buf[:end]))
            del self.buf[: end + 4]
            if self.head is None:  # an interim 1xx answer: parse on
                return self._parse()
        if self.chunked:
            self._parse_chunks()
        elif self.length is not None:
            if len(self.buf) >= self.length:
                if len(self.buf) > self.length:
                    self.reusable = False  # more than the answer: do not reuse
                self._finish(bytes(self.buf[: self.length]))

    def _read_head(self, raw: bytes) -> None:
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise BadResponse(f"not an HTTP/1.x answer: {lines[0][:60]!r}")
        status = int(parts[1])
        if 100 <= status < 200:
            return
        headers = []
        length = None
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise BadResponse("malformed response header")
            name, value = name.strip(), value.strip()
            headers.append((name, value))
            low = name.lower()
            if low == b"content-length":
                if not value.isdigit():
                    raise BadResponse("malformed Content-Length")
                length = int(value)
            elif low == b"transfer-encoding":
                if value.lower().endswith(b"chunked"):
                    self.chunked = True
            elif low == b"connection" and value.lower() == b"close":
                self.reusable = False
        if parts[0] == b"HTTP/1.0" and not any(k.lower() == b"connection" and v.lower() == b"keep-alive"
                                               for k, v in headers):
            self.reusable = False
        self.head = (status, parts[2] if len(parts) > 2 else b"", headers)
        if self.chunked:
            return
        if status in (204, 304):
            length = 0
        if length is None:
            self.to_close, self.reusable = True, False
        self.length = length

    def _parse_chunks(self) -> None:
        buf = self.buf
        while True:
            eol = buf.find(b"\r\n", self.pos)
            if eol < 0:
                return
            size_text = bytes(buf[self.pos : eol]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadResponse("malformed chunk size") from None
            if size == 0:  # then optional trailer lines, then an empty line
                if bytes(buf[eol + 2 : eol + 4]) == b"\r\n":
                    end = eol + 4
                else:
                    found = buf.find(b"\r\n\r\n", eol + 2)
                    if found < 0:
                        return
                    end = found + 4
                if end < len(buf):
                    self.reusable = False
                self._finish(b"".join(self.chunks))
                return
            start = eol + 2
            if len(buf) < start + size + 2:
                return
            self.chunks.append(bytes(buf[start : start + size]))
            self.pos = start + size + 2

    def _finish(self, body: bytes) -> None:
        status, reason, headers = self.head  # type: ignore[misc]
        waiter = self.waiter
        self.buf = bytearray()
        self._reset()
        if waiter is not None and not waiter.done():
            try:
                waiter.set_result(Answer(status, reason, headers, _decode(headers, body)))
            except BadResponse as exc:
                waiter.set_exception(exc)

    def _fail(self, exc: Exception) -> None:
        self.reusable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()


def _decode(headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    for name, value in headers:
        if name.lower() == b"content-encoding":
            coding = value.strip().lower()
            try:
                if coding in (b"gzip", b"x-gzip"):
                    return zlib.decompress(body, 16 + zlib.MAX_WBITS)
                if coding == b"deflate":
                    try:
                        return zlib.decompress(body)
                    except zlib.error:
                        return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some send
            except zlib.error as exc:
                raise BadResponse(f"cannot decode a {coding.decode('latin-1')} body: {exc}") from None
            if coding not in (b"identity", b""):
                raise BadResponse(f"unsupported Content-Encoding {coding.decode('latin-1')!r}")
    return body


class WirePool:
    """Keep-alive connections to one origin, and POSTs of prepared bodies over them."""

    def __init__(self, url: str, headers: list[tuple[str, str]], *, tls: ssl.SSLContext | None,
                 connect_timeout: float | None, read_timeout: float | None, keepalive: float | None = 5.0,
                 server_hostname: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.tls = tls if self.https else None
        self.server_hostname = (server_hostname or self.host) if self.https else None
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        default_port = (parts.port is None) or (self.port == (443 if self.https else 80))
        host = self.host if ":" not in self.host else f"[{self.host}]"
        host_header = host if default_port else f"{host}:{self.port}"
        lines = [f"POST {target} HTTP/1.1", f"Host: {host_header}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append("Content-Length: ")
        self._head = "\r\n".join(lines).encode("latin-1")  # the SDK sends only latin-1 header values
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.keepalive = keepalive
        self.idle: list[_Conn] = []
        self.closed = False

    async def post(self, body: bytes) -> Answer:
        data = self._head + str(len(body)).encode() + b"\r\n\r\n" + body
        conn, reused = await self._acquire()
        try:
            return await self._exchange(conn, data)
        except Disconnected:
            if not reused or conn.got:
                raise
        # a kept-alive connection the server had already closed: it never saw the request
        conn, _ = await self._acquire(fresh=True)
        return await self._exchange(conn, data)

    async def _acquire(self, fresh: bool = False) -> tuple[_Conn, bool]:
        if self.closed:
            raise Disconnected("client is closed")
        loop = asyncio.get_running_loop()
        if not fresh:
            now = loop.time()
            while self.idle:
                conn = self.idle.pop()
                if conn.closed or not conn.reusable:
                    continue
                if self.keepalive is not None and now - conn.idle_since > self.keepalive:
                    conn.transport.close()  # type: ignore[union-attr]
                    continue
                return conn, True
        try:
            connecting = loop.create_connection(lambda: _Conn(loop), self.host, self.port, ssl=self.tls,
                                                server_hostname=self.server_hostname)
            if self.connect_timeout is None:
                _, conn = await connecting
            else:
                _, conn = await asyncio.wait_for(connecting, self.connect_timeout)
        except asyncio.TimeoutError:
            raise WireTimeout(f"connecting to {self.host}:{self.port} timed out") from None
        except (OSError, ssl.SSLError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConnectFailed(f"cannot connect to host {self.host}:{self.port}: {why}") from None
        return conn, False

    async def _exchange(self, conn: _Conn, data: bytes) -> Answer:
        loop = conn.loop
        waiter = conn.waiter = loop.create_future()
        conn.got, conn.last = 0, loop.time()
        timer = None
        if self.read_timeout is not None:
            timer = loop.call_at(conn.last + self.read_timeout, self._check_timeout, conn, waiter)
        ok = False
        try:
            conn.transport.write(data)  # type: ignore[union-attr]
            answer = await waiter
            ok = True
            return answer
        finally:
            conn.waiter = None
            if timer is not None:
                timer.cancel()  # a re-armed check finds the waiter done and stops
            if ok and conn.reusable and not conn.closed and not self.closed and len(self.idle) < MAX_IDLE:
                conn.idle_since = loop.time()
                self.idle.append(conn)
            elif not conn.closed and conn.transport is not None:
                # cancelled, failed or not reusable: the connection's state is unknown
                conn.reusable = False
                if ok:
                    conn.transport.close()
                else:
                    conn.transport.abort()

    def _check_timeout(self, conn: _Conn, waiter: asyncio.Future) -> None:
        if waiter.done():
            return
        due = conn.last + self.read_timeout  # type: ignore[operator]
        if conn.loop.time() >= due - 0.001:
            conn._fail(WireTimeout(f"no answer from {self.host}:{self.port} in {self.read_timeout:g} s"))
        else:  # bytes arrived since: wait for the rest of the quiet period
            conn.loop.call_at(due, self._check_timeout, conn, waiter)

    def close(self) -> None:
        self.closed = True
        idle, self.idle = self.idle, []
        for conn in idle:
            if conn.transport is not None:
                conn.transport.close()
