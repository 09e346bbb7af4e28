"""Answers that arrive later: one extraction run again over the answers it has so far.

The provider's Batch API answers a request hours after it was sent, maybe to another
process, so the live extraction loop (Instructor's, in
:class:`~summarizer.backends.extraction.Extractor`) cannot wait for it. Instead the
loop is run again each time an answer arrives, over every answer the call has had so
far, in order. Instructor then builds each request (the first one, and each re-ask
from the previous answer and its validation error) exactly as it does live, and
validates and grounds each answer exactly as live. When the answers run out before
one validated, the body of the next request is handed back (:class:`Pending`) for
the next batch; when re-asks run out, the live salvage applies. So a batch answer
becomes the summary a live answer would have: one request builder, one parser, one
grounding, one salvage.

``send`` turns the rest of the loop live: when the answers run out it asks the
backend instead of deferring (``--finish-live``'s stragglers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import instructor
from instructor.core import Hooks
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from openai.types.chat import ChatCompletion
from tenacity import Retrying

from summarizer.backends.base import CallStats, Extraction, Messages
from summarizer.backends.calls import Calls
from summarizer.backends.extraction import Extractor, GroundingContext, _own_call, _with_stats
from summarizer.backends.retry import one_run
from summarizer.errors import SummarizerError
from summarizer.grounding import Grounder

__all__ = ["Answer", "Pending", "replay"]

#: One answer and the seconds it took to come (a batch's, for a batch answer).
Answer = tuple[ChatCompletion, float]


@dataclass
class Pending:
    """The request the extraction needs next: the body ``Backend.create`` would get."""

    body: dict[str, Any]
    #: 1 for the first request of the call, 2 for its first re-ask, ...
    attempt: int
    #: What the answers so far cost (for the error line, should this request fail).
    stats: CallStats


class _Deferred(Exception):
    """Raised by the replay's ``create`` when the answers ran out: the request waits."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("deferred to the next batch")
        self.body = body


def replay(
    extractor: Extractor,
    messages: Messages,
    params: dict[str, Any],
    grounder: Grounder,
    answers: Sequence[Answer],
    *,
    seen: int = 0,
    send: Callable[[dict[str, Any], CallStats], ChatCompletion] | None = None,
) -> Extraction | Pending:
    """The extraction of one call over ``answers`` (see the module doc): its result, or
    the request it needs next. ``answers[:seen]`` were replayed before: the call log
    and ``-v`` are not told about them again. Raises what the live loop raises (an
    :class:`~summarizer.errors.InvalidOutputError` when re-asks ran out with nothing
    to salvage, ``send``'s errors)."""
    stats = CallStats()
    backend = extractor.backend
    calls = Calls(backend.model, getattr(backend, "base_url", None), extractor.max_reasks)
    hooks = Hooks()

    def rejected(error: Exception, **attempt: Any) -> None:
        if int(attempt.get("attempt_number") or 0) > seen:
            calls.rejected(error, **attempt)

    hooks.on("parse:error", rejected)

    def create(**body: Any) -> ChatCompletion:
        n = stats.responses
        if n < len(answers):
            response, latency = answers[n]
            stats.record(response, latency)
            if n >= seen:
                calls.answered(body, response, latency, stats.responses)
            return response
        if send is None:
            raise _Deferred(body)
        started = time.perf_counter()
        try:
            response = send(body, stats)
        except Exception as e:
            calls.failed(body, e, time.perf_counter() - started, n + 1)
            raise
        latency = time.perf_counter() - started
        stats.record(response, latency)
        calls.answered(body, response, latency, stats.responses)
        return response

    patched = instructor.patch(create=create, mode=extractor.mode)
    # A copy: Instructor's re-ask handlers append to kwargs["messages"] after only a
    # shallow copy of kwargs (its request preparation copies the list first today), and
    # the caller replays the same messages again: they must stay as planned.
    copied = [dict(message) for message in messages]
    kwargs = extractor.request(copied, params, grounder.aligner.text)
    reasks = one_run(extractor.reasks(Retrying))  # Instructor's max_retries
    try:
        with _own_call(), calls.extraction(), reasks as kwargs["max_retries"]:
            summary = patched(**kwargs, context=GroundingContext(grounder), hooks=hooks)
    except _Deferred as e:  # should Instructor ever let it through unwrapped
        return Pending(e.body, stats.responses + 1, stats)
    except (InstructorRetryException, IncompleteOutputException) as e:
        if isinstance(e.__cause__, _Deferred):
            return Pending(e.__cause__.body, stats.responses + 1, stats)
        return extractor._recover(e, grounder, stats)
    except SummarizerError as e:
        raise _with_stats(e, stats) from e.__cause__
    finally:
        stats.latency_s = sum(a["latency_s"] for a in stats.attempts)
    return Extraction(summary, stats, grounder.report)
