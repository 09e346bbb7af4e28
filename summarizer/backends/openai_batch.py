"""The provider's Batch API: OpenAI's Files and Batches endpoints, through the SDK.

Only backends talk to the provider, so the batch engine
(:mod:`summarizer.batch.openai_batch`) asks this module for every request: upload an
input file (``purpose=batch``), create a batch over it, look one up, cancel one,
download its output and error files. Objects come back as plain dicts (the JSON the
server sent), so the engine never handles SDK types.

A request line's body is the live request's body (:meth:`OpenAIBackend._body` of what
the extraction built), and an output line's body is checked as a live answer is
(:func:`~summarizer.backends.http.completion_json`'s checks) before it becomes a
``ChatCompletion``.

Transport faults (408/409/429/5xx, timeouts, connection errors) are retried as a chat
request's are (:mod:`summarizer.backends.retry`). An endpoint without the Batch API
(a 404 or 405 on ``GET /batches`` or ``GET /files``: vLLM, Ollama, llama.cpp) is told
by :meth:`BatchAPI.probe` before anything is uploaded.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar

import openai
from openai.types.chat import ChatCompletion
from tenacity import Retrying, retry_if_exception, stop_after_attempt

from summarizer.backends.completions import chat_completion
from summarizer.backends.http import (
    AnswerTooLargeError,
    _not_a_completion,
    answer_errors,
    limits,
    sync_client,
)
from summarizer.backends.openai import OpenAIBackend
from summarizer.backends.retry import Wait, is_transient
from summarizer.errors import (
    AuthenticationError,
    BatchAPIUnavailableError,
    ConfigurationError,
    MalformedAnswerError,
    ProviderError,
    ProviderUnreachableError,
    SummarizerError,
)
from summarizer.redact import one_line

__all__ = ["ENDPOINT", "BatchAPI", "answer_of", "request_line"]

_LOG = logging.getLogger(__name__)
T = TypeVar("T")

#: The endpoint every line of our batches calls.
ENDPOINT: Final[Literal["/v1/chat/completions"]] = "/v1/chat/completions"
_PAGE = 100  # the most the list endpoints return at once


def request_line(custom_id: str, body: dict[str, Any]) -> bytes:
    """One line of a batch input file: the envelope around a chat request's body, as
    :meth:`OpenAIBackend.create` would have sent it."""
    envelope = {
        "custom_id": custom_id,
        "method": "POST",
        "url": ENDPOINT,
        "body": OpenAIBackend._body(body),
    }
    return json.dumps(envelope, ensure_ascii=False).encode("utf-8") + b"\n"


def answer_of(body: Any) -> ChatCompletion | str:
    """An output line's ``response.body`` as a chat completion, or why it is not one
    (the checks a live answer gets)."""
    problem = _not_a_completion(body)
    if problem is not None:
        return f"the answer is not a chat completion: {problem}"
    return chat_completion(body)


class BatchAPI:
    """Files and Batches of one OpenAI-compatible endpoint (the backend's, with its key)."""

    def __init__(self, backend: OpenAIBackend) -> None:
        self.backend = backend
        self.settings = backend.settings
        self.where = backend.where
        self._client: openai.OpenAI | None = None

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            kwargs = self.backend._client_kwargs()
            http = sync_client(self.settings.timeout)  # no answer cap: files are large
            self._client = openai.OpenAI(http_client=http, **kwargs)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- the calls -------------------------------------------------------------------

    def probe(self) -> None:
        """Raise :class:`BatchAPIUnavailableError` unless the endpoint lists batches and
        files: asked before anything is uploaded."""
        for what, ask in (
            ("GET /batches", lambda: self.client.batches.list(limit=1)),
            ("GET /files", lambda: self.client.files.list(limit=1)),
        ):
            try:
                self._call(what, ask, raw=True)
            except openai.APIStatusError as e:
                if e.status_code in (404, 405):
                    raise BatchAPIUnavailableError(
                        f"{self.where} has no Batch API ({what} answered HTTP "
                        f"{e.status_code}): use the live engine (--engine live), or an "
                        "endpoint with /v1/files and /v1/batches such as OpenAI's"
                    ) from e
                raise self._error(what, e) from e
            except openai.OpenAIError as e:  # unreachable, no key: said as for any call
                raise self._error(what, e) from e

    def upload(self, filename: str, data: bytes) -> dict[str, Any]:
        """Upload a batch input file; its file object."""
        return self._call(
            f"uploading {filename}",
            lambda: self.client.files.create(
                file=(filename, data, "application/jsonl"), purpose="batch"
            ).model_dump(),
        )

    def find_file(self, filename: str, since: float) -> dict[str, Any] | None:
        """The newest batch input file named ``filename`` uploaded after ``since``."""
        for item in self._listing("files", since):
            if item.get("filename") == filename and item.get("purpose") == "batch":
                return item
        return None

    def create(self, input_file_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        """Create a batch over an uploaded file; its batch object."""
        return self._call(
            "creating a batch",
            lambda: self.client.batches.create(
                input_file_id=input_file_id,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata=metadata,
            ).model_dump(),
        )

    def find_batch(self, key: str, value: str, since: float) -> dict[str, Any] | None:
        """The batch created after ``since`` whose metadata has ``key`` = ``value``."""
        for item in self._listing("batches", since):
            if (item.get("metadata") or {}).get(key) == value:
                return item
        return None

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        return self._call(
            f"batch {batch_id}", lambda: self.client.batches.retrieve(batch_id).model_dump()
        )

    def cancel(self, batch_id: str) -> dict[str, Any]:
        return self._call(
            f"cancelling batch {batch_id}",
            lambda: self.client.batches.cancel(batch_id).model_dump(),
        )

    def content(self, file_id: str, max_bytes: int) -> bytes:
        """A file's bytes (a batch's output or error file), at most ``max_bytes`` of
        them: a file over that is refused unread (:class:`MalformedAnswerError`)."""

        def ask() -> bytes:
            # Each socket operation keeps the client's timeout; the whole has no deadline.
            with answer_errors(), limits(math.inf, max_bytes):
                return self.client.files.content(file_id).content

        try:
            return self._call(f"downloading file {file_id}", ask)
        except AnswerTooLargeError:
            raise MalformedAnswerError(
                f"{self.where}: file {file_id} is over the {max_bytes:,} bytes its batch's "
                "answers may take (max_answer_bytes each); not read",
                provider=self.backend.model,
            ) from None

    # -- helpers ---------------------------------------------------------------------

    def _listing(self, kind: str, since: float) -> list[dict[str, Any]]:
        """Every object of ``kind`` created at or after ``since`` (lists are newest
        first, so paging stops at the first older one)."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        resource = self.client.batches if kind == "batches" else self.client.files
        while True:
            kwargs: dict[str, Any] = {"limit": _PAGE, **({"after": after} if after else {})}
            page: Any = self._call(f"GET /{kind}", functools.partial(resource.list, **kwargs))
            items = [item.model_dump() for item in page.data]
            for item in items:
                if int(item.get("created_at") or 0) < since:
                    return found
                found.append(item)
            if not items or not page.has_more:
                return found
            after = str(items[-1]["id"])

    def _call(self, what: str, ask: Callable[[], T], *, raw: bool = False) -> T:
        """``ask()``, its transport faults retried; what is left is our error (``raw``:
        the SDK's, for the probe to read the status)."""
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.settings.max_transport_retries + 1),
            wait=Wait(self.settings),
            before_sleep=lambda state: _LOG.info(
                "%s: %s failed (%s); trying again",
                self.where,
                what,
                state.outcome.exception() if state.outcome else "?",
            ),
            reraise=True,
        )
        try:
            return retrying(ask)
        except openai.OpenAIError as e:
            if raw:
                raise
            raise self._error(what, e) from e

    def _error(self, what: str, e: openai.OpenAIError) -> SummarizerError:
        if isinstance(e, openai.APIConnectionError):
            return ProviderUnreachableError(
                f"cannot reach {self.where} ({what}): check --base-url / OPENAI_BASE_URL",
                provider=self.backend.model,
            )
        if isinstance(e, openai.AuthenticationError | openai.PermissionDeniedError):
            return AuthenticationError(
                f"{self.where} refused {what} (HTTP {e.status_code}): check OPENAI_API_KEY "
                "and that the key may use the Batch API",
                provider=self.backend.model,
            )
        if isinstance(e, openai.APIStatusError):
            detail = one_line(str(e.message), 200)
            return ProviderError(
                f"{self.where}: {what} answered HTTP {e.status_code}: {detail}",
                provider=self.backend.model,
            )
        if isinstance(e, openai.OpenAIError) and "api_key" in str(e):
            return ConfigurationError(one_line(str(e), 200))
        return ProviderError(f"{self.where}: {what}: {one_line(str(e), 200)}")
