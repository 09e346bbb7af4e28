"""What the server takes on at once: summaries in flight, summaries waiting, body size.

A server that accepts everything queues without bound: memory grows with every
request, latency with the queue, and the clients' own timeouts fire while their
requests still wait, so the work done is for nobody. Here at most ``max_inflight``
summaries run (each a model call, or several for a long article), at most
``max_queue`` wait for a slot, and any request beyond that is answered at once with
429 and a ``Retry-After`` from the recent time a summary takes, so a client or a
load balancer can go elsewhere or come back.

A slot is held for as long as the work runs, which is not always as long as the
request: a summary computed in a thread (the no-model methods, the embedded model)
cannot be interrupted, so when its request times out or its client goes away, the
slot follows the thread until it ends (:meth:`Slot.follow`), and the server never
runs more than ``max_inflight`` summaries, whoever still waits for them.

:func:`read_body` reads a request body up to the cap and no further: the declared
``Content-Length`` is checked before anything is read, and a chunked body is counted
as it arrives, so an endless body costs at most the cap in memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from summarizer.serve.errors import malformed, overloaded, too_large

if TYPE_CHECKING:
    from starlette.requests import Request

T = TypeVar("T")


class Slot:
    """One admitted summary; released when its block ends, unless it follows a task."""

    def __init__(self, limiter: Limiter) -> None:
        self._limiter = limiter
        self._followed: asyncio.Future[Any] | None = None
        self._started = time.monotonic()

    def follow(self, task: asyncio.Future[T]) -> asyncio.Future[T]:
        """Keep the slot until ``task`` is done, even after the request has gone."""
        self._followed = task
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Future[Any]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved: a request that left does not want it logged
        self._limiter._release(time.monotonic() - self._started)

    def _close(self) -> None:
        if self._followed is None:
            self._limiter._release(time.monotonic() - self._started)


class Limiter:
    """``max_inflight`` running, ``max_queue`` waiting, the rest refused at once."""

    def __init__(self, max_inflight: int, max_queue: int) -> None:
        self.max_inflight = max_inflight
        self.max_queue = max_queue
        self.in_flight = 0
        self.waiting = 0
        self._free = asyncio.Semaphore(max_inflight)
        self._seconds = 1.0  # a running mean of how long a summary takes

    def retry_after(self) -> float:
        """Seconds until a slot is likely free: the queue ahead over the slots, times
        the mean time of a summary."""
        ahead = self.waiting + 1
        return max(1.0, self._seconds * ahead / self.max_inflight)

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[Slot]:
        """A slot for the block, after waiting in the queue if there is room in it;
        raises the 429 :class:`~summarizer.serve.errors.ServeError` otherwise."""
        if self._free.locked():
            if self.waiting >= self.max_queue:
                raise overloaded(self.retry_after())
            self.waiting += 1
            try:
                await self._free.acquire()
            finally:
                self.waiting -= 1
        else:
            await self._free.acquire()  # free: returns without waiting
        self.in_flight += 1
        slot = Slot(self)
        try:
            yield slot
        finally:
            slot._close()

    def _release(self, seconds: float) -> None:
        self.in_flight -= 1
        self._seconds += (seconds - self._seconds) * 0.2
        self._free.release()


async def in_thread_bounded(slot: Slot, work: Awaitable[T]) -> T:
    """Await ``work`` (a thread's) with ``slot`` kept until it ends; the request may
    stop waiting for it (timeout, disconnect) without cancelling it."""
    task = slot.follow(asyncio.ensure_future(work))
    return await asyncio.shield(task)


async def read_body(request: Request, cap: int) -> bytes:
    """The body, or the 413 error once it is over ``cap`` bytes; see the module docstring."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise malformed("Content-Length is not a number of bytes")
        if int(declared) > cap:
            raise too_large(cap)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise too_large(cap)
        chunks.append(chunk)
    return b"".join(chunks)
