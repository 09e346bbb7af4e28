"""A tiny web server on a free 127.0.0.1 port serving pages a test defines.

Each route is a :class:`Page`: status, headers, body, an optional delay before
answering, and whether to send Content-Length (without it the body runs until the
connection closes, as a streamed page would). Every request's headers are kept.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_length: bool = True


def redirect(to: str, status: int = 302) -> Page:
    return Page(status=status, content_type=None, headers={"location": to})


class PageServer:
    """``with PageServer({"/a": Page(b"...")}) as server: server.url("/a")``."""

    def __init__(self, routes: dict[str, Page] | None = None) -> None:
        self.routes: dict[str, Page] = dict(routes or {})
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append({k.lower(): v for k, v in self.headers.items()})
                page = server.routes.get(self.path, Page(b"not here", 404, "text/plain"))
                if page.delay:
                    time.sleep(page.delay)
                try:
                    self.send_response(page.status)
                    if page.content_type:
                        self.send_header("content-type", page.content_type)
                    if page.content_length:
                        self.send_header("content-length", str(len(page.body)))
                    for k, v in page.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(page.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (size cap, timeout): that is the test

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
