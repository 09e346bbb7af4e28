"""One summary out of one model answer: Instructor's re-ask loop, grounding as an
explicit step, and salvage when re-asks run out. It works the same over every
:class:`~summarizer.backends.base.Backend`.

Two retry loops, kept apart and counted separately:

* **transport** retries, inside the backend (tenacity): a request that did not
  arrive is sent again, and a re-ask never repeats it;
* **re-asks** (Instructor, here): the model answered but the answer did not validate
  (bad JSON, wrong shape, a quote not in the article); the error goes back to the
  model with the next request.

Bounds: the response model also holds answers to the schema's upper bounds on list
and string sizes, with slack (:func:`~summarizer.contract.llm_schema.over_bounds`),
which until then only the model was told about: an answer over them (a 1 MB
headline) is a re-ask, never a stored summary. The public contract is not made
stricter.

Grounding: the caller builds a :class:`~summarizer.grounding.Grounder` for the
article and passes it in. It reaches the response model's validator through
Instructor's validation ``context`` as a :class:`GroundingContext`, so Instructor
turns a quote that is not in the article into a re-ask. The public
:class:`~summarizer.contract.ArticleSummary` has no validator of its own.

When re-asks run out, :meth:`Extractor.extract` salvages the last answer that has the
right shape by dropping its unsupported items (the ``drop`` grounding policy),
unless ``strict`` is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, lru_cache
from typing import Any, ClassVar

import instructor
from instructor.core import Hooks
from instructor.core.exceptions import (
    AsyncValidationError,
    IncompleteOutputException,
    InstructorRetryException,
    ResponseParsingError,
)
from openai.types.chat import ChatCompletion
from pydantic import ValidationError, ValidationInfo, model_validator
from tenacity import AsyncRetrying, Retrying, retry_if_exception, stop_after_attempt

from summarizer.alignment import Aligner, quote_candidates
from summarizer.backends import _speedups
from summarizer.backends.base import Backend, CallStats, Extraction, Messages
from summarizer.backends.calls import Calls
from summarizer.backends.retry import RetryingT, one_run
from summarizer.contract import ArticleSummary
from summarizer.contract.llm_schema import Limits, over_bounds, shared_llm_json_schema
from summarizer.errors import InvalidOutputError, SummarizerError, UngroundedError
from summarizer.grounding import Grounder
from summarizer.redact import one_line

_MODES = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}

#: What Instructor re-asks on, as its own re-ask loop has it (its
#: ``_RETRYABLE_PARSE_ERRORS``; a test keeps the two equal): an answer that is not
#: JSON or does not validate. Any other error ends the loop at once.
REASK_ERRORS: tuple[type[Exception], ...] = (
    ValidationError, json.JSONDecodeError, AsyncValidationError, ResponseParsingError,
)  # fmt: skip


def _reask(error: BaseException) -> bool:
    return isinstance(error, REASK_ERRORS)


# Instructor logs each failed attempt ("API call failed on attempt 1: ...") at ERROR,
# which reaches stderr through logging's last resort in any program that configures
# no logging. For our own calls each of those is counted in ``meta`` (re-asks,
# transport errors, last error), so the lines are noise; anyone else's Instructor
# calls in the process still log as before.
_OWN_CALL: ContextVar[bool] = ContextVar("summarizer_own_instructor_call", default=False)
_INSTRUCTOR_LOGGERS = ("instructor", "instructor.v2", "instructor.v2.retry")


class _SkipOwnCalls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _OWN_CALL.get()


@cache
def _filter_instructor_logs() -> None:
    for name in _INSTRUCTOR_LOGGERS:
        logging.getLogger(name).addFilter(_SkipOwnCalls())


@contextmanager
def _own_call() -> Iterator[None]:
    _filter_instructor_logs()
    token = _OWN_CALL.set(True)
    try:
        with _speedups.remembered_async_validator_checks():
            yield
    finally:
        _OWN_CALL.reset(token)


class GroundingContext(dict[str, Any]):
    """The validation context that carries the article's grounder to the validator.

    An *empty* mapping on purpose: Instructor renders every message as a Jinja
    template when it is given a non-empty context, which would rewrite an article
    containing ``{{`` or ``{%``; an empty one reaches validation untouched
    (tests/test_pipeline.py sends such an article and checks it arrives verbatim).
    """

    def __init__(self, grounder: Grounder) -> None:
        super().__init__()
        self.grounder = grounder


class LLMArticleSummary(ArticleSummary):
    """The response model handed to Instructor: the contract plus bounds and grounding.

    Its JSON schema is the LLM-facing one, computed once and handed out as the same
    object every time (nothing on a request's path changes it): Instructor asks for
    the schema on every call, and regenerating it, or even copying it, is a
    measurable share of per-request CPU (see docs/ANCHORS.md and
    :func:`~summarizer.contract.llm_schema.shared_llm_json_schema`).
    """

    #: ``Model.field`` size bounds not held (see ``over_bounds``).
    free_bounds: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _ground(self, info: ValidationInfo) -> LLMArticleSummary:
        """Check the sizes, then locate every quote; a size over the schema's bounds,
        or a miss under the ``raise`` policy, is a validation error, which
        Instructor sends back to the model as a re-ask."""
        if problem := over_bounds(self, free=self.free_bounds):
            raise ValueError(problem)
        grounder = getattr(info.context, "grounder", None)
        if grounder is not None:
            grounder.apply(self)
        return self

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return shared_llm_json_schema()

    def to_public(self) -> ArticleSummary:
        """Copy into the public class, so callers never see this subclass."""
        return ArticleSummary.model_construct(
            **{name: getattr(self, name) for name in ArticleSummary.model_fields}
        )


@lru_cache(maxsize=32)
def response_model(
    limits: Limits = (), quote_choices: tuple[str, ...] = ()
) -> type[LLMArticleSummary]:
    """The response model for a prompt's limits (and an article's quote choices)."""
    if not limits and not quote_choices:
        return LLMArticleSummary
    schema = shared_llm_json_schema(limits, quote_choices)

    class Limited(LLMArticleSummary):
        # Quotes picked from the article's spans may be longer than a written one.
        free_bounds = frozenset({"Evidence.quote"} if quote_choices else ())

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return schema

    Limited.__name__ = Limited.__qualname__ = "LLMArticleSummary"
    return Limited


def completion_text(completion: Any) -> str | None:
    """The raw JSON text of an answer, whatever the mode (tool call or content)."""
    choices = getattr(completion, "choices", None)
    if not choices:
        return None
    message = choices[0].message
    if message.tool_calls:
        return str(message.tool_calls[0].function.arguments)
    content = message.content or ""
    start, end = content.find("{"), content.rfind("}")
    return content[start : end + 1] if 0 <= start < end else None


def _with_stats(error: SummarizerError, stats: CallStats) -> SummarizerError:
    """``error`` carrying what the extraction cost so far (see ``SummarizerError.meta``)."""
    if not error.meta:
        stats.latency_s = time.perf_counter() - stats.started
        error.meta = stats.as_meta()
    return error


class Extractor:
    """Asks one backend for summaries under one prompt's limits and retry policy."""

    def __init__(
        self, backend: Backend, *, limits: Limits = (), max_reasks: int = 2, strict: bool = False
    ) -> None:
        self.backend = backend
        self.limits = limits
        self.max_reasks = max_reasks
        self.strict = strict
        self.mode = _MODES[backend.mode]

    def request(
        self,
        messages: Messages,
        params: dict[str, Any],
        article: str,
        *,
        aligner: Aligner | None = None,
    ) -> dict[str, Any]:
        """Instructor's keyword arguments for one extraction (before the context and
        the re-ask loop, :meth:`reasks`).
        ``aligner``: the article's, whose sentences the quote choices then share with
        the grounding."""
        choices: tuple[str, ...] = ()
        if dict(self.limits).get("quotes_from_article"):
            sentences = aligner.sentences if aligner is not None else None
            choices = quote_candidates(article, sentences=sentences)
        return {
            "response_model": _speedups.instructor_model(response_model(self.limits, choices)),
            "messages": messages,
            "model": self.backend.model_name,
            "strict": False,
            **params,
        }

    def reasks(self, loop: type[RetryingT]) -> RetryingT:
        """The re-ask loop of one extraction, given to Instructor as ``max_retries``:
        the loop its integer would make (``max_reasks`` re-asks of an answer that did
        not parse or validate), but ours, so that
        :func:`~summarizer.backends.retry.forget_run` can break its reference cycles
        when the extraction is over. Instructor then reports no
        ``max_attempts`` to its hooks; :class:`Calls` counts against ``max_reasks``."""
        return loop(
            stop=stop_after_attempt(self.max_reasks + 1), retry=retry_if_exception(_reask),
            reraise=True,
        )  # fmt: skip

    def prepare(self) -> None:
        """Build the response model and its JSON schema now (before a batch forks)."""
        _speedups.instructor_model(response_model(self.limits, ())).model_json_schema()

    def _calls(self) -> tuple[Calls, Hooks]:
        """The record of one extraction's requests (``-v`` and the call log), told
        by Instructor's ``parse:error`` hook why an answer is sent back."""
        base_url = getattr(self.backend, "base_url", None)
        calls = Calls(self.backend.model, base_url, self.max_reasks)
        hooks = Hooks()
        hooks.on("parse:error", calls.rejected)
        return calls, hooks

    def _sync_create(self, stats: CallStats, calls: Calls) -> Callable[..., ChatCompletion]:
        backend = self.backend

        def create(**body: Any) -> ChatCompletion:
            started = time.perf_counter()
            try:
                response = backend.create(body, stats)
            except Exception as e:
                calls.failed(body, e, time.perf_counter() - started, stats.responses + 1)
                raise
            latency = time.perf_counter() - started
            stats.record(response, latency)
            calls.answered(body, response, latency, stats.responses)
            return response

        return create

    def _async_create(
        self, stats: CallStats, calls: Calls
    ) -> Callable[..., Awaitable[ChatCompletion]]:
        backend = self.backend

        async def create(**body: Any) -> ChatCompletion:
            started = time.perf_counter()
            try:
                response = await backend.acreate(body, stats)
            except Exception as e:
                calls.failed(body, e, time.perf_counter() - started, stats.responses + 1)
                raise
            latency = time.perf_counter() - started
            stats.record(response, latency)
            calls.answered(body, response, latency, stats.responses)
            return response

        return create

    def extract(
        self,
        messages: Messages,
        params: dict[str, Any],
        grounder: Grounder,
        *,
        title: str | None = None,
    ) -> Extraction:
        """Ask the model for a summary grounded by ``grounder``; see the module doc.
        (``title`` is for a composer, :mod:`summarizer.backends.composed`: a model
        reads the title in ``messages``.)"""
        stats, (calls, hooks) = CallStats(), self._calls()
        patched = instructor.patch(create=self._sync_create(stats, calls), mode=self.mode)
        kwargs = self.request(messages, params, grounder.aligner.text, aligner=grounder.aligner)
        reasks = one_run(self.reasks(Retrying))  # Instructor's max_retries
        try:
            with _own_call(), calls.extraction(), reasks as kwargs["max_retries"]:
                summary = patched(**kwargs, context=GroundingContext(grounder), hooks=hooks)
        except (InstructorRetryException, IncompleteOutputException) as e:
            return self._recover(e, grounder, stats)
        except SummarizerError as e:
            raise _with_stats(e, stats) from e.__cause__
        finally:
            stats.latency_s = time.perf_counter() - stats.started
        return Extraction(summary, stats, grounder.report)

    async def aextract(
        self,
        messages: Messages,
        params: dict[str, Any],
        grounder: Grounder,
        *,
        title: str | None = None,
    ) -> Extraction:
        """Async :meth:`extract`."""
        stats, (calls, hooks) = CallStats(), self._calls()
        patched = instructor.patch(create=self._async_create(stats, calls), mode=self.mode)
        kwargs = self.request(messages, params, grounder.aligner.text, aligner=grounder.aligner)
        # After this task's step: the request has gone out by then (on a new
        # connection, it is being connected), and the model's answer is not in.
        asyncio.get_running_loop().call_soon(grounder.prepare)
        reasks = one_run(self.reasks(AsyncRetrying))  # Instructor's max_retries
        try:
            with _own_call(), calls.extraction(), reasks as kwargs["max_retries"]:
                summary = await patched(**kwargs, context=GroundingContext(grounder), hooks=hooks)
        except (InstructorRetryException, IncompleteOutputException) as e:
            return self._recover(e, grounder, stats)
        except SummarizerError as e:
            raise _with_stats(e, stats) from e.__cause__
        finally:
            stats.latency_s = time.perf_counter() - stats.started
        return Extraction(summary, stats, grounder.report)

    def _recover(self, exc: Exception, grounder: Grounder, stats: CallStats) -> Extraction:
        """Turn an exhausted re-ask loop into a salvaged summary or a clear error."""
        stats.latency_s = time.perf_counter() - stats.started
        cause = exc.__cause__
        if isinstance(cause, SummarizerError):
            raise _with_stats(cause, stats) from cause.__cause__
        if isinstance(exc, InstructorRetryException) and not exc.failed_attempts and cause:
            raise cause  # not a model-output problem: a bug, reported as such
        meta = stats.as_meta()
        if isinstance(exc, IncompleteOutputException):
            raise InvalidOutputError(
                "the model's answer was cut off at max_tokens before the JSON was "
                "complete; raise --max-tokens",
                meta=meta,
            ) from exc
        assert isinstance(exc, InstructorRetryException)
        last_error = one_line(str(exc))
        for attempt in reversed(exc.failed_attempts or []):
            text = completion_text(attempt.completion)
            if text is None:
                continue
            dropping = grounder.with_policy("drop")
            try:
                summary = LLMArticleSummary.model_validate_json(
                    text, context=GroundingContext(dropping), strict=False
                )
            except (ValidationError, json.JSONDecodeError):
                continue
            if self.strict:
                dropped = dropping.report.dropped
                first = f"{dropped[0].section}: {dropped[0].reason}" if dropped else last_error
                raise UngroundedError(
                    f"--strict: after {stats.responses} answers, {len(dropped)} item(s) "
                    f"still lack support in the article; first: {first}",
                    meta=meta,
                ) from exc
            return Extraction(summary, stats, dropping.report, salvaged=True, last_error=last_error)
        raise InvalidOutputError(
            f"the model gave no valid summary in {stats.responses} answers "
            f"({self.max_reasks} re-asks); last error: {last_error}",
            meta=meta,
        ) from exc
