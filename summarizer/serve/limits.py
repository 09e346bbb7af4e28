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
as it arrives, so an endless body costs at most the cap in memory. It also has a
deadline (``--timeout``): a client that sends its body a byte at a time, or declares
more than it sends and waits (slowloris), is answered 408 and let go, instead of
holding a connection and a buffer for as long as it likes (uvicorn has no such
deadline of its own).

:func:`check_json_values` bounds what parsing a body may build. A JSON parser turns
``[{},{},...]`` into one Python object per three bytes: a 32 MB job body of that is
close to 1 GB of memory before any check on the articles can run, in a thread, for
each such request at once. A request of N articles has at most a few JSON values
per article (each a flat object of a few fields), so the body's values are counted
first (:func:`json_values`), outside strings and by C-level scans, stopping as soon
as there are more than a valid request can have; the route refuses such a body
unparsed.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from summarizer.serve.errors import body_timeout, malformed, overloaded, too_large

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


async def read_body(request: Request, cap: int, deadline: float | None = None) -> bytes:
    """The body, or the 413 error once it is over ``cap`` bytes, or the 408 error when
    it has not all arrived within ``deadline`` seconds; see the module docstring."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise malformed("Content-Length is not a number of bytes")
        if int(declared) > cap:
            raise too_large(cap)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(deadline):
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    raise too_large(cap)
                chunks.append(chunk)
    except TimeoutError:
        assert deadline is not None
        raise body_timeout(deadline) from None
    return b"".join(chunks)


# What ends or separates a JSON value, or starts a string; and a whole JSON string
# (possessive: no backtracking, so a string that never ends costs one scan).
_VALUE_MARK = re.compile(rb'[\]},"]')
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_BACKSLASH = 0x5C


def _string_end(raw: bytes, start: int) -> int | None:
    """Just past the JSON string that opens at ``start``, None if it never ends. Its
    end is found with ``bytes.find`` (memchr speed) past up to 64 escaped quotes
    (``\\"``, an article's quotation marks); a string with more, or with other
    backslashes before a quote, takes the regex, which reads a byte at a time (about
    10 ms a megabyte) but never backtracks."""
    at = start + 1
    for _ in range(64):
        quote = raw.find(b'"', at)
        if quote < 0:
            return None
        if raw[quote - 1] != _BACKSLASH:
            return quote + 1
        if raw[quote - 2] == _BACKSLASH:
            break  # ``\\"`` or more: which escapes which is the regex's to say
        at = quote + 1
    string = _STRING.match(raw, start)
    return None if string is None else string.end()


def json_values(raw: bytes, most: int) -> int:
    """How many JSON values ``raw`` holds, near enough: its separators, closing
    brackets and strings (each string once, its contents skipped), counting no
    further than ``most`` + 1. Every value a parser keeps is one of them or is
    followed by one; what it has opened and not yet closed is at most its nesting
    limit (about 200), where a deeper body fails at once, unbuilt, as not JSON. Valid
    or not: a parser reads a body in order and stops at its first error, and up to
    there this count is what it builds; a string that never ends stops the count (the
    parser stops there too)."""
    count, at = 0, 0
    while count <= most and (mark := _VALUE_MARK.search(raw, at)) is not None:
        count += 1
        if mark.group() != b'"':
            at = mark.end()
        elif (end := _string_end(raw, mark.start())) is not None:
            at = end
        else:
            break
    return count
