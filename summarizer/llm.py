"""The one module that talks to the LLM client (``openai`` + ``instructor``).

Two retry loops, kept apart and counted separately:

* **transport** retries (tenacity, here): 408/409/429/5xx answers, timeouts and
  connection errors, with capped exponential backoff that honours ``Retry-After``.
  They wrap each single HTTP request, below Instructor, so a re-ask never repeats a
  request that merely failed to arrive.
* **re-asks** (Instructor): the model answered but the answer did not validate
  (bad JSON, wrong shape, a quote not in the article); the error goes back to the
  model with the next request.

When re-asks run out, :meth:`LLMClient.extract` salvages the last answer that has
the right shape by dropping its unsupported items (the ``drop`` grounding policy),
unless ``strict`` is set.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import httpx
import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from instructor.v2.core.function_calls import ResponseSchema
from openai.types.chat import ChatCompletion
from pydantic import ValidationError, create_model
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from summarizer.errors import (
    ArticleTooLongError,
    AuthenticationError,
    ConfigurationError,
    InvalidOutputError,
    ProviderError,
    ProviderUnreachableError,
    SummarizerError,
    UngroundedError,
)
from summarizer.grounding import Grounder, GroundingReport, quote_candidates
from summarizer.ratelimit import RateLimiter
from summarizer.schema import ACTIVE_GROUNDER, Limits, LLMArticleSummary, response_model
from summarizer.settings import Settings
from summarizer.tokens import answer_tokens, estimate_tokens
from summarizer.transport import SEND_TRACKER

_MODES = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}

# A backend that is not an HTTP endpoint (the embedded model) supplies a function with
# the chat-completions signature that returns an OpenAI-shaped dict.
LocalCreate = Callable[..., dict[str, Any]]


@dataclass
class CallStats:
    """What one summarization cost: answers, re-asks, transport retries, tokens, time."""

    responses: int = 0
    transport_retries: int = 0
    transport_errors: list[str] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    latency_s: float = 0.0

    @property
    def reasks(self) -> int:
        return max(self.responses - 1, 0)

    def record(self, response: ChatCompletion, latency: float) -> None:
        self.responses += 1
        usage = response.usage
        self.attempts.append(
            {
                "attempt": self.responses,
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
                "latency_s": round(latency, 3),
                "finish_reason": response.choices[0].finish_reason if response.choices else None,
            }
        )

    def usage(self) -> dict[str, int]:
        prompt = sum(a["prompt_tokens"] or 0 for a in self.attempts)
        completion = sum(a["completion_tokens"] or 0 for a in self.attempts)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def as_meta(self) -> dict[str, Any]:
        return {
            "attempts": {
                "responses": self.responses,
                "reasks": self.reasks,
                "transport_retries": self.transport_retries,
            },
            "transport_errors": self.transport_errors,
            "usage": {**self.usage(), "per_attempt": self.attempts},
            "latency_s": round(self.latency_s, 3),
        }


@dataclass
class Extraction:
    """A validated summary plus how it was obtained."""

    summary: LLMArticleSummary
    stats: CallStats
    report: GroundingReport
    salvaged: bool = False
    last_error: str | None = None


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def retry_after_seconds(headers: httpx.Headers | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``)."""
    if not headers:
        return None
    if ms := headers.get("retry-after-ms"):
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


class _Wait:
    """Exponential backoff with jitter, unless the server said how long to wait."""

    def __init__(self, settings: Settings) -> None:
        self.cap = settings.retry_max_wait
        self.fallback = wait_exponential(
            multiplier=settings.retry_initial_wait, max=settings.retry_max_wait
        ) + wait_random(0, settings.retry_initial_wait)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        response = getattr(exc, "response", None)
        asked = retry_after_seconds(response.headers if response is not None else None)
        if asked is not None:
            return min(asked, self.cap)
        return float(self.fallback(state))


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


async def _awaited(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """Await ``fn``: tenacity only awaits real coroutine functions, and the SDK's
    ``create`` is a plain function returning a coroutine."""
    return await fn(*args, **kwargs)


# Our response models that passed Instructor's async-validator check once.
_CHECKED_MODELS: set[type[Any]] = set()


def _remember_async_validator_checks() -> None:
    """Make Instructor check each of our response models for async validators once.

    Instructor 1.17 walks the whole class tree of the response model (every field
    type, every base class's attributes) four times per request to refuse async
    validators it would not run: 0.28 ms a walk, about 30% of a request's client CPU
    (measured, benchmarks/batch.py). A pydantic class does not change once built, so
    for the models :func:`_instructor_model` made and checked, the answer is known;
    every other model still gets Instructor's own check. If Instructor moves the
    function, nothing is replaced and it keeps working, only slower.
    """
    try:
        from instructor.v2.core import patch as instructor_patch
        from instructor.v2.validation import async_validators
    except ImportError:  # pragma: no cover - another Instructor layout
        return
    original = getattr(async_validators, "reject_async_validators", None)
    if original is None or getattr(original, "remembers_checks", False):
        return

    def reject_async_validators(response_model: Any) -> None:
        if response_model not in _CHECKED_MODELS:
            reject_async_validators.original(response_model)  # type: ignore[attr-defined]

    reject_async_validators.remembers_checks = True  # type: ignore[attr-defined]
    reject_async_validators.original = original  # type: ignore[attr-defined]
    async_validators.reject_async_validators = reject_async_validators
    if getattr(instructor_patch, "reject_async_validators", None) is original:
        instructor_patch.reject_async_validators = reject_async_validators  # type: ignore[attr-defined]


_remember_async_validator_checks()


@lru_cache(maxsize=64)
def _instructor_model(model: type[LLMArticleSummary]) -> type[LLMArticleSummary]:
    """``model`` wrapped in Instructor's ``ResponseSchema``, once.

    Instructor wraps any other class itself on every call, building a new pydantic
    class each time: about a third of a request's CPU before this (profiled). The
    wrapped class is checked for async validators here, once (see
    :func:`_remember_async_validator_checks`).
    """
    from instructor.v2.validation import async_validators

    bases: tuple[type[Any], ...] = (model, ResponseSchema)
    wrapped = create_model(model.__name__, __base__=bases)
    check = async_validators.reject_async_validators
    getattr(check, "original", check)(wrapped)
    _CHECKED_MODELS.add(wrapped)
    return cast(type[LLMArticleSummary], wrapped)


def _chat_post(client: openai.AsyncOpenAI) -> Callable[..., Awaitable[ChatCompletion]]:
    """Chat completions through the SDK's generic ``post`` (its documented way to
    call any endpoint): the JSON body exactly as given.

    ``chat.completions.create`` walks every parameter through its TypedDict
    transform (key aliases, date formats, a union of six message types tried per
    message); for our parameters, plain strings, numbers and a JSON schema, that
    changes nothing and cost about 1.7 ms per request, 40% of the client's CPU
    (profiled, benchmarks/batch.py). ``post`` keeps the rest of the SDK: base URL,
    auth and headers, error types, and the response parsed into a
    ``ChatCompletion``. Requests are still checked against OpenAI's API spec in the
    tests, and compared with the ones ``create`` sends.
    """

    async def create(**params: Any) -> ChatCompletion:
        body = {k: v for k, v in params.items() if k != "extra_body"}
        body.update(params.get("extra_body") or {})
        return await client.post("/chat/completions", body=body, cast_to=ChatCompletion)

    return create


@lru_cache(maxsize=1)
def _sdk_platform() -> Any:
    from openai._base_client import get_platform

    return get_platform()


def preload() -> None:
    """Import what the OpenAI SDK and httpx load lazily on first use (about half a
    second).

    A batch calls this before forking workers, so they inherit the modules instead
    of each importing them while the clock runs.
    """
    import importlib

    for module in (
        "instructor.v2.providers.openai.handlers",
        "openai.resources.chat",
        # httpx imports its HTTP stack on the first request (about 0.1 s).
        "httpcore",
        "h11",
        "anyio._backends._asyncio",
        "httpcore._backends.anyio",
        "pydantic._internal._dataclasses",
    ):
        importlib.import_module(module)


def _with_stats(error: SummarizerError, stats: CallStats) -> SummarizerError:
    """``error`` carrying what the extraction cost so far (see ``SummarizerError.meta``)."""
    if not error.meta:
        stats.latency_s = time.perf_counter() - stats.started
        error.meta = stats.as_meta()
    return error


def _first_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class LLMClient:
    """Holds the OpenAI clients for one settings object and runs extractions.

    Pass ``http_client``/``async_http_client`` to control the HTTP layer (tests use
    ``httpx.MockTransport``), or ``local_create`` to run an in-process backend.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        local_create: LocalCreate | None = None,
        limits: Limits = (),
        throttle: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.limits = limits
        self.throttle = throttle
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._local_create = local_create
        self._client: openai.OpenAI | None = None
        self._aclient: openai.AsyncOpenAI | None = None
        self.mode = _MODES[settings.effective_mode]

    # -- clients -------------------------------------------------------------------

    def _client_kwargs(self) -> dict[str, Any]:
        s = self.settings
        base_url = s.effective_base_url
        api_key = s.api_key
        if api_key is None:
            if base_url is None:
                raise ConfigurationError(
                    "no API key for OpenAI: set OPENAI_API_KEY, or pass --base-url for "
                    "another OpenAI-compatible server, or use --model local"
                )
            api_key = "unused"  # local servers ignore it; the SDK insists on one
        # The SDK's own retries are off: ours are counted and honour Retry-After.
        return {"api_key": api_key, "base_url": base_url, "max_retries": 0, "timeout": s.timeout}

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            self._client = openai.OpenAI(http_client=self._http_client, **self._client_kwargs())
        return self._client

    @property
    def aclient(self) -> openai.AsyncOpenAI:
        if self._aclient is None:
            self._aclient = openai.AsyncOpenAI(
                http_client=self._async_http_client, **self._client_kwargs()
            )
            # The SDK looks up the platform (for its X-Stainless-OS header) in a
            # worker thread on a client's first request, and every request begun
            # before the answer comes back does the same: a batch's first requests
            # all waited on it. It is one answer per process, found once here.
            if getattr(self._aclient, "_platform", False) is None:
                self._aclient._platform = _sdk_platform()
        return self._aclient

    def prepare(self) -> None:
        """Do now the one-time work of the first request: import the HTTP stack,
        build the response model, its JSON schema and the SDK's response types
        (about 50 ms in all). A batch calls this before forking its workers, so
        that each starts sending at once instead of repeating it while the clock runs.
        """
        preload()
        _sdk_platform()
        model = _instructor_model(response_model(self.limits, ()))
        model.model_json_schema()
        ChatCompletion.model_validate({
            "id": "", "object": "chat.completion", "created": 0, "model": "",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "{}"}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                      "completion_tokens_details": {"reasoning_tokens": 0},
                      "prompt_tokens_details": {"cached_tokens": 0}},
        })  # fmt: skip

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Close the async client; the next async call makes a new one (an event
        loop's connections cannot outlive it, and callers may run another loop)."""
        if self._aclient is not None:
            await self._aclient.close()
            self._aclient = None

    # -- transport layer -------------------------------------------------------------

    def _retry_args(self, stats: CallStats) -> dict[str, Any]:
        def before_sleep(state: RetryCallState) -> None:
            stats.transport_retries += 1
            exc = state.outcome.exception() if state.outcome else None
            stats.transport_errors.append(_first_line(f"{type(exc).__name__}: {exc}", 200))

        return {
            "retry": retry_if_exception(_is_transient),
            "stop": stop_after_attempt(self.settings.max_transport_retries + 1),
            "wait": _Wait(self.settings),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def _provider_error(self, exc: Exception, stats: CallStats) -> SummarizerError:
        """Map an OpenAI SDK error (after transport retries) to ours."""
        where = self.settings.effective_base_url or "https://api.openai.com/v1"
        tries = stats.transport_retries + 1
        provider = str(self.settings.model_ref)
        if isinstance(exc, openai.APITimeoutError):
            return ProviderUnreachableError(
                f"{where} did not answer within {self.settings.timeout:g}s "
                f"({tries} tries); is the server up? raise --timeout for slow models",
                provider=provider,
                attempts=tries,
            )
        if isinstance(exc, openai.APIConnectionError):
            return ProviderUnreachableError(
                f"cannot reach {where} ({tries} tries): check --base-url / "
                "OPENAI_BASE_URL and that the server is running",
                provider=provider,
                attempts=tries,
            )
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return AuthenticationError(
                f"{where} rejected the credentials (HTTP {exc.status_code}): check OPENAI_API_KEY",
                provider=provider,
                attempts=tries,
            )
        if isinstance(exc, openai.APIStatusError):
            body = _first_line(str(exc.message), 200)
            if exc.status_code in (400, 413) and re.search(
                r"context|too long|maximum.*tokens", body, re.IGNORECASE
            ):
                return ArticleTooLongError(
                    f"the article does not fit {self.settings.model}'s context: {body}"
                )
            if exc.status_code == 404:
                return ProviderError(
                    f"{where} has no model {self.settings.model_ref.name!r} (HTTP 404): "
                    "check --model",
                    provider=provider,
                    attempts=tries,
                )
            return ProviderError(
                f"{where} answered HTTP {exc.status_code} after {tries} tries: {body}",
                provider=provider,
                attempts=tries,
            )
        return ProviderError(f"{where}: {_first_line(str(exc))}", provider=provider)

    def _sync_create(self, stats: CallStats) -> Callable[..., ChatCompletion]:
        raw: Callable[..., Any]
        if self._local_create is not None:
            local = self._local_create

            def raw(*args: Any, **kwargs: Any) -> ChatCompletion:
                return ChatCompletion.model_validate(local(*args, **kwargs))
        else:
            raw = self.client.chat.completions.create
        retrying = Retrying(**self._retry_args(stats))

        def create(*args: Any, **kwargs: Any) -> ChatCompletion:
            started = time.perf_counter()
            try:
                response: ChatCompletion = retrying(raw, *args, **kwargs)
            except openai.OpenAIError as e:
                raise self._provider_error(e, stats) from e
            stats.record(response, time.perf_counter() - started)
            return response

        return create

    def _throttled(self, raw: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """``raw`` admitted by the batch's rate limiter, one HTTP request at a time
        (so a transport retry waits its turn like any other request)."""
        throttle = self.throttle
        if throttle is None:
            return raw

        async def send(*args: Any, **kwargs: Any) -> Any:
            text = "".join(str(m.get("content") or "") for m in kwargs.get("messages", ()))
            ticket = await throttle.acquire(estimate_tokens(text) + answer_tokens(kwargs))
            sent_token = SEND_TRACKER.set(ticket)
            try:
                response = await raw(*args, **kwargs)
            except openai.RateLimitError as e:
                after = retry_after_seconds(e.response.headers)
                await throttle.release(ticket, outcome="rate_limited", retry_after=after)
                raise
            except BaseException:
                await throttle.release(ticket, outcome="error")
                raise
            finally:
                SEND_TRACKER.reset(sent_token)
            usage = getattr(response, "usage", None)
            await throttle.release(ticket, used_tokens=usage.total_tokens if usage else None)
            return response

        return send

    def _async_create(self, stats: CallStats) -> Callable[..., Awaitable[ChatCompletion]]:
        if self._local_create is not None:
            sync = self._sync_create(stats)

            async def create_local(*args: Any, **kwargs: Any) -> ChatCompletion:
                # llama.cpp computes on this thread: keep the event loop free.
                return await asyncio.to_thread(sync, *args, **kwargs)

            return create_local
        raw = self._throttled(_chat_post(self.aclient))
        retrying = AsyncRetrying(**self._retry_args(stats))

        async def create(*args: Any, **kwargs: Any) -> ChatCompletion:
            started = time.perf_counter()
            try:
                response: ChatCompletion = await retrying(_awaited, raw, *args, **kwargs)
            except openai.OpenAIError as e:
                raise self._provider_error(e, stats) from e
            stats.record(response, time.perf_counter() - started)
            return response

        return create

    # -- extraction ------------------------------------------------------------------

    def _request(
        self, messages: list[dict[str, str]], params: dict[str, Any], article: str
    ) -> dict[str, Any]:
        choices = quote_candidates(article) if dict(self.limits).get("quotes_from_article") else ()
        return {
            "response_model": _instructor_model(response_model(self.limits, choices)),
            "messages": messages,
            "model": self.settings.model_ref.name,
            "max_retries": self.settings.max_reasks,
            "strict": False,
            **params,
        }

    @contextmanager
    def _grounded(self, article: str, stats: CallStats) -> Iterator[Grounder]:
        """Validation of the answers in this block grounds them in ``article``; our
        errors leave it carrying the cost so far."""
        grounder = Grounder(article, policy="raise")
        token = ACTIVE_GROUNDER.set(grounder)
        try:
            yield grounder
        except SummarizerError as e:
            raise _with_stats(e, stats) from e.__cause__
        finally:
            ACTIVE_GROUNDER.reset(token)
            stats.latency_s = time.perf_counter() - stats.started

    def extract(
        self, messages: list[dict[str, str]], params: dict[str, Any], article: str
    ) -> Extraction:
        """Ask the model for a summary of ``article``; see the module docstring."""
        stats = CallStats()
        patched = instructor.patch(create=self._sync_create(stats), mode=self.mode)
        try:
            with self._grounded(article, stats) as grounder:
                summary = patched(**self._request(messages, params, article))
        except (InstructorRetryException, IncompleteOutputException) as e:
            return self._recover(e, article, stats)
        return Extraction(summary, stats, grounder.report)

    async def aextract(
        self, messages: list[dict[str, str]], params: dict[str, Any], article: str
    ) -> Extraction:
        """Async :meth:`extract`."""
        stats = CallStats()
        patched = instructor.patch(create=self._async_create(stats), mode=self.mode)
        try:
            with self._grounded(article, stats) as grounder:
                summary = await patched(**self._request(messages, params, article))
        except (InstructorRetryException, IncompleteOutputException) as e:
            return self._recover(e, article, stats)
        return Extraction(summary, stats, grounder.report)

    def _recover(self, exc: Exception, article: str, stats: CallStats) -> Extraction:
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
        last_error = _first_line(str(exc))
        for attempt in reversed(exc.failed_attempts or []):
            text = completion_text(attempt.completion)
            if text is None:
                continue
            grounder = Grounder(article, policy="drop")
            try:
                summary = LLMArticleSummary.model_validate_json(
                    text, context={"grounder": grounder}, strict=False
                )
            except (ValidationError, json.JSONDecodeError):
                continue
            if self.settings.strict:
                dropped = grounder.report.dropped
                first = f"{dropped[0].section}: {dropped[0].reason}" if dropped else last_error
                raise UngroundedError(
                    f"--strict: after {stats.responses} answers, {len(dropped)} item(s) "
                    f"still lack support in the article; first: {first}",
                    meta=meta,
                ) from exc
            return Extraction(summary, stats, grounder.report, salvaged=True, last_error=last_error)
        raise InvalidOutputError(
            f"the model gave no valid summary in {stats.responses} answers "
            f"({self.settings.max_reasks} re-asks); last error: {last_error}",
            meta=meta,
        ) from exc
