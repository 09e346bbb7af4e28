"""Any OpenAI-compatible endpoint: OpenAI itself, vLLM, Ollama, a llama.cpp server.

One request is one ``POST /chat/completions`` with the JSON body exactly as built,
sync and async alike, as the SDK's generic ``post`` sends it (its documented way to
call any endpoint; :func:`~summarizer.backends._speedups.direct_post` sends the same
request without rebuilding it each time). ``chat.completions.create`` would walk
every parameter through its TypedDict transform: for our strings, numbers and JSON
schema it changes nothing and cost 1.7 ms a request, 40% of the client's CPU
(profiled, benchmarks/batch.py). The SDK's base URL, auth, headers and error types
stay; the requests are checked against OpenAI's API spec in the tests.

Every request is bounded (#12): ``settings.timeout`` is a deadline for it as a whole,
slow bodies included, and at most ``settings.max_answer_bytes`` of answer are read
(see :mod:`summarizer.backends.http`, whose clients replace the SDK's defaults). The
answer is parsed here, not by the SDK, so that a body that is not a chat completion
(HTML, not JSON or UTF-8, nested 200 000 deep) is one clear error, not a crash.

Transport faults (408/409/429/5xx, timeouts, connection errors, answers that are not
a chat completion) are retried here by tenacity with capped exponential backoff
that honours ``Retry-After``, and counted; the SDK's own retries are off. What is
left is mapped to our errors by :data:`_ERRORS`, a table read top to bottom. Messages
and the transport errors kept in ``meta`` are redacted (:mod:`summarizer.redact`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import openai
from openai.types.chat import ChatCompletion
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from summarizer import catalog
from summarizer.backends import _speedups
from summarizer.backends.base import CallStats, Messages, Mode, Throttle
from summarizer.backends.completions import chat_completion
from summarizer.backends.http import (
    SEND_TRACKER,
    AnswerError,
    answer_errors,
    async_client,
    completion_json,
    limits,
    sync_client,
)
from summarizer.backends.retry import Wait, is_transient, one_run, server_wait, unreachable
from summarizer.backends.turns import TURNS
from summarizer.errors import (
    ArticleTooLongError,
    AuthenticationError,
    ConfigurationError,
    MalformedAnswerError,
    ProviderError,
    ProviderUnreachableError,
    SummarizerError,
)
from summarizer.redact import one_line, redact_url, remember
from summarizer.settings import Settings
from summarizer.tokens import answer_tokens, estimate_tokens

# Context windows of hosted models come from genai-prices (summarizer.catalog); others
# get catalog.DEFAULT_CONTEXT_WINDOW unless ``context_window`` is set. The server's own
# "context length exceeded" answer is mapped to the same error as a backstop.
_LOG = logging.getLogger(__name__)
_SENT_PARAMS = ("temperature", "top_p", "seed")
_PATH = "/chat/completions"


# -- error mapping: (SDK error, when, our error) read top to bottom -----------------


def _context_error(e: Any) -> bool:
    return e.status_code in (400, 413) and bool(
        re.search(r"context|too long|maximum.*tokens", str(e.message), re.IGNORECASE)
    )


def _always(e: Any) -> bool:
    return True


# Each row: which SDK error, when, our error class and its message. A message may
# use {where} (the endpoint), {model} (as configured), {name} (as sent), {tries},
# {timeout}, {status}, {detail} (the server's message, redacted, on one line) and
# {tried} (" (N tries)", or nothing for one). The first matching row wins; a row
# whose class takes no attempts (the article's own fault) gets none.
_ERRORS: tuple[tuple[type[Exception], Callable[[Any], bool], type[SummarizerError], str], ...] = (
    (AnswerError, _always, MalformedAnswerError,
     "{where} did not answer with a chat completion ({tries} tries): {detail}; "
     "check --base-url (usually ending in /v1)"),
    (openai.APITimeoutError, _always, ProviderUnreachableError,
     "{where} did not answer in full within {timeout:g}s ({tries} tries); "
     "is the server up? raise --timeout for slow models"),
    (openai.APIConnectionError, lambda e: unreachable(e) == "refused", ProviderUnreachableError,
     "cannot reach {where}: connection refused{tried}; is the server running? "
     "(--base-url / OPENAI_BASE_URL)"),
    (openai.APIConnectionError, lambda e: unreachable(e) == "unresolved",
     ProviderUnreachableError,
     "cannot reach {where}: its host name does not resolve{tried}; check --base-url / "
     "OPENAI_BASE_URL"),
    (openai.APIConnectionError, _always, ProviderUnreachableError,
     "cannot reach {where} ({tries} tries): check --base-url / OPENAI_BASE_URL "
     "and that the server is running"),
    (openai.AuthenticationError, _always, AuthenticationError,
     "{where} rejected the credentials (HTTP {status}): check OPENAI_API_KEY"),
    (openai.PermissionDeniedError, _always, AuthenticationError,
     "{where} rejected the credentials (HTTP {status}): check OPENAI_API_KEY"),
    (openai.APIStatusError, _context_error, ArticleTooLongError,
     "the article does not fit {model}'s context: {detail}"),
    (openai.APIStatusError, lambda e: e.status_code == 404, ProviderError,
     "{where} has no model {name!r} (HTTP 404): check --model"),
    (openai.APIStatusError, _always, ProviderError,
     "{where} answered HTTP {status} after {tries} tries: {detail}"),
    (openai.OpenAIError, _always, ProviderError, "{where}: {detail}"),
)  # fmt: skip


class OpenAIBackend:
    """An OpenAI-compatible chat-completions endpoint.

    Pass ``http_client``/``async_http_client`` to control the HTTP layer (tests use
    ``httpx.MockTransport``; a batch shares one pool); they stay the caller's to
    close. Unless their transports are :mod:`summarizer.backends.http`'s, the answer
    cap is then checked only once an answer is read, and the deadline holds for
    async requests only. ``throttle`` admits each request (a batch's rate limiter).
    """

    runs_locally = False
    notice: str | None = None
    default_prompt = "summarize@v1"
    default_max_reasks = 2

    def __init__(
        self,
        settings: Settings,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.settings = settings
        ref = settings.model_ref
        self.model = str(ref)
        self.model_name = ref.name
        self.mode: Mode = settings.effective_mode
        self.base_url = settings.effective_base_url
        remember(api_key=settings.api_key, url=self.base_url)
        self.where = redact_url(self.base_url) or "https://api.openai.com/v1"
        self.throttle = throttle
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._client: openai.OpenAI | None = None
        self._aclient: openai.AsyncOpenAI | None = None
        # Each SDK client's direct sender (see _sender), gone with the client.
        self._senders: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._openai_itself = ref.provider == "openai"
        self._provider = ref.provider
        # Whether the server has answered (anything) in this run: until it has, one
        # that cannot be reached at all is an error at once (see retry.unreachable).
        self._reached = False

    # -- what the pipeline asks --------------------------------------------------------

    def context_window(self) -> int:
        if self.settings.context_window:
            return self.settings.context_window
        return catalog.context_window(self._provider, self.model_name, self.base_url)[0]

    def count_text(self, text: str) -> int:
        """A pessimistic estimate: remote tokenizers are not available offline."""
        return estimate_tokens(text)

    def count_messages(self, messages: Messages) -> int:
        return estimate_tokens("".join(m["content"] for m in messages))

    def request_params(self, defaults: dict[str, Any]) -> dict[str, Any]:
        params = {k: v for k, v in defaults.items() if k in _SENT_PARAMS}
        # OpenAI's newer models accept only max_completion_tokens; other servers
        # mostly know only max_tokens.
        key = "max_completion_tokens" if self._openai_itself else "max_tokens"
        params[key] = defaults["max_tokens"]
        return params

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "mode": self.mode, "base_url": redact_url(self.base_url)}

    def cache_identity(self) -> dict[str, Any]:
        return self.describe()

    # -- clients -------------------------------------------------------------------------

    def _client_kwargs(self) -> dict[str, Any]:
        api_key = self.settings.api_key
        if api_key is None:
            if self.base_url is None:
                raise ConfigurationError(
                    "no API key for OpenAI: set OPENAI_API_KEY, or pass --base-url for "
                    "another OpenAI-compatible server, or use --model local"
                )
            api_key = "unused"  # local servers ignore it; the SDK insists on one
        # The SDK's own retries are off: ours are counted and honour Retry-After.
        return {
            "api_key": api_key,
            "base_url": self.base_url,
            "max_retries": 0,
            "timeout": self.settings.timeout,
        }

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            kwargs = self._client_kwargs()
            http = self._http_client or sync_client(self.settings.timeout)
            self._client = openai.OpenAI(http_client=http, **kwargs)
        return self._client

    @property
    def aclient(self) -> openai.AsyncOpenAI:
        if self._aclient is None:
            kwargs = self._client_kwargs()
            http = self._async_http_client or async_client(self.settings.timeout)
            self._aclient = openai.AsyncOpenAI(http_client=http, **kwargs)
            _speedups.share_platform(self._aclient)
        return self._aclient

    def prepare(self) -> None:
        """Import the HTTP stack, find the SDK's platform, build its response types
        now (50 ms in all): forked batch workers then start sending at once."""
        _speedups.preload()
        _speedups.sdk_platform()
        ChatCompletion.model_validate({
            "id": "", "object": "chat.completion", "created": 0, "model": "",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "{}"}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                      "completion_tokens_details": {"reasoning_tokens": 0},
                      "prompt_tokens_details": {"cached_tokens": 0}},
        })  # fmt: skip

    def close(self) -> None:
        """Close the SDK client; an ``http_client`` the caller passed in stays open."""
        if self._client is not None:
            if self._http_client is None:
                self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the async SDK client; the next async call makes a new one (an event
        loop's connections cannot outlive it, and callers may run another loop). An
        ``async_http_client`` the caller passed in stays open: it is theirs."""
        if self._aclient is not None:
            if self._async_http_client is None:
                await self._aclient.close()
            self._aclient = None

    # -- one request ---------------------------------------------------------------------

    @staticmethod
    def _body(params: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in params.items() if k != "extra_body"}
        body.update(params.get("extra_body") or {})
        return body

    def _retryable(self, exc: BaseException) -> bool:
        if not isinstance(exc, openai.APIConnectionError):
            self._reached = True  # it answered, if badly
        elif not self._reached and unreachable(exc):
            return False
        return is_transient(exc)

    def _retry_args(self, stats: CallStats) -> dict[str, Any]:
        def before_sleep(state: RetryCallState) -> None:
            stats.transport_retries += 1
            exc = state.outcome.exception() if state.outcome else None
            stats.transport_errors.append(one_line(f"{type(exc).__name__}: {exc}", 200))
            _LOG.info(
                "%s: %s; sending the request again in %.1fs (retry %d of %d)",
                self.where, stats.transport_errors[-1], state.upcoming_sleep,
                stats.transport_retries, self.settings.max_transport_retries,
            )  # fmt: skip

        return {
            "retry": retry_if_exception(self._retryable),
            "stop": stop_after_attempt(self.settings.max_transport_retries + 1),
            "wait": Wait(self.settings),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def _error(self, exc: Exception, stats: CallStats) -> SummarizerError:
        tries = stats.transport_retries + 1
        for kind, applies, error, message in _ERRORS:
            if isinstance(exc, kind) and applies(exc):
                detail = exc.message if isinstance(exc, openai.APIStatusError) else exc
                text = message.format(
                    where=self.where, model=self.settings.model, name=self.model_name,
                    tries=tries, tried="" if tries == 1 else f" ({tries} tries)",
                    timeout=self.settings.timeout,
                    status=getattr(exc, "status_code", None),
                    detail=one_line(str(detail), 200),
                )  # fmt: skip
                if issubclass(error, ProviderError):
                    return error(text, provider=self.model, attempts=tries)
                return error(text)
        raise AssertionError("unreachable: OpenAIError is the last row")  # pragma: no cover

    def _completion(self, response: httpx.Response) -> ChatCompletion:
        """As leniently as the SDK builds it (servers omit fields): see chat_completion."""
        return chat_completion(completion_json(response, self.settings.max_answer_bytes))

    def _sender(self, client: openai.OpenAI | openai.AsyncOpenAI) -> _speedups.DirectPost | None:
        """``client``'s sender, made at its first request (in its loop); None: ``post``."""
        if client not in self._senders:
            self._senders[client] = _speedups.direct_post(client, _PATH)
        direct = self._senders[client]
        return direct if direct is not None and direct.available() else None

    def _post(self, client: openai.OpenAI, payload: dict[str, Any]) -> httpx.Response:
        """``client.post`` of ``payload``, sent directly when it can be (see the module doc)."""
        if (direct := self._sender(client)) is None:
            return client.post(_PATH, body=payload, cast_to=httpx.Response)
        return direct.send(payload)

    async def _apost(self, client: openai.AsyncOpenAI, payload: dict[str, Any]) -> httpx.Response:
        """The async twin of :meth:`_post`: both send the same request."""
        if (direct := self._sender(client)) is None:
            return await client.post(_PATH, body=payload, cast_to=httpx.Response)
        return await direct.asend(payload)

    def create(self, body: dict[str, Any], stats: CallStats) -> ChatCompletion:
        client, s, payload = self.client, self.settings, self._body(body)

        def post() -> ChatCompletion:
            with answer_errors(), limits(s.timeout, s.max_answer_bytes):
                response = self._post(client, payload)
            self._reached = True
            return self._completion(response)

        try:
            with one_run(Retrying(**self._retry_args(stats))) as retrying:
                return retrying(post)
        except (openai.OpenAIError, AnswerError) as e:
            raise self._error(e, stats) from e

    async def acreate(self, body: dict[str, Any], stats: CallStats) -> ChatCompletion:
        client, s, payload = self.aclient, self.settings, self._body(body)

        async def post() -> ChatCompletion:
            try:
                with answer_errors(), limits(s.timeout, s.max_answer_bytes):
                    async with asyncio.timeout(s.timeout):
                        response = await self._apost(client, payload)
            except TimeoutError as e:  # the whole request's deadline, not one read's
                raise openai.APITimeoutError(request=httpx.Request("POST", client.base_url)) from e
            self._reached = True
            await TURNS.take()  # see summarizer.backends.turns: under load, sends go first
            return self._completion(response)

        try:
            with one_run(AsyncRetrying(**self._retry_args(stats))) as retrying:
                return await retrying(self._throttled(post, payload))
        except (openai.OpenAIError, AnswerError) as e:
            raise self._error(e, stats) from e

    def _throttled(
        self, post: Callable[[], Awaitable[ChatCompletion]], payload: dict[str, Any]
    ) -> Callable[[], Awaitable[ChatCompletion]]:
        """``post`` admitted by the batch's rate limiter, one HTTP request at a time
        (so a transport retry waits its turn like any other request)."""
        throttle = self.throttle
        if throttle is None:
            return post
        text = "".join(str(m.get("content") or "") for m in payload.get("messages", ()))
        tokens = estimate_tokens(text) + answer_tokens(payload)

        async def send() -> ChatCompletion:
            ticket = await throttle.acquire(tokens)
            sent_token = SEND_TRACKER.set(ticket)
            try:
                response = await post()
            except openai.RateLimitError as e:
                after = server_wait(e.response.headers, self.settings.retry_max_wait)
                await throttle.release(ticket, outcome="rate_limited", retry_after=after)
                raise
            except BaseException:
                await throttle.release(ticket, outcome="error")
                raise
            finally:
                SEND_TRACKER.reset(sent_token)
            usage = response.usage
            await throttle.release(ticket, used_tokens=usage.total_tokens if usage else None)
            return response

        return send
