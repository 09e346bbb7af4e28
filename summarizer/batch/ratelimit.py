"""Client-side rate limiting for batches: request and token budgets, and backing off
together when the provider says 429.

Providers limit requests per minute and tokens per minute. Staying under both on our
side is cheaper than being told no: every 429 costs a round trip and a wait. When a
429 arrives anyway (limits shared with other clients, or unknown to us), retrying
only that request would let the other requests in flight keep hammering; instead
the whole batch pauses for the server's ``Retry-After`` and the number of requests
allowed in flight is halved, then grows back by one per window of successes
(additive increase, multiplicative decrease, as TCP does for congestion). Only one
halving happens per "generation" of requests, so a burst of 429s answering requests
that were all sent before the first one was seen counts once.

The limiter also orders the work of its event loop: **requests go out first**. A
batch's event loop interleaves two kinds of work, sending requests (a few
scheduling hops through httpx, each cheap) and handling answers (parsing,
validation, grounding: milliseconds each, all CPU). The loop runs ready work
first come, first served, so each hop of a request waited behind every answer
being handled; after a burst of answers the slots they freed stayed empty for
tens of milliseconds (measured: about 7% of a batch's wall time, and a dip to half
the concurrency after the first round). Work that follows an answer therefore
waits, up to :data:`_SEND_FIRST_MAX_WAIT`, until every admitted request has been
written out (:meth:`Ticket.mark_sent`, called by the transport once the body is
on the wire and at the latest by :meth:`RateLimiter.release`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Literal

from summarizer.errors import ConfigurationError

# How many seconds of budget may be spent at once: a full minute's burst would
# trip per-second enforcement some providers apply within the minute.
_BURST_SECONDS = 10.0
_DEFAULT_PAUSE = 1.0
# How long handling an answer may wait for requests still being written: long
# enough for a burst of them, short enough that a stuck connect cannot stall a loop.
_SEND_FIRST_MAX_WAIT = 0.05


def parse_rate_limit(spec: str) -> tuple[float | None, float | None]:
    """``"500rpm"``, ``"90000tpm"`` or both (``"500rpm,90000tpm"``) -> (rpm, tpm)."""
    rpm = tpm = None
    for part in spec.replace(" ", "").lower().split(","):
        number, unit = part[:-3], part[-3:]
        try:
            value = float(number)
        except ValueError:
            value = -1.0
        if unit not in ("rpm", "tpm") or value <= 0:
            raise ConfigurationError(
                f"--rate-limit {spec!r}: expected e.g. 500rpm, 90000tpm or 500rpm,90000tpm"
            )
        if unit == "rpm":
            rpm = value
        else:
            tpm = value
    return rpm, tpm


class _Bucket:
    """A token bucket refilled at ``per_minute / 60`` per second."""

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * _BURST_SECONDS)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` is available (a request larger than the bucket
        waits for a full bucket, then goes)."""
        self._refill(now)
        amount = min(amount, self.capacity)
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate

    def take(self, amount: float) -> None:
        self.level -= amount

    def give_back(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)


@dataclass
class Ticket:
    """One admitted request: its generation and the tokens reserved for it.

    A transport that can tell when a request is written out (ours:
    :class:`~summarizer.backends.http.ShardedTransport`) calls :meth:`mark_sending`
    when it starts and :meth:`mark_sent` when the body is on the wire; requests
    through any other transport are simply not waited for.
    """

    generation: int
    tokens: float
    _limiter: RateLimiter | None = field(default=None, repr=False)
    _sending: bool = field(default=False, repr=False)

    def mark_sending(self) -> None:
        if self._limiter is not None and not self._sending:
            self._sending = True
            self._limiter._started_sending()

    def mark_sent(self) -> None:
        """The request is on the wire (or failed before it got there)."""
        if self._limiter is not None and self._sending:
            self._sending = False
            self._limiter._sent()


@dataclass
class LimiterStats:
    throttled: int = 0  # 429s seen
    backoffs: int = 0  # times the window was halved
    waited_s: float = 0.0  # time requests spent waiting for admission
    min_window: float = field(default=0.0)


class RateLimiter:
    """Admits requests under ``concurrency``, ``rpm`` and ``tpm``; see the module doc.

    Create it inside the event loop that uses it.
    """

    def __init__(
        self, concurrency: int, rpm: float | None = None, tpm: float | None = None
    ) -> None:
        self.max_window = float(max(1, concurrency))
        self.window = self.max_window
        self.in_flight = 0
        self.paused_until = 0.0
        self.generation = 0
        self._requests = _Bucket(rpm) if rpm else None
        self._tokens = _Bucket(tpm) if tpm else None
        self._changed = asyncio.Condition()
        self.stats = LimiterStats(min_window=self.window)
        self._sending = 0  # requests being written out (see Ticket)
        self._all_sent = asyncio.Event()
        self._all_sent.set()

    def _started_sending(self) -> None:
        self._sending += 1
        self._all_sent.clear()

    def _sent(self) -> None:
        self._sending -= 1
        if self._sending == 0:
            self._all_sent.set()

    async def requests_sent(self) -> None:
        """Wait until every request being sent has been written out (at most
        :data:`_SEND_FIRST_MAX_WAIT`): CPU work on this loop calls this first."""
        await asyncio.sleep(0)  # requests just let in start first
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _SEND_FIRST_MAX_WAIT
        while self._sending:
            left = deadline - loop.time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self._all_sent.wait(), left)
            except TimeoutError:
                return

    def _wait_time(self, tokens: float, now: float) -> float:
        wait = max(0.0, self.paused_until - now)
        if self._requests is not None:
            wait = max(wait, self._requests.wait_time(1.0, now))
        if self._tokens is not None:
            wait = max(wait, self._tokens.wait_time(tokens, now))
        return wait

    async def acquire(self, tokens: float = 0.0) -> Ticket:
        """Wait until one more request may go; ``tokens`` is its estimated size."""
        started = time.monotonic()
        async with self._changed:
            while True:
                if self.in_flight >= int(self.window):
                    await self._changed.wait()
                    continue
                wait = self._wait_time(tokens, time.monotonic())
                if wait <= 0:
                    break
                with contextlib.suppress(TimeoutError):  # a release may wake us early
                    await asyncio.wait_for(self._changed.wait(), timeout=wait)
            self.in_flight += 1
            if self._requests is not None:
                self._requests.take(1.0)
            if self._tokens is not None:
                self._tokens.take(tokens)
        self.stats.waited_s += time.monotonic() - started
        return Ticket(self.generation, tokens, self)

    async def release(
        self,
        ticket: Ticket,
        *,
        used_tokens: int | None = None,
        outcome: Literal["ok", "rate_limited", "error"] = "ok",
        retry_after: float | None = None,
    ) -> None:
        """Return the slot, correct the token estimate, and adapt to the outcome;
        then wait for requests being sent (see the module doc)."""
        ticket.mark_sent()
        async with self._changed:
            self.in_flight -= 1
            if self._tokens is not None and used_tokens is not None:
                self._tokens.give_back(ticket.tokens - used_tokens)
            if outcome == "rate_limited":
                self.stats.throttled += 1
                pause = retry_after if retry_after is not None else _DEFAULT_PAUSE
                self.paused_until = max(self.paused_until, time.monotonic() + pause)
                if ticket.generation == self.generation:
                    self.generation += 1
                    self.window = max(1.0, self.window / 2)
                    self.stats.backoffs += 1
                    self.stats.min_window = min(self.stats.min_window, self.window)
            elif outcome == "ok":
                self.window = min(self.max_window, self.window + 1.0 / self.window)
            # Wake as many waiters as there are free slots, not all of them.
            self._changed.notify(max(1, int(self.window) - self.in_flight))
        await self.requests_sent()
