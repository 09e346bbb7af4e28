"""An HTTP transport for many concurrent requests: httpcore's pool, in small shards.

httpcore's connection pool rescans every connection for every idle one each time a
request starts or ends, so its cost per request grows with the square of the pool
size: with 50 connections it took about half the client's CPU in a profiled batch.
Shards of a few connections each keep the same total (one pool sized to the
concurrency, as far as callers can tell) at a small fraction of that cost.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from functools import cache
from typing import Protocol

import httpx

SHARD_SIZE = 8


class SendTracker(Protocol):
    """Told when a request starts being written and when its body is on the wire
    (a batch's rate-limiter ticket; see ``summarizer.batch.ratelimit``)."""

    def mark_sending(self) -> None: ...

    def mark_sent(self) -> None: ...


# Set by whoever admitted the request about to be sent on this task.
SEND_TRACKER: ContextVar[SendTracker | None] = ContextVar("SEND_TRACKER", default=None)


@cache
def ssl_context() -> ssl.SSLContext:
    """One verifying context per process (each costs ~25 ms to load the CA bundle),
    made before a batch forks so its workers inherit it."""
    return httpx.create_ssl_context()


class _SentStream(httpx.AsyncByteStream):
    """A request body that reports when it has all been handed to the socket."""

    def __init__(self, stream: httpx.AsyncByteStream, on_sent: Callable[[], None]) -> None:
        self._stream = stream
        self._on_sent = on_sent

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk
        self._on_sent()


class _CountedStream(httpx.AsyncByteStream):
    """A response body that tells its shard when the connection is free again."""

    def __init__(self, stream: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self._stream = stream
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._done is not None:
                self._done()
                self._done = None


class ShardedTransport(httpx.AsyncBaseTransport):
    """``max_connections`` connections in shards of at most :data:`SHARD_SIZE`;
    each request goes to the least busy shard."""

    def __init__(self, max_connections: int, **transport_kwargs: object) -> None:
        n = max(1, math.ceil(max_connections / SHARD_SIZE))
        per_shard = math.ceil(max_connections / n)
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        transport_kwargs.setdefault("verify", ssl_context())
        self._shards = [
            httpx.AsyncHTTPTransport(limits=limits, **transport_kwargs)  # type: ignore[arg-type]
            for _ in range(n)
        ]
        self._busy = [0] * n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        tracker = SEND_TRACKER.get()
        if tracker is not None and isinstance(request.stream, httpx.AsyncByteStream):
            tracker.mark_sending()
            request.stream = _SentStream(request.stream, tracker.mark_sent)
        i = min(range(len(self._shards)), key=self._busy.__getitem__)
        self._busy[i] += 1

        def done() -> None:
            self._busy[i] -= 1

        try:
            response = await self._shards[i].handle_async_request(request)
        except BaseException:
            done()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CountedStream(response.stream, done),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()
