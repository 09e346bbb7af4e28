"""Turns: one model answer is processed per event-loop iteration, so that requests
waiting to be sent go out between two answers instead of after a whole burst.

Processing an answer (the SDK's response, Instructor's parse, grounding every quote,
the cache) is a few milliseconds of CPU with no ``await`` in it, and asyncio runs
every callback that is ready before it looks at its sockets again. Under load the
answers come back in bursts (requests sent together come back together, a model's
latency later), so a burst of 25 answers is about 100 ms in which the loop neither
reads a new request nor sends one. Those requests then go out together, come back
together, and the convoy keeps itself going: with ``summarizer serve --workers 2``
at 50 clients and a 0.2 s model, a new summary waited 59 ms (median) for its worker
to start it and each model call took 280 ms instead of 200; 143 answers a second
(measured, ``benchmarks/serve.py``).

With turns, an answer that has arrived waits for its turn, and one turn is given per
loop iteration: between two answers the loop polls its sockets and starts what
arrived, so requests go out spread over the burst, come back spread, and the
convoy dissolves (same run with turns: 5 ms to start, 214 ms a call, 211 answers a
second). A lone request pays one loop iteration (microseconds).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque


class Turns:
    """A queue of answers waiting to be processed, released one per loop iteration.

    Each thread has its own queue: event loops are per thread, and two threads that
    each run a loop (``asyncio.run`` in threads) must not share one.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    async def take(self) -> None:
        """Return on this answer's turn: after those that arrived before it, each in
        a loop iteration of its own."""
        loop = asyncio.get_running_loop()
        queue: _Queue | None = getattr(self._local, "queue", None)
        if queue is None or queue.loop is not loop:  # a new loop: nothing carries over
            queue = self._local.queue = _Queue(loop)
        await queue.take()


class _Queue:
    """One event loop's answers waiting for their turn."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._releasing = False

    async def take(self) -> None:
        turn = self.loop.create_future()
        self._waiting.append(turn)
        if not self._releasing:
            self._releasing = True
            self.loop.call_soon(self._release)
        await turn

    def _release(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():  # a cancelled waiter gives its turn to the next
                turn.set_result(None)
                break
        if self._waiting and not self.loop.is_closed():
            self.loop.call_soon(self._release)  # the next iteration: sockets first
        else:
            self._releasing = False


#: The process's turns, used by every async model call.
TURNS = Turns()
