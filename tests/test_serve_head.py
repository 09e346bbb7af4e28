"""``summarizer serve`` under uvicorn closes a connection whose request head does not
arrive in time (see summarizer.serve.protocol): one that sends nothing, one that
stops in the middle of its headers, and a kept-alive one whose next request stalls.
A request that arrives whole is served as ever."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from summarizer.serve.auth import add_key
from summarizer.serve.protocol import HEAD_TIMEOUT, http_protocol
from tests.conftest import start_serve

TIMEOUT = 1.0  # the server's --timeout, and so its head deadline here


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """A server on the rules model (no model server), its port and a key."""
    keys = tmp_path_factory.mktemp("keys") / "keys.toml"
    key = add_key(keys, "alice")
    env = {**os.environ, "SUMMARIZER_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    proc, url, _ = start_serve(
        "--keys", str(keys), "--model", "rules", "--timeout", str(TIMEOUT), env=env
    )
    try:
        yield int(url.rsplit(":", 1)[1]), key
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        assert proc.stderr is not None
        proc.stderr.close()


def _closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (reading what it sends), at most ``limit``."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        pytest.fail(f"the connection was still open after {limit} s")
    return time.monotonic() - started


def _request(key: str, body: bytes = b'{"text": "' + b"Word and word. " * 20 + b'"}') -> bytes:
    return (
        b"POST /v1/summaries HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
        + f"authorization: Bearer {key}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        + body
    )


def test_a_connection_that_sends_nothing_is_closed(server: tuple[int, str]) -> None:
    with socket.create_connection(("127.0.0.1", server[0])) as sock:
        assert _closed_after(sock, TIMEOUT + 10) >= TIMEOUT * 0.9


def test_a_head_that_stalls_halfway_is_closed(server: tuple[int, str]) -> None:
    with socket.create_connection(("127.0.0.1", server[0])) as sock:
        sock.sendall(b"POST /v1/summaries HTTP/1.1\r\nhost: test\r\n")
        time.sleep(TIMEOUT / 2)
        sock.sendall(b"x-slow: 1\r\n")  # a byte now and then does not keep it open
        assert _closed_after(sock, TIMEOUT + 10) < TIMEOUT + 5


def test_a_kept_alive_connection_whose_next_head_stalls_is_closed(
    server: tuple[int, str],
) -> None:
    with socket.create_connection(("127.0.0.1", server[0])) as sock:
        sock.sendall(_request(server[1]))
        sock.settimeout(30)
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        time.sleep(TIMEOUT * 1.5)  # well past the deadline of the first head: still open
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # and then nothing
        assert _closed_after(sock, TIMEOUT + 10) < TIMEOUT + 5


def test_the_deadline_is_the_shorter_of_the_two() -> None:
    assert HEAD_TIMEOUT == 10.0
    assert http_protocol(1.0) != "auto"  # httptools is there (the [serve] extra)
