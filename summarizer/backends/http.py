"""The HTTP side of a model request: bounded answers, and a transport for many
concurrent requests.

**Bounded answers** (#12). While :func:`limits` is in force (the OpenAI backend sets
it around each request), the transports here give the request a deadline and cap its
answer: at most ``max_bytes`` of body are read, *decoded* (gzip and deflate are
inflated here, within the cap, so a small compressed bomb cannot become gigabytes),
and a ``Content-Length`` over the cap fails before a byte of the body is read. Over
the cap, reading stops with :class:`AnswerTooLargeError`. :func:`completion_json`
then turns the body into the JSON of a chat completion, or raises
:class:`AnswerError` saying what it is instead (not UTF-8, not JSON, nested too
deeply, HTML, not the shape of a chat completion). The deadline is
:mod:`summarizer.deadline`'s: every socket operation of a sync request ends by it;
async requests are also bounded by ``asyncio.timeout`` in the backend.

**Many concurrent requests.** Plain ``http://`` goes through :mod:`.h1`. httpcore's
pool (TLS) rescans every connection each time a request starts or ends: with 50 it
took half a batch's CPU. Shards of a few connections each keep the same total.
"""

from __future__ import annotations

import json
import math
import ssl
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any, Protocol

import httpx

from summarizer import deadline
from summarizer.backends.h1 import H1Transport
from summarizer.deadline import DeadlineTransport, proxy_mounts

SHARD_SIZE = 8
#: The SDK's own default pool limits, for the clients built here in its place.
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
_INFLATE = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


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


# -- bounded answers -------------------------------------------------------------------


class AnswerError(Exception):
    """An answer that cannot be a chat completion, found while reading or parsing it.

    A transport fault: the request is sent again (``retryable``), as after a 5xx.
    """

    retryable = True


class AnswerTooLargeError(AnswerError):
    """An answer body over the cap; not sent again (it would be as large again)."""

    retryable = False

    def __init__(self, cap: int) -> None:
        super().__init__(f"the answer is over the {_size_text(cap)} cap on answer bodies")
        self.cap = cap


def _size_text(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n} bytes"


# The answer cap of the request being made on this thread/task (None: no cap).
_ANSWER_CAP: ContextVar[int | None] = ContextVar("summarizer_answer_cap", default=None)


@contextmanager
def limits(seconds: float, max_bytes: int) -> Iterator[None]:
    """Requests made in the block through the transports here end within
    ``seconds`` in all and read at most ``max_bytes`` of answer (see the module doc)."""
    token = _ANSWER_CAP.set(max_bytes)
    try:
        with deadline.deadline(seconds):
            yield
    finally:
        _ANSWER_CAP.reset(token)


@contextmanager
def answer_errors() -> Iterator[None]:
    """An :class:`AnswerError` raised while the body was read, out of whatever the
    SDK wrapped it in (a connection error)."""
    try:
        yield
    except Exception as e:
        if isinstance(e.__cause__, AnswerError) and not isinstance(e, AnswerError):
            raise e.__cause__ from None
        raise


class _CappedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An answer body read within the cap and the deadline, inflated here if encoded."""

    def __init__(self, stream: Any, cap: int, coding: str, declared: str) -> None:
        self._stream, self._cap, self._coding, self._declared = stream, cap, coding, declared
        self._size = 0
        self._inflater: Any = zlib.decompressobj(_INFLATE[coding]) if coding in _INFLATE else None
        self._raw_deflate_left = coding == "deflate"  # some servers send it without a header

    def _start(self) -> None:
        if self._coding and self._inflater is None:
            raise AnswerError(f"the answer is encoded as {self._coding!r}, which was not asked for")
        if self._inflater is None and self._declared.isdigit() and int(self._declared) > self._cap:
            raise AnswerTooLargeError(self._cap)

    def _count(self, data: bytes) -> bytes:
        self._size += len(data)
        if self._size > self._cap:
            raise AnswerTooLargeError(self._cap)
        return data

    def _take(self, chunk: bytes) -> bytes:
        deadline.check()
        if self._inflater is None:
            return self._count(chunk)
        room = self._cap - self._size
        try:
            data = self._inflater.decompress(chunk, room + 1)
        except zlib.error:
            if not (self._raw_deflate_left and self._size == 0):
                raise AnswerError(f"the answer's {self._coding} encoding is corrupt") from None
            self._raw_deflate_left = False
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._take(chunk)
        return self._count(data)

    def _end(self) -> bytes:
        return self._count(self._inflater.flush()) if self._inflater is not None else b""

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._stream, httpx.SyncByteStream)
        self._start()
        for chunk in self._stream:
            if data := self._take(chunk):
                yield data
        if tail := self._end():
            yield tail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._stream, httpx.AsyncByteStream)
        self._start()
        async for chunk in self._stream:
            if data := self._take(chunk):
                yield data
        if tail := self._end():
            yield tail

    def close(self) -> None:
        if isinstance(self._stream, httpx.SyncByteStream):
            self._stream.close()

    async def aclose(self) -> None:
        if isinstance(self._stream, httpx.AsyncByteStream):
            await self._stream.aclose()


def _ask_bounded(request: httpx.Request) -> None:
    """Ask for encodings this module can inflate within the cap, and only those."""
    if _ANSWER_CAP.get() is not None:
        request.headers["accept-encoding"] = "gzip, deflate"


def _bounded(response: httpx.Response) -> httpx.Response:
    """``response`` with its body read within the current cap (itself if none is set)."""
    cap = _ANSWER_CAP.get()
    if cap is None:
        return response
    headers = response.headers.copy()
    coding = headers.get("content-encoding", "").strip().lower()
    coding = "" if coding == "identity" else coding
    declared = headers.get("content-length", "").strip()
    if coding in _INFLATE:  # inflated here: httpx must not decode it again
        del headers["content-encoding"]
        headers.pop("content-length", None)
    return httpx.Response(
        status_code=response.status_code,
        headers=headers,
        stream=_CappedStream(response.stream, cap, coding, declared),
        extensions=response.extensions,
    )


class BoundedTransport(DeadlineTransport):
    """The sync transport of a model client: the deadline on every socket operation
    and the answer cap, while :func:`limits` is in force."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _ask_bounded(request)
        return _bounded(super().handle_request(request))


class AsyncBoundedTransport(httpx.AsyncHTTPTransport):
    """The async transport of a model client: the answer cap (the backend bounds the
    time with ``asyncio.timeout``)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _ask_bounded(request)
        return _bounded(await super().handle_async_request(request))


def sync_client(timeout: float) -> httpx.Client:
    """A client like the SDK's default one (proxies from the environment included),
    on :class:`BoundedTransport`."""

    def make(**kwargs: Any) -> httpx.BaseTransport:
        return BoundedTransport(verify=ssl_context(), limits=DEFAULT_LIMITS, **kwargs)

    return httpx.Client(
        transport=make(), mounts=proxy_mounts(make), timeout=timeout, follow_redirects=True
    )


def async_client(timeout: float) -> httpx.AsyncClient:
    """An async client like the SDK's default one, direct connections sharded (one
    pool of 1,000 cost a server 18 ms of CPU a request at 50 in flight)."""

    def make(**kwargs: Any) -> httpx.AsyncBaseTransport:
        return AsyncBoundedTransport(verify=ssl_context(), limits=DEFAULT_LIMITS, **kwargs)

    return httpx.AsyncClient(
        transport=ShardedTransport(DEFAULT_LIMITS.max_connections or 1000),
        mounts=proxy_mounts(make),
        timeout=timeout,
        follow_redirects=True,
    )


def completion_json(response: httpx.Response, cap: int) -> dict[str, Any]:
    """The JSON of a chat completion from a 2xx answer, or :class:`AnswerError`
    saying what the body is instead. Only what the extraction reads is checked
    (the choices, their message, the usage); the rest is kept as sent."""
    body = response.content
    if len(body) > cap:  # a client whose transport did not cap it while reading
        raise AnswerTooLargeError(cap)
    kind = response.headers.get("content-type", "").partition(";")[0].strip() or "no type"
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise AnswerError(f"the answer ({kind}) is not UTF-8 text") from None
    except RecursionError:
        raise AnswerError(f"the answer ({kind}) is JSON nested too deeply") from None
    except ValueError:
        start = " ".join(body[:60].decode("utf-8", "replace").split())
        raise AnswerError(f"the answer ({kind}) is not JSON: {start!r}") from None
    problem = _not_a_completion(data)
    if problem:
        raise AnswerError(f"the answer is JSON but not a chat completion: {problem}")
    assert isinstance(data, dict)
    return data


def _not_a_completion(data: Any) -> str | None:
    if not isinstance(data, dict):
        return f"a {type(data).__name__}, not an object"
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"no choices, and an error: {' '.join(str(error['message']).split())[:200]}"
        return "no choices"
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        return "the first choice has no message"
    if not isinstance(message.get("content"), str | None):
        return "the message content is not text"
    if not isinstance(choice.get("finish_reason"), str | None):
        return "the finish_reason is not text"
    calls = message.get("tool_calls")
    if calls is not None and not (
        isinstance(calls, list)
        and all(
            isinstance(c, dict)
            and isinstance(c.get("function"), dict)
            and isinstance(c["function"].get("arguments"), str)
            for c in calls
        )
    ):
        return "the tool calls are not a list of functions with arguments"
    usage = data.get("usage")
    if usage is not None and not (
        isinstance(usage, dict)
        and all(
            isinstance(usage.get(k), int | float | None)
            for k in ("prompt_tokens", "completion_tokens")
        )
    ):
        return "the usage is not token counts"
    return None


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

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._done is not None:
                self._done()
                self._done = None


class ShardedTransport(httpx.AsyncBaseTransport):
    """``max_connections`` connections: to plain ``http://`` origins through
    :class:`~summarizer.backends.h1.H1Transport`, to others (TLS) in httpcore shards of
    at most :data:`SHARD_SIZE`, each request to the least busy shard."""

    def __init__(self, max_connections: int, **transport_kwargs: object) -> None:
        n = max(1, math.ceil(max_connections / SHARD_SIZE))
        per_shard = math.ceil(max_connections / n)
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        self._plain = H1Transport(max_connections)
        transport_kwargs.setdefault("verify", ssl_context())
        self._shards = [
            httpx.AsyncHTTPTransport(limits=limits, **transport_kwargs)  # type: ignore[arg-type]
            for _ in range(n)
        ]
        self._busy = [0] * n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _ask_bounded(request)
        tracker = SEND_TRACKER.get()
        if tracker is not None and isinstance(request.stream, httpx.AsyncByteStream):
            tracker.mark_sending()
            request.stream = _SentStream(request.stream, tracker.mark_sent)
        if request.url.scheme == "http":
            return _bounded(await self._plain.handle_async_request(request))
        i = min(range(len(self._shards)), key=self._busy.__getitem__)
        self._busy[i] += 1

        def done() -> None:
            self._busy[i] -= 1

        try:
            response = _bounded(await self._shards[i].handle_async_request(request))
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
        await self._plain.aclose()
        for shard in self._shards:
            await shard.aclose()
