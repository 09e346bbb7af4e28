"""HTTP/1.1 to plain ``http://`` model endpoints, straight on asyncio.

Why: under httpx, a request to a model went through httpcore's connection pool, its
anyio streams and h11's pure-Python parser: about a sixth of the CPU a summary costs
a ``summarizer serve`` worker or a batch (profiled; the rest is the library's own
work), for a request that is one write and one read on a connection kept alive. The
endpoints that serve many requests a second are mostly plain HTTP on a private
network (vLLM, llama.cpp, Ollama, a gateway), so that is the case taken here; the
rest stays with httpcore: TLS (``https://``), proxies (the client mounts those
before a request reaches this transport), HTTP/2 and upgrades.

What it does: keep-alive connections per origin (reused last-in first-out, closed
after ``KEEPALIVE`` idle seconds: under the 5 s of uvicorn (vLLM) and llama.cpp's
server, whose clock starts before ours); a request body sent with its length, or
chunked; an answer framed by ``Content-Length``, chunked, or the end of the
connection; informational (1xx) answers skipped. A connection is reused only once its
answer was read to the end and nothing more arrived; any other end (an error, a body
not read to the end, a cancelled request: a client that left the server) closes it,
so the server sees the request abandoned. A request goes again, on a new connection,
only if not a byte of it left on a reused one (closed while idle); once written it is
never sent again here (nor by httpcore): the server may have run it, the caller's
retries decide.

Faults are httpx's own exceptions (``ConnectError``, ``ConnectTimeout``,
``ReadTimeout``, ``WriteTimeout``, ``PoolTimeout``, ``ReadError``,
``RemoteProtocolError``), as httpcore raises them, so callers see no difference. A
hostile answer cannot make it buffer without bound: a head over ``MAX_HEAD`` bytes, a
status line or header that is not HTTP, a ``Content-Length`` that is not one number,
a transfer coding other than chunked, a chunk-size line that is not hex is a
``RemoteProtocolError``; a body is handed on as it arrives (the reading stops while
``HIGH_WATER`` bytes wait, and a connection so paused is not reused: what waits in its
socket is unseen), and the answer cap is the caller's (:mod:`summarizer.backends.http`).

It is one module because it is one protocol's client: the framing rules, the
connection's state and the pool that reuses it are only right together.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import cast

import httpx

#: Most bytes of an answer's status line and headers (and of a chunked body's trailers).
MAX_HEAD = 64 * 1024
#: Seconds a connection may stay idle and still be reused.
KEEPALIVE = 4.0
#: Bytes received and not yet consumed at which reading from the socket pauses.
HIGH_WATER = 1 << 20
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_BLANK_LINE = re.compile(rb"\n\r?\n")  # lines may end in a bare LF, as h11 allows
_NO_BODY_STATUS = (204, 304)


class _Closed(Exception):
    """The connection ended before a byte of the request went out on it."""


class _Conn(asyncio.Protocol):
    """One connection: the bytes received and not yet consumed, and who waits for more."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.ended = False  # the server closed its side, or the connection is lost
        self.lost: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._writable = asyncio.Event()  # set while writes may go on
        self._writable.set()
        self.idle_since = 0.0

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) >= HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.lost = exc
        self._wake()
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- ours --------------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """Nothing more came and nothing can be waiting unseen (reading paused)."""
        t = self.transport
        return not (self.ended or self.buf or self._paused or t is None or t.is_closing())

    def close(self) -> None:
        """Drop the connection at once (a reset: nothing of ours is left to send)."""
        self.ended = True
        if self.transport is not None:
            self.transport.abort()

    async def send(self, data: bytes, timeout: float | None) -> None:
        """``_Closed`` if not a byte went out. A connection lost later is left to the
        reading: an answer (a 413) may have come first, and the server may have read."""
        assert self.transport is not None
        if self.ended or self.transport.is_closing():
            raise _Closed
        self.transport.write(data)
        if self.transport.is_closing():  # the first send failed: nothing went out
            raise _Closed
        if not self._writable.is_set():
            try:
                async with asyncio.timeout(timeout):
                    await self._writable.wait()
            except TimeoutError:
                raise httpx.WriteTimeout("timed out sending the request") from None

    async def more(self, timeout: float | None) -> None:
        """Wait until more bytes arrive or the connection ends."""
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        if self.ended:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        except TimeoutError:
            raise httpx.ReadTimeout("timed out reading the answer") from None
        finally:
            self._waiter = None

    def take(self, n: int) -> bytes:
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    async def read_until_blank_line(self, timeout: float | None, what: str) -> bytes:
        """Bytes up to an empty line, without it; at most ``MAX_HEAD``."""
        looked = 0
        while True:
            if blank := _BLANK_LINE.search(self.buf, max(0, looked - 2)):
                if blank.start() > MAX_HEAD:
                    break
                head = self.take(blank.start())
                del self.buf[: blank.end() - blank.start()]
                return head
            if len(self.buf) > MAX_HEAD:
                break
            looked = len(self.buf)
            if self.ended:
                end = f"mid-{what}" if self.buf else "without answering"
                raise httpx.RemoteProtocolError(f"the server closed the connection {end}")
            await self.more(timeout)
        raise httpx.RemoteProtocolError(f"the answer's {what} is over {MAX_HEAD} bytes")

    async def read_line(self, timeout: float | None, limit: int = 1024) -> bytes:
        """One line of a chunked body, without its line end: over ``limit`` bytes
        (however it arrived) it is a ``RemoteProtocolError``."""
        while True:
            end = self.buf.find(b"\n", 0, limit + 1)
            if end >= 0:
                line = self.take(end)
                del self.buf[:1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buf) > limit:
                raise httpx.RemoteProtocolError(f"a chunked body's line over {limit} bytes")
            if self.ended:
                raise httpx.RemoteProtocolError("the server closed the connection mid-body")
            await self.more(timeout)


def _parse_head(head: bytes) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
    """Status, HTTP version, reason and headers of an answer's head, or
    ``RemoteProtocolError``."""
    lines = [line[:-1] if line.endswith(b"\r") else line for line in head.split(b"\n")]
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or not re.fullmatch(rb"[1-9]\d\d", code):
        raise httpx.RemoteProtocolError("the answer's status line is not HTTP/1.x")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name) or b"\r" in value or b"\0" in value:
            raise httpx.RemoteProtocolError("the answer has a malformed header line")
        headers.append((name, value.strip(b" \t")))
    return int(code), version, reason, headers


def _tokens(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    """The comma-separated values of every ``name`` header, trimmed and lowercased."""
    return [
        t.strip().lower() for n, value in headers if n.lower() == name for t in value.split(b",")
    ]


def _framing(method: str, status: int, headers: list[tuple[bytes, bytes]]) -> int | str:
    """How the body ends: its length, ``"chunked"`` or ``"close"`` (0: no body)."""
    if method == "HEAD" or status in _NO_BODY_STATUS or status < 200:
        return 0
    codings = _tokens(headers, b"transfer-encoding")
    if codings:
        if codings != [b"chunked"]:
            raise httpx.RemoteProtocolError("the answer's transfer coding is not chunked")
        return "chunked"
    lengths = set(_tokens(headers, b"content-length"))
    if not lengths:
        return "close"
    length = lengths.pop()
    if lengths or not length.isdigit() or len(length) > 18:
        raise httpx.RemoteProtocolError("the answer's Content-Length is not one number")
    return int(length)


def _keeps_alive(version: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    """Not after ``Connection: close``, HTTP/1.0, or both framings (RFC 9112 6.3: "ought
    to be handled as an error"; the chunked one was read, not trusted to end it)."""
    both = {b"transfer-encoding", b"content-length"} <= {n.lower() for n, _ in headers}
    return version == b"HTTP/1.1" and b"close" not in _tokens(headers, b"connection") and not both


def _request_head(request: httpx.Request) -> bytes:
    method = request.method.encode("latin-1", "replace")
    if not _TOKEN.fullmatch(method):
        raise httpx.LocalProtocolError("the request's method is not a token")
    parts = [method, b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        if not _TOKEN.fullmatch(name) or any(c in value for c in (b"\r", b"\n", b"\0")):
            raise httpx.LocalProtocolError("a request header is not a valid header line")
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


_Timeouts = dict[str, float | None]


def _timeouts(request: httpx.Request) -> _Timeouts:
    got = request.extensions.get("timeout") or {}
    return {k: got.get(k) for k in ("connect", "read", "write", "pool")}


class _Body(httpx.AsyncByteStream):
    """An answer's body as it arrives; the connection goes back to the pool when the
    body was read to its end and closed, and is dropped on any other end."""

    def __init__(self, pool: H1Transport, key: tuple[bytes, int], conn: _Conn,
                 framing: int | str, keep: bool, read_timeout: float | None,
                 slots: asyncio.Semaphore | None) -> None:  # fmt: skip
        self._pool, self._key, self._conn = pool, key, conn
        self._framing, self._keep, self._timeout = framing, keep, read_timeout
        self._complete = framing == 0
        self._released = False
        self._slots = slots  # the one its request was counted on

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._framing == "chunked":
                async for data in self._chunked():
                    yield data
            elif self._framing == "close":
                async for data in self._to_end():
                    yield data
            elif isinstance(self._framing, int) and self._framing:
                async for data in self._sized(self._framing):
                    yield data
            self._complete = True
        except BaseException:
            self._release(keep=False)
            raise

    async def _sized(self, left: int) -> AsyncIterator[bytes]:
        conn = self._conn
        while left:
            if conn.buf:
                data = conn.take(min(left, len(conn.buf)))
                left -= len(data)
                yield data
            elif conn.ended:
                raise httpx.RemoteProtocolError(
                    f"the server closed the connection with {left} bytes of the body unsent"
                )
            else:
                await conn.more(self._timeout)

    async def _chunked(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            size_text = (await conn.read_line(self._timeout)).split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_text):
                raise httpx.RemoteProtocolError("a chunk size that is not hexadecimal")
            size = int(size_text, 16)
            if size == 0:
                await self._trailers()
                return
            async for data in self._sized(size):
                yield data
            if await conn.read_line(self._timeout) != b"":
                raise httpx.RemoteProtocolError("a chunk longer than its size")

    async def _trailers(self) -> None:
        """Skip the trailer lines after the last chunk, up to the empty line (at most
        ``MAX_HEAD`` bytes in all, as a head)."""
        left = MAX_HEAD
        while left > 0:
            if not (line := await self._conn.read_line(self._timeout, left)):
                return
            left -= len(line) + 1
        raise httpx.RemoteProtocolError(f"the answer's trailers are over {MAX_HEAD} bytes")

    async def _to_end(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if conn.buf:
                yield conn.take(len(conn.buf))
            elif conn.ended:
                if isinstance(conn.lost, OSError):
                    raise httpx.ReadError(f"the connection failed mid-body: {conn.lost}")
                return
            else:
                await conn.more(self._timeout)

    def _release(self, keep: bool) -> None:
        if not self._released:
            self._released = True
            self._pool._release(self._key, self._conn, keep=keep, slots=self._slots)

    async def aclose(self) -> None:
        self._release(keep=self._complete and self._keep)


class H1Transport(httpx.AsyncBaseTransport):
    """At most ``max_connections`` requests at once over kept-alive connections to
    plain ``http://`` origins (see the module docstring)."""

    def __init__(self, max_connections: int) -> None:
        self._max = max(1, max_connections)
        self._idle: dict[tuple[bytes, int], list[_Conn]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"{request.url.scheme}:// is not plain HTTP")
        if self._closed:
            raise RuntimeError("the transport is closed")
        timeouts = _timeouts(request)
        assert isinstance(request.stream, httpx.AsyncByteStream)
        body = b"".join([chunk async for chunk in request.stream])
        if "transfer-encoding" in request.headers:  # a stream of unknown length
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
        message = _request_head(request) + body
        key = (request.url.raw_host, request.url.port or 80)
        if self._slots is None or self._loop is not asyncio.get_running_loop():
            # Another event loop (a second asyncio.run): the last one's connections
            # cannot serve it, and were closed with it.
            self._loop, self._slots = asyncio.get_running_loop(), asyncio.Semaphore(self._max)
            self._idle = {}
        try:
            async with asyncio.timeout(timeouts["pool"]):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection came free in time") from None
        try:
            return await self._exchange(request, key, message, timeouts)
        except BaseException:
            self._slots.release()
            raise

    async def _exchange(self, request: httpx.Request, key: tuple[bytes, int], message: bytes,
                        timeouts: _Timeouts) -> httpx.Response:  # fmt: skip
        conn = self._reuse(key)
        if conn is not None:
            try:
                return await self._over(conn, request, key, message, timeouts)
            except _Closed:
                pass  # closed by the server while idle: it never read this request
        conn = await self._connect(key, timeouts["connect"])
        try:
            return await self._over(conn, request, key, message, timeouts)
        except _Closed:
            raise httpx.RemoteProtocolError(
                "the server closed the connection without answering"
            ) from None

    async def _over(self, conn: _Conn, request: httpx.Request, key: tuple[bytes, int],
                    message: bytes, timeouts: _Timeouts) -> httpx.Response:  # fmt: skip
        try:
            await conn.send(message, timeouts["write"])
            for _ in range(16):  # informational answers (103 Early Hints) come first
                head = await conn.read_until_blank_line(timeouts["read"], "head")
                status, version, reason, headers = _parse_head(head)
                if status >= 200 or status == 101:
                    break
            else:
                raise httpx.RemoteProtocolError("too many informational answers")
            if status == 101:
                raise httpx.RemoteProtocolError("the server switched protocols")
            framing = _framing(request.method, status, headers)
        except BaseException:
            conn.close()
            raise
        keep = _keeps_alive(version, headers) and framing != "close"
        keep = keep and b"close" not in request.headers.get("connection", "").lower().encode()
        stream = _Body(self, key, conn, framing, keep, timeouts["read"], self._slots)
        return httpx.Response(
            status, headers=headers, stream=stream,
            extensions={"http_version": version, "reason_phrase": reason},
        )  # fmt: skip

    def _reuse(self, key: tuple[bytes, int]) -> _Conn | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.reusable and now - conn.idle_since < KEEPALIVE:
                return conn
            conn.close()
        return None

    async def _connect(self, key: tuple[bytes, int], timeout: float | None) -> _Conn:
        host, port = key[0].decode("ascii"), key[1]
        loop = asyncio.get_running_loop()
        try:  # the name as bytes: a str goes through the IDNA codec (UnicodeError)
            async with asyncio.timeout(timeout):
                host_bytes: str = key[0].strip(b"[]")  # type: ignore[assignment]
                _, conn = await loop.create_connection(_Conn, host_bytes, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as e:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {e}") from e
        return conn

    def _release(self, key: tuple[bytes, int], conn: _Conn, keep: bool,
                 slots: asyncio.Semaphore | None) -> None:  # fmt: skip
        if slots is not None:
            slots.release()
        if keep and conn.reusable and not self._closed and slots is self._slots:
            conn.idle_since = time.monotonic()
            idle = self._idle.setdefault(key, [])
            idle.append(conn)
            if len(idle) > self._max:
                idle.pop(0).close()
        else:
            conn.close()

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
