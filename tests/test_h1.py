"""The HTTP/1.1 transport to plain ``http://`` model endpoints (summarizer.backends.h1),
against a scripted server on loopback: framing, reuse, and hostile or broken answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from summarizer.backends import h1
from summarizer.backends.h1 import H1Transport
from summarizer.backends.http import ShardedTransport


@dataclass
class Script:
    """A server that reads each request whole and answers it with ``reply(n, request)``
    (bytes to write; None: close without answering); it records what it saw."""

    reply: Callable[[int, bytes], Awaitable[bytes | None] | bytes | None]
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # a connection ended
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request = await _read_request(reader)
                self.requests.append(request)
                answer = self.reply(len(self.requests), request)
                if asyncio.iscoroutine(answer):  # a slow answer: give up if the client goes
                    answer = asyncio.ensure_future(answer)
                    gone = asyncio.ensure_future(reader.read(1))
                    done, _ = await asyncio.wait({answer, gone}, return_when="FIRST_COMPLETED")
                    if gone in done:
                        answer.cancel()  # type: ignore[union-attr]
                        break
                    answer = answer.result()  # type: ignore[union-attr]
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went, or the test ended
        finally:
            self.ended.set()
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = [
        int(x.split(b":")[1])
        for x in head.split(b"\r\n")
        if x.lower().startswith(b"content-length:")
    ]
    return head + await reader.readexactly(length[0] if length else 0)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Script]]]:
    servers: list[asyncio.Server] = []

    async def start(reply: Callable[[int, bytes], object]) -> Script:
        script = Script(reply)  # type: ignore[arg-type]
        server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
        servers.append(server)
        script.port = server.sockets[0].getsockname()[1]
        return script

    yield start
    for server in servers:
        server.close()


async def _post(transport: httpx.AsyncBaseTransport, port: int, **kw: object) -> httpx.Response:
    """One request through a client left open (closing it would close the transport)."""
    client = httpx.AsyncClient(transport=transport)
    url = str(kw.pop("url", f"http://127.0.0.1:{port}/v1/chat?x=1"))
    response = await client.post(url, json={"a": 1}, **kw)  # type: ignore[arg-type]
    await response.aread()
    return response


def _answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


async def test_requests_share_one_kept_alive_connection_and_arrive_as_sent(serve) -> None:  # type: ignore[no-untyped-def]
    script = await serve(lambda n, _: _answer(json.dumps({"n": n}).encode()))
    transport = H1Transport(4)
    answers = [(await _post(transport, script.port)).json()["n"] for _ in range(5)]
    assert answers == [1, 2, 3, 4, 5]
    assert script.connections == 1
    first = script.requests[0]
    assert first.startswith(b"POST /v1/chat?x=1 HTTP/1.1\r\n")
    assert b"\r\ncontent-length: 7\r\n" in first.lower()
    assert first.endswith(b'{"a":1}')
    assert b"\r\nhost: 127.0.0.1:" in first.lower()
    await transport.aclose()


async def test_chunked_answers_with_extensions_trailers_and_bare_line_feeds(serve) -> None:  # type: ignore[no-untyped-def]
    chunked = (b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
               b"4;ext=1\r\nabcd\r\n3\nefg\n0\r\nX-Trailer: t\r\n\r\n")  # fmt: skip
    script = await serve(lambda n, _: chunked)
    transport = H1Transport(4)
    for _ in range(2):
        assert (await _post(transport, script.port)).content == b"abcdefg"
    assert script.connections == 1  # read to its end: reused
    await transport.aclose()


async def test_a_body_ended_by_the_connection_is_read_whole_and_not_reused() -> None:
    seen: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(1)
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = H1Transport(4)
    for _ in range(2):
        assert (await _post(transport, port)).content == b"all of it"
    assert len(seen) == 2
    server.close()
    await transport.aclose()


async def test_connection_close_and_http_1_0_answers_are_not_reused(serve) -> None:  # type: ignore[no-untyped-def]
    answers = [_answer(b"a", "Connection: close"), b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb"]
    script = await serve(lambda n, _: answers[(n - 1) % 2])
    transport = H1Transport(4)
    assert [(await _post(transport, script.port)).content for _ in range(4)] == [b"a", b"b"] * 2
    assert script.connections == 4
    await transport.aclose()


async def test_informational_answers_are_skipped(serve) -> None:  # type: ignore[no-untyped-def]
    script = await serve(
        lambda n, _: b"HTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n" + _answer(b"ok")
    )
    transport = H1Transport(4)
    response = await _post(transport, script.port)
    assert (response.status_code, response.content) == (200, b"ok")
    assert response.http_version == "HTTP/1.1"
    assert response.reason_phrase == "OK"
    await transport.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/2 200 OK\r\n\r\n",  # not HTTP/1.x
        b"HTTP/1.1 20 OK\r\n\r\n",  # not a 3-digit status
        b"<html>hello</html>\r\n\r\n",  # not HTTP at all
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",  # space in a name
        b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",  # obsolete line folding
        b"HTTP/1.1 200 OK\r\nNo-colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * (h1.MAX_HEAD + 10) + b"\r\n\r\n",  # head too big
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some",  # then the server closes
    ],
)
async def test_a_broken_or_hostile_answer_is_a_protocol_error_and_the_connection_goes(
    answer: bytes,
) -> None:
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await _read_request(reader)
            writer.write(answer if len(connections) == 1 else _answer(b"fine"))
            await writer.drain()
            if len(connections) > 1:
                await reader.read()  # until the client closes
        except (ConnectionError, asyncio.CancelledError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = H1Transport(4)
    with pytest.raises(httpx.RemoteProtocolError):
        await _post(transport, port)
    assert (await _post(transport, port)).content == b"fine"  # on a new connection
    assert len(connections) == 2
    server.close()
    await transport.aclose()


async def test_a_connection_the_server_closed_while_idle_is_replaced_and_the_request_sent_once(
    serve,
) -> None:  # type: ignore[no-untyped-def]
    script = await serve(lambda n, _: _answer(b"x%d" % n))
    transport = H1Transport(4)
    assert (await _post(transport, script.port)).content == b"x1"
    # The server drops the idle connection, and its close is not seen before the reuse.
    (conn,) = transport._idle[(b"127.0.0.1", script.port)]
    conn.ended = False
    assert conn.transport is not None
    sock = conn.transport.get_extra_info("socket")
    sock.shutdown(2)  # both ways: the write of the next request goes nowhere
    assert (await _post(transport, script.port)).content == b"x2"
    assert script.connections == 2
    assert len(script.requests) == 2
    await transport.aclose()


async def test_a_new_connection_closed_without_an_answer_is_a_protocol_error(serve) -> None:  # type: ignore[no-untyped-def]
    script = await serve(lambda n, _: None)
    transport = H1Transport(4)
    with pytest.raises(httpx.RemoteProtocolError, match="without answering"):
        await _post(transport, script.port)
    await transport.aclose()


async def _silent(n: int, _: bytes) -> bytes:
    """An answer that never comes (the server gives up when the client goes)."""
    await asyncio.sleep(30)
    return b""


async def test_a_silent_server_is_a_read_timeout_and_the_connection_is_closed(serve) -> None:  # type: ignore[no-untyped-def]
    script = await serve(_silent)
    transport = H1Transport(4)
    with pytest.raises(httpx.ReadTimeout):
        await _post(transport, script.port, timeout=httpx.Timeout(5, read=0.2))
    await asyncio.wait_for(script.ended.wait(), 5)  # the server saw the connection end
    await transport.aclose()


async def test_a_cancelled_request_closes_its_connection(serve) -> None:  # type: ignore[no-untyped-def]
    script = await serve(_silent)
    transport = H1Transport(4)
    task = asyncio.ensure_future(_post(transport, script.port))
    while not script.requests:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(script.ended.wait(), 5)  # the model server sees the abort
    assert transport._slots is not None
    assert transport._slots._value == 4
    await transport.aclose()


async def test_no_server_is_a_connect_error() -> None:
    transport = H1Transport(4)
    with pytest.raises(httpx.ConnectError):
        await _post(transport, 9)  # the discard port: nothing listens on loopback
    await transport.aclose()


async def test_requests_beyond_max_connections_wait_for_a_slot_then_time_out(serve) -> None:  # type: ignore[no-untyped-def]
    script = await serve(lambda n, _: _answer(b"held"))
    transport = H1Transport(1)
    async with httpx.AsyncClient(transport=transport) as client:
        url = f"http://127.0.0.1:{script.port}/"
        held = await client.send(client.build_request("GET", url), stream=True)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(url, timeout=httpx.Timeout(5, pool=0.1))
        await held.aclose()  # read or not, closing frees the slot
        assert (await client.get(url)).content == b"held"


async def test_a_body_closed_before_its_end_drops_the_connection(serve) -> None:  # type: ignore[no-untyped-def]
    script = await serve(lambda n, _: _answer(b"0123456789" * 1000))
    transport = H1Transport(4)
    async with httpx.AsyncClient(transport=transport) as client:
        url = f"http://127.0.0.1:{script.port}/"
        async with client.stream("GET", url) as response:
            async for _ in response.aiter_raw(10):
                break
        assert (await client.get(url)).content == b"0123456789" * 1000
    assert script.connections == 2


def test_the_transport_serves_one_event_loop_after_another(serve) -> None:  # type: ignore[no-untyped-def]
    transport = H1Transport(2)

    async def once() -> bytes:
        server = await asyncio.start_server(_echo_ok, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return (await _post(transport, port)).content
        finally:
            server.close()

    assert asyncio.run(once()) == asyncio.run(once()) == b"ok"


async def _echo_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(_answer(b"ok"))
    await writer.drain()
    writer.close()


async def test_a_header_with_a_line_break_is_never_sent(serve) -> None:  # type: ignore[no-untyped-def]
    script = await serve(lambda n, _: _answer(b"ok"))
    transport = H1Transport(2)
    request = httpx.Request("POST", f"http://127.0.0.1:{script.port}/", content=b"x")
    request.headers._list.append((b"x-bad", b"x-bad", b"a\r\nInjected: yes"))
    with pytest.raises(httpx.LocalProtocolError):
        await transport.handle_async_request(request)
    assert script.requests == []
    await transport.aclose()


async def test_the_sharded_transport_sends_plain_http_here_and_caps_the_answer(serve) -> None:  # type: ignore[no-untyped-def]
    from summarizer.backends.http import AnswerTooLargeError, limits

    script = await serve(lambda n, _: _answer(b"y" * 5000))
    transport = ShardedTransport(8)
    async with httpx.AsyncClient(transport=transport) as client:
        url = f"http://127.0.0.1:{script.port}/"
        assert (await client.get(url)).content == b"y" * 5000
        with limits(10, 1000), pytest.raises(AnswerTooLargeError):
            await client.get(url)
    assert transport._plain._idle == {}  # closed with the client


# -- found by an attacker's review of the transport (each failed before its fix) -------


async def test_a_request_the_server_read_then_dropped_is_not_sent_again(serve) -> None:  # type: ignore[no-untyped-def]
    # The server read the second request (a model may have run it) and closed
    # without answering: sending it again on a new connection would run it twice.
    script = await serve(lambda n, _: None if n == 2 else _answer(b"x%d" % n))
    transport = H1Transport(4)
    assert (await _post(transport, script.port)).content == b"x1"
    with pytest.raises(httpx.RemoteProtocolError, match="without answering"):
        await _post(transport, script.port)
    assert len(script.requests) == 2  # the caller's retry policy decides, not this
    await transport.aclose()


async def test_an_answer_sent_before_the_request_body_was_read_is_returned() -> None:
    # A gateway refuses a big body at once (413) and drops the connection while the
    # body is still being written: the answer arrived and must be what the caller sees.
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(_answer(b"too large", "Connection: close", status="413 Too Large"))
            await writer.drain()
            await asyncio.sleep(0.2)  # the client has read the answer meanwhile
        finally:
            writer.transport.abort()  # with the body unread: a reset

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = H1Transport(4)
    client = httpx.AsyncClient(transport=transport)
    url = f"http://127.0.0.1:{port}/"
    response = await client.post(url, content=b"x" * (64 << 20))
    assert (response.status_code, response.content) == (413, b"too large")
    server.close()
    await transport.aclose()


async def test_bytes_after_a_body_that_filled_the_buffer_are_never_the_next_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The body filled the buffer exactly, so reading paused; the bytes the server sent
    # after it stay in the socket while the connection idles. Reused, the connection
    # read them as the answer to the next request.
    monkeypatch.setattr(h1, "HIGH_WATER", 100_000)
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await _read_request(reader)
            if len(connections) == 1:
                writer.write(_answer(b"b" * 100_000))
                await writer.drain()
                await asyncio.sleep(0.3)
                writer.write(_answer(b"stale"))
                await _read_request(reader)
            writer.write(_answer(b"fresh"))
            await writer.drain()
            await reader.read()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = H1Transport(4)
    client = httpx.AsyncClient(transport=transport)
    async with client.stream("POST", f"http://127.0.0.1:{port}/", content=b"{}") as response:
        await asyncio.sleep(0.2)  # the whole body is buffered, reading paused
        assert len(await response.aread()) == 100_000
    await asyncio.sleep(0.3)  # the stale answer is in the socket
    assert (await _post(transport, port)).content == b"fresh"
    server.close()
    await transport.aclose()


_LONG_EXTENSION = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + b"e" * 2000


def _in_parts(*parts: bytes) -> Callable[..., Awaitable[None]]:
    """A server that reads a request, then writes ``parts`` 0.1 s apart (so each
    arrives in its own read) and waits for the client to close."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _read_request(reader)
            for i, part in enumerate(parts):
                if i:
                    await asyncio.sleep(0.1)
                writer.write(part)
                await writer.drain()
            await reader.read()
        finally:
            writer.close()

    return handle


@pytest.mark.parametrize("pause", [False, True])
async def test_a_chunk_size_line_over_its_limit_is_refused_however_it_arrives(
    pause: bool,
) -> None:
    # Refused when it came in two reads, accepted when it came in one.
    tail = _LONG_EXTENSION[-100:] + b"\r\nhello\r\n0\r\n\r\n"
    handle = _in_parts(
        *([_LONG_EXTENSION[:-100], tail] if pause else [_LONG_EXTENSION + tail[100:]])
    )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = H1Transport(4)
    with pytest.raises(httpx.RemoteProtocolError, match="over 1024"):
        await _post(transport, port)
    server.close()
    await transport.aclose()


async def test_a_long_trailer_line_is_accepted_however_it_arrives() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"
    handle = _in_parts(head + b"X-Trailer: " + b"t" * 1500, b"\r\n\r\n")
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = H1Transport(4)
    assert (await _post(transport, port)).content == b"ok"
    server.close()
    await transport.aclose()


async def test_a_status_under_100_is_not_skipped_as_informational(serve) -> None:  # type: ignore[no-untyped-def]
    script = await serve(lambda n, _: b"HTTP/1.1 099 Odd\r\n\r\n" + _answer(b"smuggled"))
    transport = H1Transport(4)
    with pytest.raises(httpx.RemoteProtocolError):
        await _post(transport, script.port)
    await transport.aclose()


async def test_a_method_that_is_not_a_token_is_never_sent(serve) -> None:  # type: ignore[no-untyped-def]
    script = await serve(lambda n, _: _answer(b"ok"))
    transport = H1Transport(2)
    method = "GET / HTTP/1.1\r\nX-Injected: 1\r\nX"
    request = httpx.Request(method, f"http://127.0.0.1:{script.port}/", content=b"x")
    with pytest.raises(httpx.LocalProtocolError):
        await transport.handle_async_request(request)
    assert script.requests == []
    await transport.aclose()


async def test_an_answer_framed_both_ways_does_not_keep_its_connection(serve) -> None:  # type: ignore[no-untyped-def]
    # Transfer-Encoding and Content-Length together (RFC 9112 6.3: to be handled as an
    # error): the chunked framing is read, and the connection is not trusted again.
    script = await serve(
        lambda n, _: (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 7\r\n\r\n"
            b"2\r\nok\r\n0\r\n\r\n"
        )
    )
    transport = H1Transport(4)
    for _ in range(2):
        assert (await _post(transport, script.port)).content == b"ok"
    assert script.connections == 2
    await transport.aclose()


async def test_a_host_name_that_cannot_resolve_is_a_connect_error_that_says_so() -> None:
    # An empty or 64-character label made the socket module's IDNA codec raise a bare
    # UnicodeError; httpcore says ConnectError from gaierror ("unresolved" to retry.py).
    from summarizer.backends.retry import unreachable

    transport = H1Transport(2)
    for host in ("model..invalid", "m" * 64 + ".invalid"):
        with pytest.raises(httpx.ConnectError) as caught:
            await _post(transport, 80, url=f"http://{host}/")
        assert unreachable(caught.value) == "unresolved"
    await transport.aclose()
