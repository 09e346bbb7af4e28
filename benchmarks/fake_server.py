"""A fast fake OpenAI-compatible server for batch benchmarks: latency and faults on demand.

It answers ``POST /v1/chat/completions`` after ``--latency`` seconds with the golden
summary of whichever dataset article the request carries (so answers are realistic in
size and every quote is grounded), as a tool call when the request has ``tools`` and
as message content otherwise. With ``--fault-rate p`` a fraction ``p`` of answers are
faults, in equal parts: 429 with ``Retry-After``, 500, and a 200 whose content is not
JSON (which the client must re-ask). ``GET /stats`` returns request counts;
``POST /reset`` zeroes them.

It is a single asyncio event loop speaking just enough HTTP/1.1 (keep-alive,
content-length bodies) to stay cheap, so on a 2-core machine the client being
measured keeps most of a core to itself. Run it as its own process::

    python benchmarks/fake_server.py --dataset evals/wikinews --latency 0.2

It prints ``PORT <n>`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

_DROP = {"start", "end", "required"}


def _llm_shape(value: Any) -> Any:
    """The golden file as a model would answer: no offsets, flags or meta."""
    if isinstance(value, dict):
        return {k: _llm_shape(v) for k, v in value.items() if k not in _DROP}
    if isinstance(value, list):
        return [_llm_shape(v) for v in value]
    return value


def load_answers(dataset: Path) -> list[tuple[str, str]]:
    """(probe, answer JSON) per article: the probe is a snippet that identifies it
    (the start of the article, whitespace collapsed)."""
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
    OpenAI SDK sends it. Finding it needs no JSON parsing, which keeps this server's
    CPU (on the machine being measured) small."""
    return json.dumps(text[:100], ensure_ascii=False)[1:-1].encode("utf-8")


class FakeServer:
    def __init__(
        self, answers: list[tuple[str, str]], latency: float, fault_rate: float, seed: int
    ) -> None:
        self.answers = answers
        self.raw_answers = [(raw_probe(probe), answer) for probe, answer in answers]
        self.latency = latency
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.first: float | None = None  # first request, last answer: the busy span
        self.last = 0.0
        self.first_at = 0.0

    def _answer_for_raw(self, raw: bytes) -> str | None:
        for probe, answer in self.raw_answers:
            if probe in raw:
                return answer
        return None

    def _answer_for(self, body: dict[str, Any]) -> str | None:
        for message in body.get("messages", []):
            content = message.get("content")
            if not isinstance(content, str) or "<article>" not in content:
                continue
            flat = " ".join(content.split())
            for probe, answer in probes(self.answers):
                if probe in flat:
                    return answer
        return None

    def _completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        finish = "stop"
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            message["content"] = None
            message["tool_calls"] = [
                {"id": "call_1", "type": "function", "function": {"name": name, "arguments": text}}
            ]
            finish = "tool_calls"
        prompt_tokens = sum(len(str(m.get("content") or "")) for m in body["messages"]) // 4
        completion_tokens = len(text) // 4
        return {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    async def respond(self, method: str, path: str, raw: bytes) -> tuple[int, bytes, str]:
        if method == "GET" and path.endswith("/stats"):
            stats: dict[str, float] = dict(self.counts)
            if self.first is not None:
                stats["busy_s"] = round(self.last - self.first, 3)
                stats["first_request_at"] = self.first_at
            return 200, json.dumps(stats).encode(), ""
        if method == "POST" and path.endswith("/reset"):
            self.counts.clear()
            self.first = None
            return 200, b"{}", ""
        if method != "POST" or not path.endswith("/chat/completions"):
            return 404, b'{"error": {"message": "not found"}}', ""
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
                error = b'{"error": {"message": "rate limited", "type": "rate_limit"}}'
                return 429, error, "retry-after: 0.2\r\n"
            if kind == "500":
                return 500, b'{"error": {"message": "boom", "type": "server_error"}}', ""
            return 200, self._reply(body, raw, "I cannot answer that."), ""
        answer = self._answer_for(body) if body is not None else self._answer_for_raw(raw)
        if answer is None:
            self.counts["unknown_article"] += 1
            return 400, b'{"error": {"message": "fake server: unknown article"}}', ""
        self.counts["ok"] += 1
        self.last = time.perf_counter()
        return 200, self._reply(body, raw, answer), ""

    def _reply(self, body: dict[str, Any] | None, raw: bytes, text: str) -> bytes:
        if body is not None:
            return json.dumps(self._completion(body, text)).encode()
        prompt, completion = len(raw) // 4, len(text) // 4
        return (
            '{"id":"chatcmpl-bench","object":"chat.completion","created":0,"model":"bench",'
            '"choices":[{"index":0,"message":{"role":"assistant","content":'
            f'{json.dumps(text)},"refusal":null}},"finish_reason":"stop"}}],'
            f'"usage":{{"prompt_tokens":{prompt},"completion_tokens":{completion},'
            f'"total_tokens":{prompt + completion}}}}}'
        ).encode()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode("latin-1").split(" ", 2)
                length = 0
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                raw = await reader.readexactly(length) if length else b""
                status, payload, extra = await self.respond(method, path, raw)
                reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many"}
                head = (
                    f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\n"
                    f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n"
                    f"{extra}\r\n"
                )
                writer.write(head.encode("latin-1") + payload)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def serve(args: argparse.Namespace) -> None:
    server = FakeServer(load_answers(args.dataset), args.latency, args.fault_rate, args.seed)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", args.port, backlog=1024)
    port = listener.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with listener:
        await listener.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("evals/wikinews"))
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
