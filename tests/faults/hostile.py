"""Hostile servers for the fault suite (#12): an OpenAI-compatible endpoint and a web
server that misbehave on purpose, on 127.0.0.1 only, each bounded in time.

Both speak raw HTTP/1.1 over sockets, one thread per connection, so that a test
controls every byte and every pause: a body sent a byte at a time, one that never
ends, headers that never end. A connection closes when the server's ``lifetime``
is over, whatever it is doing, and sends at most :data:`MAX_SEND` bytes; the server
stops accepting then too. So a client that never gives up cannot keep a test
running for longer than ``lifetime`` (20 s by default).

:class:`HostileModel` answers ``POST .../chat/completions`` in its ``mode`` (see
:data:`MODEL_MODES`), except requests whose body contains :data:`GOOD` (an article
with that marker in it), and every request after the first ``times`` hostile ones,
which get the ``good`` summary: a batch can mix hostile answers with articles that
must still come through, and a retried request can succeed. :class:`HostilePages`
serves every GET in its ``mode`` (see :data:`PAGE_MODES`).

A mode is a generator of what to do, in order: ``bytes`` to send, or a ``float``,
seconds to pause.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from functools import cache
from typing import Any, Self

from tests.fakeserver import completion

GOOD = "PLEASE-ANSWER-WELL"
MAX_SEND = 256 * 1024 * 1024  # what a connection sends at most, whatever the mode
HUGE = 200 * 1024 * 1024

MODEL_MODES = (
    "drip",  # a valid answer, one byte every `interval` seconds (headers at once)
    "drip_headers",  # the status line and headers themselves, a byte at a time
    "endless",  # 200, chunked, a JSON string that never ends, as fast as it is read
    "endless_slow",  # the same, a few bytes every `interval`
    "huge",  # 200, Content-Length 200 MB, sent as fast as the client reads
    "huge_chunked",  # 200 MB without a Content-Length (chunked)
    "gzip_bomb",  # 200, Content-Encoding: gzip, 200 KB that inflate to 200 MB
    "big_headline",  # a well-formed summary whose headline is `headline_chars` long
    "deep",  # 200, a JSON body nested 200 000 levels deep
    "invalid_utf8",  # 200, application/json with bytes that are not UTF-8
    "html",  # 200, text/html: a gateway's page instead of JSON
    "html_as_json",  # 200, application/json, but the body is HTML
    "not_a_completion",  # 200, JSON, but choices is a string
    "echo_headers",  # 500 whose message echoes every request header
    "retry_after",  # 429 with Retry-After: `retry_after`
    "reset",  # reads the request, then resets the connection
)
PAGE_MODES = ("drip", "drip_headers", "endless_slow")

Steps = Iterator[bytes | float]


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _response(status: str, body: bytes, content_type: str, **headers: str) -> bytes:
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    ).encode("latin-1") + body


def _head(content_type: str, **headers: str) -> bytes:
    """The status line and headers of a 200 whose body follows (chunked unless a
    content_length is given)."""
    if "content_length" not in headers:
        headers["transfer_encoding"] = "chunked"
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    return f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\n{extra}\r\n".encode("latin-1")


def _sized(head: bytes, total: int, tail: bytes) -> Iterator[bytes]:
    """``head``, then ``a`` up to ``total`` bytes in all, then ``tail``; lazily."""
    yield head
    left = total - len(head) - len(tail)
    block = b"a" * 65536
    while left > 0:
        yield block[:left]
        left -= len(block)
    yield tail


_HUGE_HEAD = (
    b'{"id": "x", "object": "chat.completion", "created": 0, "model": "m", '
    b'"choices": [{"index": 0, "finish_reason": "stop", "message": '
    b'{"role": "assistant", "content": "'
)
_HUGE_TAIL = b'"}}]}'


@cache
def _gzip_bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    body = b"".join(packer.compress(p) for p in _sized(_HUGE_HEAD, HUGE, _HUGE_TAIL))
    return body + packer.flush()


def reset(conn: socket.socket) -> None:
    """Close ``conn`` with a TCP reset instead of a clean close."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


class _Reset(Exception):
    """Raised by a mode to reset the connection."""


class _HostileServer:
    """The socket side both servers share; subclasses answer in :meth:`answer`."""

    def __init__(self, mode: str, *, interval: float, lifetime: float) -> None:
        self.mode = mode
        self.interval = interval
        self.lifetime = lifetime
        self.requests: list[dict[str, Any]] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._ends = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> Self:
        self._ends = time.monotonic() + self.lifetime
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _live(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._ends

    def _accept(self) -> None:
        while self._live():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(2.0)
        sent = 0
        try:
            request = self._read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            for step in self.answer(request):
                if not self._live() or sent > MAX_SEND:
                    return
                if isinstance(step, bytes):
                    conn.sendall(step)
                    sent += len(step)
                else:
                    self._stop.wait(step)
        except _Reset:
            reset(conn)
        except OSError:
            pass  # the client gave up (deadline, size cap): that is the point
        finally:
            conn.close()

    @staticmethod
    def _read_request(conn: socket.socket) -> dict[str, Any] | None:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return {"method": method, "path": path, "headers": headers, "body": body}

    def _trickle(self, data: bytes) -> Steps:
        for i in range(len(data)):
            yield data[i : i + 1]
            yield self.interval

    def answer(self, request: dict[str, Any]) -> Steps:
        raise NotImplementedError


class HostileModel(_HostileServer):
    """``with HostileModel("deep", good=summary) as server: ... server.url ...``.

    ``good`` is the summary (JSON) sent to requests that carry :data:`GOOD`, and to
    every request after the first ``times`` hostile answers (``None``: all are).
    """

    def __init__(
        self,
        mode: str,
        *,
        good: dict[str, Any] | None = None,
        times: int | None = None,
        retry_after: str = "86400",
        headline_chars: int = 1_000_000,
        interval: float = 0.25,
        lifetime: float = 20.0,
    ) -> None:
        assert mode in MODEL_MODES, mode
        super().__init__(mode, interval=interval, lifetime=lifetime)
        self.good = good
        self.times = times
        self.retry_after = retry_after
        self.headline_chars = headline_chars
        self.hostile_answers = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _good(self) -> bytes:
        assert self.good is not None, "no good answer to give"
        return json.dumps(completion(content=json.dumps(self.good))).encode()

    def answer(self, request: dict[str, Any]) -> Steps:
        if not request["path"].rstrip("/").endswith("/chat/completions"):
            yield _response("404 Not Found", b'{"error": {"message": "no"}}', "application/json")
            return
        worn_out = self.times is not None and self.hostile_answers >= self.times
        if GOOD.encode() in request["body"] or worn_out:
            yield _response("200 OK", self._good(), "application/json")
            return
        self.hostile_answers += 1
        yield from getattr(self, "_" + self.mode)()

    def _valid(self) -> bytes:
        if self.good is not None:
            return self._good()
        return json.dumps(completion(content='{"not": "a summary"}')).encode()

    def _drip(self) -> Steps:
        body = self._valid()
        yield _head("application/json", content_length=str(len(body)))
        yield from self._trickle(body)

    def _drip_headers(self) -> Steps:
        yield from self._trickle(_response("200 OK", self._valid(), "application/json"))

    def _endless(self, pause: float = 0.0, block: bytes = b"a" * 65536) -> Steps:
        yield _head("application/json")
        yield _chunk(_HUGE_HEAD)
        while True:
            yield _chunk(block)
            if pause:
                yield pause

    def _endless_slow(self) -> Steps:
        yield from self._endless(self.interval, b"abcd")

    def _huge(self) -> Steps:
        yield _head("application/json", content_length=str(HUGE), connection="close")
        yield from _sized(_HUGE_HEAD, HUGE, _HUGE_TAIL)

    def _huge_chunked(self) -> Steps:
        yield _head("application/json")
        for part in _sized(_HUGE_HEAD, HUGE, _HUGE_TAIL):
            yield _chunk(part)
        yield b"0\r\n\r\n"

    def _gzip_bomb(self) -> Steps:
        yield _response("200 OK", _gzip_bomb(), "application/json", content_encoding="gzip")

    def _big_headline(self) -> Steps:
        assert self.good is not None
        summary = json.loads(json.dumps(self.good))
        summary["key_summary"]["headline"] = "Breaking " * (self.headline_chars // 9)
        body = json.dumps(completion(content=json.dumps(summary))).encode()
        yield _response("200 OK", body, "application/json")

    def _deep(self) -> Steps:
        body = b'{"choices": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
        yield _response("200 OK", body, "application/json")

    def _invalid_utf8(self) -> Steps:
        body = self._valid().replace(b'"content": "', b'"content": "\xff\xfe\xc3(', 1)
        yield _response("200 OK", body, "application/json")

    def _html(self) -> Steps:
        page = b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
        yield _response("200 OK", page, "text/html")

    def _html_as_json(self) -> Steps:
        page = b"<html><body><h1>Welcome to the portal</h1></body></html>"
        yield _response("200 OK", page, "application/json")

    def _not_a_completion(self) -> Steps:
        body = json.dumps({"id": "x", "object": "chat.completion", "choices": "none"}).encode()
        yield _response("200 OK", body, "application/json")

    def _echo_headers(self) -> Steps:
        request = self.requests[-1]
        echoed = "; ".join(f"{k}: {v}" for k, v in request["headers"].items())
        body = json.dumps({"error": {"message": f"bad request, you sent {echoed}"}}).encode()
        yield _response("500 Internal Server Error", body, "application/json")

    def _retry_after(self) -> Steps:
        body = b'{"error": {"message": "slow down", "type": "rate_limit"}}'
        status = "429 Too Many Requests"
        yield _response(status, body, "application/json", retry_after=self.retry_after)

    def _reset(self) -> Steps:
        raise _Reset
        yield b""  # a generator, like the other modes


class HostilePages(_HostileServer):
    """``with HostilePages("drip") as pages: pages.url()``: every GET answers in
    ``mode`` a page that would be fine if it ever arrived in full."""

    PAGE = (
        b"<html><head><title>A story</title></head><body><article><p>"
        + b"The council met on Monday and agreed to rebuild the bridge by May. " * 20
        + b"</p></article></body></html>"
    )

    def __init__(self, mode: str, *, interval: float = 0.25, lifetime: float = 20.0) -> None:
        assert mode in PAGE_MODES, mode
        super().__init__(mode, interval=interval, lifetime=lifetime)

    def url(self, path: str = "/story") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, request: dict[str, Any]) -> Steps:
        whole = _response("200 OK", self.PAGE, "text/html; charset=utf-8")
        if self.mode == "drip_headers":
            yield from self._trickle(whole)
        elif self.mode == "drip":
            yield whole[: -len(self.PAGE)]
            yield from self._trickle(self.PAGE)
        else:  # endless_slow
            yield _head("text/html; charset=utf-8")
            yield _chunk(self.PAGE[:200])
            while True:
                yield _chunk(b"<p>more</p>")
                yield self.interval
