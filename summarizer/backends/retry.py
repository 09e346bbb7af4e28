"""When a request that did not arrive is sent again, and how long to wait first.

Transport faults only (408/409/429/5xx answers, timeouts, connection errors, and
an answer body that is not a chat completion at all, see
:class:`~summarizer.backends.http.AnswerError`): an answer that arrived but did not
validate is a re-ask, Instructor's business. The wait is capped exponential backoff
with jitter, unless the server said how long (``Retry-After`` or
``retry-after-ms``), still capped; a value that is not a finite number of seconds
(``nan``, ``-5``, ``inf``, garbage) is ignored or capped, never slept on as is.

A server that cannot be reached at all (:func:`unreachable`: its name does not
resolve, or nothing listens on its port) is not waited for on a run's first
request: that is a wrong ``--base-url`` or a server not started, and retrying it
only made the user wait for the error (9 s with the default retries, measured).
Once a server has answered, a refused connection is a restart and is retried like
any other transport fault.
"""

from __future__ import annotations

import email.utils
import math
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
import openai
from tenacity import BaseRetrying, RetryCallState, wait_exponential, wait_random

from summarizer.backends.http import AnswerError
from summarizer.settings import Settings

#: A tenacity retrying object, sync or async.
RetryingT = TypeVar("RetryingT", bound=BaseRetrying)


def _seconds(value: float) -> float | None:
    """A wait in seconds, or None for NaN (which no sleep accepts); inf stays inf."""
    return None if math.isnan(value) else max(value, 0.0)


def retry_after_seconds(headers: httpx.Headers | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``)."""
    if not headers:
        return None
    if ms := headers.get("retry-after-ms"):
        try:
            return _seconds(float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return _seconds(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return _seconds(when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def server_wait(headers: httpx.Headers | None, cap: float) -> float | None:
    """How long the server asked us to wait, at most ``cap`` seconds: a
    ``Retry-After: 86400`` must not stall a request, or a whole batch, for a day."""
    asked = retry_after_seconds(headers)
    return None if asked is None else min(asked, cap)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, AnswerError):
        return exc.retryable
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def unreachable(exc: BaseException) -> str | None:
    """``"unresolved"`` (a host name that does not resolve) or ``"refused"`` (nothing
    listens there) when ``exc`` says the server cannot be reached at all, else None.
    httpx and the SDK keep the socket's own error among the exception's causes."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, socket.gaierror):
            return "unresolved"
        if isinstance(seen, ConnectionRefusedError):
            return "refused"
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def one_run(retrying: RetryingT) -> Iterator[RetryingT]:
    """``retrying``, for one run: :func:`forget_run` when the block ends."""
    try:
        yield retrying
    finally:
        forget_run(retrying)


def forget_run(retrying: BaseRetrying) -> None:
    """Drop what ``retrying`` keeps of its last run, once the run is over.

    tenacity keeps a run's state on the retrying object, and that state points back
    at it: the steps queued for the next attempt are its own bound methods, and an
    ``async for`` keeps its ``RetryCallState``, which names the object. Those are
    reference cycles, which only the garbage collector frees. Each summary made two
    such objects (the transport retries' and the re-asks'), and their cycles were
    all the cyclic garbage a summary left: about 60 objects, enough to start a
    collection every 600 summaries or so, which stopped a ``serve`` worker's event
    loop for 25 to 47 ms each time (measured), every request in it waiting. With the
    cycles broken here, reference counting frees the object when the call returns
    and the collector never has to run (tests/test_answer_path.py).
    """
    retrying.iter_state.reset()
    vars(retrying).pop("_retry_state", None)


class Wait:
    """Exponential backoff with jitter, unless the server said how long to wait."""

    def __init__(self, settings: Settings) -> None:
        self.cap = settings.retry_max_wait
        self.fallback = wait_exponential(
            multiplier=settings.retry_initial_wait, max=settings.retry_max_wait
        ) + wait_random(0, settings.retry_initial_wait)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        response = getattr(exc, "response", None)
        asked = server_wait(response.headers if response is not None else None, self.cap)
        if asked is not None:
            return asked
        return float(self.fallback(state))
