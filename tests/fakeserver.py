"""A scripted OpenAI-compatible server on a free localhost port, for tests.

Tests queue replies (status, JSON body, headers, delay); each POST to
``/v1/chat/completions`` records the request body and pops the next reply. When the
queue is empty the ``default`` reply answers. Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion(
    content: str | None = None,
    *,
    tool_arguments: str | None = None,
    tool_name: str = "ArticleSummary",
    model: str = "fake-model",
    prompt_tokens: int = 700,
    completion_tokens: int = 300,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    """A chat.completion body as OpenAI returns it (see CreateChatCompletionResponse)."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_arguments is not None:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": tool_name, "arguments": tool_arguments},
            }
        ]
        finish_reason = "tool_calls" if finish_reason == "stop" else finish_reason
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def summary_reply(summary: dict[str, Any], *, mode: str = "json_schema", **kw: Any) -> Reply:
    """A 200 reply carrying ``summary`` the way ``mode`` expects it."""
    text = json.dumps(summary)
    if mode == "tools":
        return Reply(body=completion(tool_arguments=text, **kw))
    return Reply(body=completion(content=text, **kw))


def error_reply(status: int, message: str = "error", **headers: str) -> Reply:
    return Reply(
        status=status,
        body={"error": {"message": message, "type": "server_error", "code": None}},
        headers=headers,
    )


class FakeOpenAI:
    """The server; use as a context manager or through the ``fake_openai`` fixture."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default: Reply = error_reply(500, "fake server: no reply queued")
        # When set, answers every request that has no queued reply, from its body.
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.peak_in_flight = 0  # the most chat requests being answered at once
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                payload = (
                    reply.body.encode()
                    if isinstance(reply.body, str)
                    else json.dumps(reply.body).encode()
                )
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(
                        Reply(
                            body={
                                "object": "list",
                                "data": [
                                    {
                                        "id": "fake-model",
                                        "object": "model",
                                        "created": 0,
                                        "owned_by": "me",
                                    }
                                ],
                            }
                        )
                    )
                else:
                    self._send(error_reply(404, "not found"))

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(error_reply(404, f"no route {self.path}"))
                    return
                body = json.loads(raw)
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    queued = server.replies.popleft() if server.replies else None
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    if queued is not None:
                        reply = queued
                    elif server.responder is not None:
                        reply = server.responder(body)
                    else:
                        reply = server.default
                    self._send(reply)
                finally:
                    with server._lock:
                        server.in_flight -= 1

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
