"""The fake OpenAI-compatible server, on a free 127.0.0.1 port, in two modes.

* **Scripted**, for tests (:class:`FakeOpenAI`, usually through the ``fake_openai``
  fixture): tests queue replies (status, JSON body, headers, delay); each
  ``POST /v1/chat/completions`` records the request body and headers and pops the
  next reply. When the queue is empty, ``responder`` (if set) answers from the
  request body, else the ``default`` reply. ``peak_in_flight`` is the most chat
  requests answered at once.
* **Benchmark** (:class:`BenchServer`, in its own process: ``python -m
  tests.fakeserver --latency 0.2`` from the repo root): it answers after
  ``--latency`` seconds with the golden summary of whichever dataset article the
  request carries (so answers are realistic in size and every quote is grounded),
  as a tool call when the request has ``tools`` and as message content otherwise.
  With ``--fault-rate p`` a fraction ``p`` of answers are faults, in equal parts:
  429 with ``Retry-After``, 500, and a 200 whose content is not JSON (which the
  client must re-ask). ``GET /stats`` returns request counts; ``POST /reset``
  zeroes them. It prints ``PORT <n>`` on stdout once it listens.

Both speak just enough HTTP/1.1 (content-length bodies; keep-alive in benchmark
mode) from one asyncio event loop in a thread of their own, which keeps the server
cheap: on a 2-core machine the client being benchmarked keeps most of a core to
itself. Both build their answers with :func:`completion`. Nothing here leaves
127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self

DATASET = Path(__file__).resolve().parent.parent / "evals" / "wikinews"


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


_MODELS = {
    "object": "list",
    "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "me"}],
}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _encode(reply: Reply, close: bool) -> bytes:
    payload = (
        reply.body.encode() if isinstance(reply.body, str) else json.dumps(reply.body).encode()
    )
    head = (
        f"HTTP/1.1 {reply.status} {_reason(reply.status)}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
        + ("connection: close\r\n" if close else "")
    )
    return (head + "\r\n").encode("latin-1") + payload


class _Server:
    """The HTTP side both modes share: a listening socket bound at construction (so
    ``url`` is known at once), served by an event loop in its own thread between
    ``start()`` and ``stop()``. Subclasses answer chat requests in ``chat``."""

    keep_alive = True  # False: close each connection after its answer

    def __init__(self, port: int = 0) -> None:
        self._sock = socket.create_server(("127.0.0.1", port), backlog=1024)
        self._address: tuple[str, int] = self._sock.getsockname()[:2]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def port(self) -> int:
        return self._address[1]

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}/v1"

    def start(self) -> Self:
        self._thread.start()
        self._ready.wait()
        return self

    def stop(self) -> None:
        if self._loop is None or self._stopping is None:  # never started
            self._sock.close()
            return
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    def wait(self) -> None:
        """Block until the server stops (a server in a process of its own)."""
        self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        listener = await asyncio.start_server(self._connection, sock=self._sock, backlog=1024)
        self._ready.set()
        await self._stopping.wait()
        # Connections still open (keep-alive) are cancelled by asyncio.run on return.
        listener.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(length) if length else b""
                try:
                    reply = await self.respond(method, path, headers, raw)
                except Exception as e:  # noqa: BLE001  # a bug in a test's responder: say so
                    reply = error_reply(500, f"fake server: {type(e).__name__}: {e}")
                close = not self.keep_alive or headers.get("connection", "").lower() == "close"
                writer.write(_encode(reply, close))
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def respond(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        route = path.rstrip("/")
        if method == "POST" and route.endswith("/chat/completions"):
            return await self.chat(headers, raw)
        if method == "GET" and route.endswith("/models"):
            return Reply(body=_MODELS)
        return error_reply(404, f"no route {method} {path}")

    async def chat(self, headers: dict[str, str], raw: bytes) -> Reply:
        raise NotImplementedError


class FakeOpenAI(_Server):
    """The scripted server; use as a context manager or through the ``fake_openai`` fixture."""

    # One request a connection, as the tests have always had it: a client that does
    # not close its connection pool leaves nothing open behind it.
    keep_alive = False

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)  # a fixed port: a provider's default endpoint (test_readme)
        self.replies: deque[Reply] = deque()
        self.default: Reply = error_reply(500, "fake server: no reply queued")
        # When set, answers every request that has no queued reply, from its body.
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.peak_in_flight = 0  # the most chat requests being answered at once

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def chat(self, headers: dict[str, str], raw: bytes) -> Reply:
        body = json.loads(raw)
        self.requests.append(body)
        self.headers.append(headers)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.replies:
                reply = self.replies.popleft()
            elif self.responder is not None:
                reply = self.responder(body)
            else:
                reply = self.default
            if reply.delay:
                await asyncio.sleep(reply.delay)
            return reply
        finally:
            self.in_flight -= 1


_DROP = {"start", "end", "required"}


def _llm_shape(value: Any) -> Any:
    """The golden file as a model would answer: no offsets, flags or meta."""
    if isinstance(value, dict):
        return {k: _llm_shape(v) for k, v in value.items() if k not in _DROP}
    if isinstance(value, list):
        return [_llm_shape(v) for v in value]
    return value


def load_answers(dataset: Path) -> list[tuple[str, str]]:
    """(article text, answer JSON) per article of an eval dataset."""
    answers = []
    for golden in sorted((dataset / "golden").glob("*.json")):
        text = (dataset / "articles" / f"{golden.stem}.txt").read_text(encoding="utf-8")
        raw = json.loads(golden.read_text(encoding="utf-8"))
        body = {k: _llm_shape(raw[k]) for k in ("key_summary", "actors", "commitments")}
        body["open_questions"] = _llm_shape(raw["open_questions"])
        answers.append((text, json.dumps(body)))
    return answers


def probes(answers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(whitespace-collapsed start of the article, answer), for parsed messages."""
    return [(" ".join(text.split())[:120], answer) for text, answer in answers]


def raw_probe(text: str) -> bytes:
    """The start of an article as it appears inside a request body: JSON-escaped
    (escaping is per character, so a prefix escapes to a prefix), UTF-8, as the
    OpenAI SDK sends it. Finding it needs no JSON parsing, which keeps the server's
    CPU (on the machine being measured) small."""
    return json.dumps(text[:100], ensure_ascii=False)[1:-1].encode("utf-8")


class BenchServer(_Server):
    """The benchmark server: fixed latency, seeded faults, answers by article."""

    def __init__(
        self,
        answers: list[tuple[str, str]],
        latency: float,
        fault_rate: float = 0.0,
        seed: int = 1,
        port: int = 0,
    ) -> None:
        super().__init__(port)
        self.probes = probes(answers)
        self.raw_probes = [(raw_probe(text), answer) for text, answer in answers]
        self.latency = latency
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.first: float | None = None  # first request, last answer: the busy span
        self.last = 0.0
        self.first_at = 0.0

    def _answer_for_raw(self, raw: bytes) -> str | None:
        for probe, answer in self.raw_probes:
            if probe in raw:
                return answer
        return None

    def _answer_for(self, body: dict[str, Any]) -> str | None:
        for message in body.get("messages", []):
            content = message.get("content")
            if not isinstance(content, str) or "<article>" not in content:
                continue
            flat = " ".join(content.split())
            for probe, answer in self.probes:
                if probe in flat:
                    return answer
        return None

    def _reply(self, body: dict[str, Any] | None, raw: bytes, text: str) -> Reply:
        """``text`` as the answer: a tool call when the request has tools."""
        if body is None:  # not parsed: no tools; the prompt's size from the raw body
            prompt_tokens, tools, model = len(raw) // 4, None, "bench"
        else:
            tools, model = body.get("tools"), body.get("model", "fake")
            prompt_tokens = sum(len(str(m.get("content") or "")) for m in body["messages"]) // 4
        return Reply(
            body=completion(
                None if tools else text,
                tool_arguments=text if tools else None,
                tool_name=tools[0]["function"]["name"] if tools else "ArticleSummary",
                model=model,
                prompt_tokens=prompt_tokens,
                completion_tokens=len(text) // 4,
            )
        )

    async def respond(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        if method == "GET" and path.endswith("/stats"):
            stats: dict[str, float] = dict(self.counts)
            if self.first is not None:
                stats["busy_s"] = round(self.last - self.first, 3)
                stats["first_request_at"] = self.first_at
            return Reply(body=stats)
        if method == "POST" and path.endswith("/reset"):
            self.counts.clear()
            self.first = None
            return Reply(body={})
        return await super().respond(method, path, headers, raw)

    async def chat(self, headers: dict[str, str], raw: bytes) -> Reply:
        self.counts["requests"] += 1
        if self.first is None:
            self.first, self.first_at = time.perf_counter(), time.time()
        # Requests without tools (JSON-schema modes) are answered without parsing them.
        body = json.loads(raw) if b'"tools":' in raw else None
        await asyncio.sleep(self.latency)
        if self.fault_rate and self.rng.random() < self.fault_rate:
            kind = self.rng.choice(("429", "500", "garbage"))
            self.counts[f"fault_{kind}"] += 1
            if kind == "429":
                return error_reply(429, "rate limited", **{"retry-after": "0.2"})
            if kind == "500":
                return error_reply(500, "boom")
            return self._reply(body, raw, "I cannot answer that.")
        answer = self._answer_for(body) if body is not None else self._answer_for_raw(raw)
        if answer is None:
            self.counts["unknown_article"] += 1
            return error_reply(400, "fake server: unknown article")
        self.counts["ok"] += 1
        self.last = time.perf_counter()
        return self._reply(body, raw, answer)


def main() -> None:
    parser = argparse.ArgumentParser(description="The fake OpenAI server, benchmark mode.")
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    answers = load_answers(args.dataset)
    server = BenchServer(answers, args.latency, args.fault_rate, args.seed, args.port).start()
    print(f"PORT {server.port}", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
