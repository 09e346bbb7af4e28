"""The model requests of one extraction as the user sees them: a line each on the
``summarizer.backends.calls`` logger (``-v`` prints them: latency, tokens, each re-ask
and why) and a row each in the call log (:mod:`summarizer.calllog`).

:class:`~summarizer.backends.extraction.Extractor` tells a :class:`Calls` about each
request it sends and Instructor's ``parse:error`` hook tells it why an answer was
sent back. A row waits for its outcome, which for an answer is known only once
Instructor validated it: ``ok``, ``reask: why``, or ``invalid: why`` when no re-ask
is left (or the answer was cut off at ``max_tokens``); a request that got no answer
is ``error: Class: message`` at once.

Everything a row keeps passes through :func:`summarizer.redact.redact` (the request's
messages and parameters, the answer, the outcome's message, the endpoint): a server
may echo the request's ``Authorization`` header into its answer, and a re-ask sends
that answer back in the messages. Redacting a 15 KB request and answer costs about
0.1 ms of CPU (see that module for how), so a row costs about 0.26 ms in all.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from summarizer import calllog
from summarizer.redact import one_line, redact, redact_all, redact_url

_LOG = logging.getLogger(__name__)
# What a request row keeps of the body besides the messages: the schema Instructor
# adds (tools, response_format) is the same for every call and several KB long.
_LEFT_OUT = frozenset({"messages", "tools", "tool_choice", "response_format"})


def answer_text(response: Any) -> str | None:
    """The raw text of an answer: the tool call's arguments or the message content."""
    choices = getattr(response, "choices", None)
    if not choices:
        return None
    message = choices[0].message
    if message.tool_calls:
        return str(message.tool_calls[0].function.arguments)
    return message.content if isinstance(message.content, str) else None


def why(error: BaseException, *, full: bool = False) -> str:
    """A validation error on one line: its first problem and how many more there are
    (a message that lists its problems as ``- `` lines counts those); ``full``: the
    whole message, for the call log, up to 2000 characters."""
    text, more = f"{type(error).__name__}: {error}", 0
    problems = getattr(error, "errors", None)
    if callable(problems):
        with contextlib.suppress(Exception):
            found = problems()
            if found:
                where = ".".join(str(p) for p in found[0].get("loc", ()))
                text = f"{where + ': ' if where else ''}{found[0].get('msg')}"
                more = len(found) - 1
    _, *listed = str(text).split("\n- ")
    if listed and not full:
        text, more = listed[0], more + len(listed) - 1
    return one_line(text + (f" (+{more} more)" if more else ""), 2000 if full else 240)


class Calls:
    """The model requests of one extraction: each said on this module's logger when
    it ends, and written to the call log once its outcome is known."""

    def __init__(self, model: str, base_url: str | None, max_reasks: int) -> None:
        self.log = calllog.current()
        self.model = model
        self.base_url = redact_url(base_url)
        self.max_reasks = max_reasks
        self.label = calllog.current_label()
        self._pending: dict[str, Any] | None = None

    def _row(self, body: dict[str, Any], latency: float, attempt: int) -> dict[str, Any]:
        # Redacted as a structure, before it is dumped (see redact_all): a re-ask's
        # messages hold the previous answer, which may echo the request's headers.
        request = redact_all(
            {
                "messages": body.get("messages"),
                "params": {k: v for k, v in body.items() if k not in _LEFT_OUT},
            }
        )
        return {
            "model": self.model,
            "base_url": self.base_url,
            "prompt": self.label.prompt,
            "source": self.label.source,
            "request": json.dumps(request, ensure_ascii=False, default=str),
            "latency_s": round(latency, 3),
            "attempt": attempt,
        }

    def _where(self) -> str:
        return self.label.source or self.model

    def answered(self, body: dict[str, Any], response: Any, latency: float, attempt: int) -> None:
        usage = getattr(response, "usage", None)
        tokens_in = getattr(usage, "prompt_tokens", None)
        tokens_out = getattr(usage, "completion_tokens", None)
        if _LOG.isEnabledFor(logging.INFO):
            finish = response.choices[0].finish_reason if response.choices else None
            _LOG.info(
                "%s: answer %d from %s in %.2fs (%s prompt + %s answer tokens, %s)",
                self._where(), attempt, self.model, latency, tokens_in, tokens_out, finish,
            )  # fmt: skip
            _LOG.debug(
                "%s: request of %d messages, %d characters; answer of %d characters",
                self._where(), len(body.get("messages") or ()),
                sum(len(str(m.get("content") or "")) for m in body.get("messages") or ()),
                len(answer_text(response) or ""),
            )  # fmt: skip
        if self.log is not None:
            text = answer_text(response)
            self._pending = {
                **self._row(body, latency, attempt),
                "answer": None if text is None else redact(text),
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
            }

    def failed(
        self, body: dict[str, Any], error: BaseException, latency: float, attempt: int
    ) -> None:
        outcome = f"error: {type(error).__name__}: {one_line(error, 300)}"
        _LOG.info("%s: request %d to %s failed after %.2fs: %s",
                  self._where(), attempt, self.model, latency, outcome[7:])  # fmt: skip
        if self.log is not None:
            self.log.add({**self._row(body, latency, attempt), "outcome": outcome})

    def rejected(self, error: Exception, **attempt: Any) -> None:
        """Instructor's ``parse:error`` hook: the last answer did not validate."""
        reason = why(error)
        # The re-ask loop is ours (Extractor.reasks): Instructor knows no maximum then.
        last = int(attempt.get("attempt_number") or 0) > self.max_reasks
        if last or attempt.get("is_last_attempt"):
            _LOG.info("%s: answer rejected, no re-asks left (%d): %s",
                      self._where(), self.max_reasks, reason)  # fmt: skip
            self._resolve(f"invalid: {why(error, full=True)}")
        else:
            _LOG.info("%s: re-asking the model (answer %s of at most %d rejected): %s",
                      self._where(), attempt.get("attempt_number"), self.max_reasks + 1,
                      reason)  # fmt: skip
            self._resolve(f"reask: {why(error, full=True)}")

    def _resolve(self, outcome: str) -> None:
        if self._pending is not None and self.log is not None:
            self.log.add({**self._pending, "outcome": outcome})
        self._pending = None

    @contextlib.contextmanager
    def extraction(self) -> Iterator[None]:
        """Around Instructor's loop: an answer still pending when it ends was valid,
        or was cut off (at ``max_tokens``), which ends the loop without a re-ask."""
        try:
            yield
        except Exception as e:
            self._resolve(f"invalid: {why(e, full=True)}")
            raise
        self._resolve("ok")
