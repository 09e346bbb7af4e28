"""uvicorn's HTTP/1.1 protocol, with a deadline for each request's head.

uvicorn times out a keep-alive connection that sits idle between requests, and
nothing else: a client that connects and sends nothing, or sends a request line and
then a header byte now and then (Slowloris), held its connection, and one of the
process's file descriptors, for as long as it liked (measured: a connection that
sent half a head was still open a minute later). Enough of them and the server can
accept no one. Here the request line and headers must have arrived within
``HEAD_TIMEOUT`` seconds (at most ``--timeout``) of the connection's start, or of
the request's first byte on a connection kept alive; else the connection is closed
without an answer, as nginx does at its ``client_header_timeout``. The body has its
own deadline (:func:`summarizer.serve.limits.read_body`: 408 after ``--timeout``).
Behind a gateway, its per-client connection limits still apply: this bounds how long
one connection lasts, not how many a client opens.

uvicorn parses with httptools when it is installed (the ``[serve]`` extra installs
it); without it, uvicorn's own h11 protocol runs, and only its idle timeout applies.
"""

from __future__ import annotations

import asyncio
from typing import Any

#: Seconds a request's line and headers may take to arrive, at most.
HEAD_TIMEOUT = 10.0


def http_protocol(timeout: float) -> Any:
    """The protocol class for ``uvicorn.Config(http=...)``, closing a connection whose
    request head is not in after ``timeout`` seconds ("auto" without httptools)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class HeadDeadline(HttpToolsProtocol):
        _head: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._head is None:
                self._head = self.loop.call_later(timeout, self._expired)

        def _disarm(self) -> None:
            if self._head is not None:
                self._head.cancel()
                self._head = None

        def _expired(self) -> None:
            self._head = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeadDeadline
