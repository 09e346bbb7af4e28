"""A deadline for a whole HTTP request, not just for each read (#12).

httpx's timeouts bound each connect, read and write on its own, so a server that
sends a byte every few seconds keeps a request alive forever. Here a deadline is
set for a block of code (:func:`deadline`, a context variable, so it follows the
request into the transport) and :class:`DeadlineTransport` (an
``httpx.HTTPTransport``) gives every socket operation at most the time left until
then: connecting, sending, the status line and headers, every chunk of the body.
When it has passed, the next operation fails with the ``httpcore`` timeout of its
kind, which httpx raises as ``httpx.ConnectTimeout``/``ReadTimeout``/``WriteTimeout``,
so callers handle it like any other timeout.

Used by the model backends (sync requests; async ones use ``asyncio.timeout``) and
by URL fetching. Transports other than :class:`DeadlineTransport` (a test's
``MockTransport``, one a library user passes in) keep their own timeouts; callers
that read a body chunk by chunk can still call :func:`check` between chunks.

The network backend is installed on the connection pool httpx builds (its private
``_pool._network_backend``); if a later httpx moves it, the transport works
without the deadline, and tests/faults catch that.

httpx ignores the environment's proxies (``HTTPS_PROXY``...) for a client given a
``transport``; :func:`proxy_mounts` gives such a client the same proxies, each on a
transport of the caller's kind, so that proxied requests keep their bounds too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import httpcore
import httpx

T = TypeVar("T")

# time.monotonic() by which the request being made on this thread/task must be done.
_DEADLINE: ContextVar[float | None] = ContextVar("summarizer_http_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Requests made inside the block must be done within ``seconds`` in all;
    yields the deadline (``time.monotonic()`` based)."""
    ends = time.monotonic() + seconds
    token = _DEADLINE.set(ends)
    try:
        yield ends
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds until the current deadline (may be negative), or None if none is set."""
    ends = _DEADLINE.get()
    return None if ends is None else ends - time.monotonic()


def check() -> None:
    """Raise ``httpx.ReadTimeout`` if the current deadline has passed."""
    left = time_left()
    if left is not None and left <= 0:
        raise httpx.ReadTimeout("the request took longer than its deadline")


def _bounded(timeout: float | None, late: type[Exception]) -> float | None:
    """``timeout`` cut to the time left, or ``late`` raised when none is."""
    left = time_left()
    if left is None:
        return timeout
    if left <= 0:
        raise late("the request took longer than its deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._backend.connect_tcp(host, port, bounded, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` (same arguments) whose socket operations end by the
    deadline of :func:`deadline`, when one is set."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pool = getattr(self, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]

    @property
    def has_deadline(self) -> bool:
        """Whether the deadline reached the connection pool (see the module docstring)."""
        pool = getattr(self, "_pool", None)
        return isinstance(getattr(pool, "_network_backend", None), _DeadlineBackend)


def proxy_mounts(make: Callable[..., T]) -> dict[str, T | None]:
    """``mounts`` for an httpx client that is given a transport: the environment's
    proxies, as httpx reads them, each on ``make(proxy=url)``; ``None`` (the client's
    own transport) for ``NO_PROXY`` hosts."""
    try:
        from httpx._utils import get_environment_proxies
    except ImportError:  # pragma: no cover - httpx moved it: no proxies from the environment
        return {}
    return {
        pattern: None if url is None else make(proxy=url)
        for pattern, url in get_environment_proxies().items()
    }
