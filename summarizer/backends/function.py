"""A backend whose answers come from a Python function: for tests, yours and ours.

No server, no model, no network, yet the whole pipeline runs: Instructor's
validation and re-asks, grounding, salvage, long-article splitting, the cache and
``meta``. The function sees every request (re-asks included) and returns the
answer's JSON as a string, a mapping or a pydantic model::

    from summarizer import FunctionBackend, Summarizer

    def answer(call):
        return {"key_summary": {...}, "actors": [...], ...}

    summarizer = Summarizer(backend=FunctionBackend(answer))

:meth:`FunctionBackend.replay` answers from a list, one item per request, which is
how a test walks a re-ask: an answer with a quote that is not in the article, then
a good one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from summarizer.backends.base import CallStats, Messages, Mode
from summarizer.tokens import estimate_tokens

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion

Answer = str | Mapping[str, Any] | BaseModel


@dataclass(frozen=True)
class FunctionCall:
    """One request as the function sees it."""

    #: The chat messages as sent: system, user, then any re-ask turns.
    messages: list[dict[str, Any]]
    #: 1 for the first request of an extraction, 2 for its first re-ask, ...
    attempt: int
    #: The JSON schema the answer must fill.
    schema: dict[str, Any] | None
    #: The whole request body (model, parameters, response format).
    body: dict[str, Any] = field(repr=False)

    @property
    def prompt(self) -> str:
        """The first user message: the rendered prompt with the article in it."""
        return next((str(m["content"]) for m in self.messages if m.get("role") == "user"), "")


def _schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The request's schema as the function's own copy, which it may change: the
    request holds the one schema object every request shares (see
    ``summarizer.contract.llm_schema.shared_llm_json_schema``)."""
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema")
    return json.loads(json.dumps(schema)) if isinstance(schema, dict) else None


def _text(answer: Answer) -> str:
    if isinstance(answer, str):
        return answer
    if isinstance(answer, BaseModel):
        return answer.model_dump_json(exclude_none=True)
    return json.dumps(answer, ensure_ascii=False)


class FunctionBackend:
    """Answers each chat request by calling ``function``; see the module docstring."""

    runs_locally = False
    notice: str | None = None
    mode: Mode = "json_schema"
    default_prompt = "summarize@v1"

    def __init__(
        self,
        function: Callable[[FunctionCall], Answer],
        *,
        model: str = "function/test",
        context_window: int = 128_000,
    ) -> None:
        self.function = function
        self.model = model
        self.model_name = model.rpartition("/")[2]
        self._context_window = context_window
        #: Every call made so far, in order.
        self.calls: list[FunctionCall] = []

    @classmethod
    def replay(cls, answers: Iterable[Answer], **kwargs: Any) -> FunctionBackend:
        """Answer with ``answers`` in order, one per request (the last one repeats)."""
        items = list(answers)
        if not items:
            raise ValueError("replay needs at least one answer")
        stream = itertools.chain(items, itertools.repeat(items[-1]))
        return cls(lambda call: next(stream), **kwargs)

    def context_window(self) -> int:
        return self._context_window

    def count_text(self, text: str) -> int:
        return estimate_tokens(text)

    def count_messages(self, messages: Messages) -> int:
        return estimate_tokens("".join(m["content"] for m in messages))

    def request_params(self, defaults: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in defaults.items() if k in ("temperature", "max_tokens", "seed")}

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "mode": self.mode, "base_url": None}

    def cache_identity(self) -> dict[str, Any]:
        # A function's answers cannot be keyed by its code: each instance is its own.
        return {**self.describe(), "instance": id(self)}

    def create(self, body: dict[str, Any], stats: CallStats) -> ChatCompletion:
        from openai.types.chat import ChatCompletion

        messages = list(body.get("messages", []))
        attempt = 1 + sum(1 for m in messages if m.get("role") == "assistant")
        call = FunctionCall(messages, attempt, _schema(body), body)
        self.calls.append(call)
        text = _text(self.function(call))
        prompt = self.count_messages(messages)
        completion = estimate_tokens(text)
        return ChatCompletion.model_validate(
            {
                "id": f"function-{len(self.calls)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text},
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    async def acreate(self, body: dict[str, Any], stats: CallStats) -> ChatCompletion:
        await asyncio.sleep(0)
        return self.create(body, stats)

    def prepare(self) -> None:
        """Nothing to prepare."""

    def close(self) -> None:
        """Nothing to close."""

    async def aclose(self) -> None:
        """Nothing to close."""
