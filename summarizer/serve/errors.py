"""One error shape for every failure: ``{"error": {"type", "message", "exit_code"}}``.

``type`` and ``exit_code`` are the command line's: the error class of
:mod:`summarizer.errors` and its exit code (``summarizer exit-codes``), so a client
handles "empty article" or "the model never answered validly" the same way a script
around the CLI does. Failures the command line cannot have (a missing key, a full
server, one shutting down, the request's deadline) have their own type and
``exit_code`` null; a malformed request is the CLI's usage error, 2.

The HTTP status says whose problem it is (:func:`status_for`): 4xx the request's,
502 the model endpoint's answer, 503 the endpoint's absence or its rate limit
(with ``Retry-After``), 504 the deadline. ``message`` is the error's one line, as
the CLI prints it; it never holds a traceback, the request's text or the model's
answer beyond what the CLI's own message quotes.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from summarizer.errors import (
    ArticleTooLongError,
    AuthenticationError,
    ConfigurationError,
    EmptyInputError,
    InputDecodeError,
    InputError,
    InputTooLargeError,
    MalformedAnswerError,
    NoArticleTextError,
    OutputError,
    PromptError,
    ProviderError,
    ProviderUnreachableError,
    SummarizerError,
    UrlRefusedError,
)

USAGE = 2  # the CLI's exit code for a malformed command line
#: Seconds to suggest when the endpoint is unreachable and said nothing itself.
UNREACHABLE_RETRY_AFTER = 5


class ErrorDetail(BaseModel):
    type: str
    message: str
    exit_code: int | None


class ErrorBody(BaseModel):
    """What every non-2xx answer carries."""

    error: ErrorDetail


class ServeError(Exception):
    """A failure answered with ``status`` and the one error shape."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        exit_code: int | None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.exit_code = exit_code
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": self.message, "exit_code": self.exit_code}}

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"retry-after": str(max(1, math.ceil(self.retry_after)))}


# The HTTP status of each error class; the first row the error is an instance of wins.
_STATUS: tuple[tuple[type[SummarizerError], int], ...] = (
    (UrlRefusedError, 403),
    (InputTooLargeError, 413),
    (InputError, 422),  # empty, binary, no article text, too long, a URL not fetched
    (PromptError, 422),
    (ConfigurationError, 422),  # a model or option this request cannot have
    (ProviderUnreachableError, 503),
    (AuthenticationError, 502),
    (MalformedAnswerError, 502),
    (ProviderError, 502),  # a 429 that never ended is 503: see from_library
    (OutputError, 422),  # no valid summary, or --strict and ungrounded items
)


def status_for(error: SummarizerError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def _rate_limited_for(error: BaseException) -> float | None:
    """Seconds the endpoint asked to wait when ``error`` is its 429 after every
    retry, else None. The SDK's error is the cause; read by its attributes, since
    only the backends import the SDK."""
    cause = error.__cause__
    if getattr(cause, "status_code", None) != 429:
        return None
    headers = getattr(getattr(cause, "response", None), "headers", None) or {}
    try:
        wait = float(headers.get("retry-after", ""))
    except (TypeError, ValueError):
        wait = float(UNREACHABLE_RETRY_AFTER)
    return min(max(wait, 1.0), 300.0) if math.isfinite(wait) else float(UNREACHABLE_RETRY_AFTER)


def from_library(error: SummarizerError) -> ServeError:
    """The answer for a library error; see the module docstring."""
    name = type(error).__name__
    waited = _rate_limited_for(error) if isinstance(error, ProviderError) else None
    if waited is not None:
        return ServeError(503, name, str(error), error.exit_code, retry_after=waited)
    status = status_for(error)
    retry = UNREACHABLE_RETRY_AFTER if status == 503 else None
    return ServeError(status, name, str(error), error.exit_code, retry_after=retry)


def unauthorized() -> ServeError:
    """The one answer for a missing, malformed or unknown key."""
    return ServeError(
        401, "Unauthorized", "a valid key is required: send Authorization: Bearer KEY", None
    )


def malformed(message: str) -> ServeError:
    return ServeError(400, "MalformedRequest", message, USAGE)


def invalid(message: str) -> ServeError:
    return ServeError(422, "InvalidRequest", message, USAGE)


def too_large(cap: int) -> ServeError:
    return ServeError(
        413,
        InputTooLargeError.__name__,
        f"the request body is over the {_size(cap)} cap (--max-body); send a shorter "
        "article, or run summarizer batch on the file",
        InputTooLargeError.exit_code,
    )


def overloaded(retry_after: float) -> ServeError:
    return ServeError(
        429,
        "Overloaded",
        "the server has as many summaries running and waiting as it takes "
        "(--max-inflight, --max-queue); retry after the Retry-After seconds",
        None,
        retry_after=retry_after,
    )


def draining() -> ServeError:
    return ServeError(
        503, "Draining", "the server is shutting down; retry on another instance", None,
        retry_after=UNREACHABLE_RETRY_AFTER,
    )  # fmt: skip


def body_timeout(seconds: float) -> ServeError:
    """A body that did not all arrive in time (a slow client, or a slowloris)."""
    return ServeError(
        408,
        "RequestTimeout",
        f"the request body did not arrive within {seconds:g} s (--timeout); send it again",
        None,
    )


def timed_out(seconds: float) -> ServeError:
    return ServeError(
        504,
        "Timeout",
        f"no summary within {seconds:g} s (--timeout); the model call was cancelled",
        None,
    )


def internal(request_id: str) -> ServeError:
    return ServeError(
        500,
        "InternalError",
        f"an unexpected error (a bug); please report it with request id {request_id}",
        1,
    )


#: Every row of the README's error table, for tests: (status, type, exit code).
TABLE: tuple[tuple[int, str, int | None], ...] = (
    (400, "MalformedRequest", USAGE),
    (401, "Unauthorized", None),
    (403, UrlRefusedError.__name__, UrlRefusedError.exit_code),
    (408, "RequestTimeout", None),
    (413, InputTooLargeError.__name__, InputTooLargeError.exit_code),
    (422, "InvalidRequest", USAGE),
    (422, EmptyInputError.__name__, EmptyInputError.exit_code),
    (422, InputDecodeError.__name__, InputDecodeError.exit_code),
    (422, NoArticleTextError.__name__, NoArticleTextError.exit_code),
    (422, ArticleTooLongError.__name__, ArticleTooLongError.exit_code),
    (422, PromptError.__name__, PromptError.exit_code),
    (429, "Overloaded", None),
    (429, "TooManyJobs", None),
    (502, AuthenticationError.__name__, AuthenticationError.exit_code),
    (502, ProviderError.__name__, ProviderError.exit_code),
    (503, ProviderUnreachableError.__name__, ProviderUnreachableError.exit_code),
    (503, "Draining", None),
    (504, "Timeout", None),
)


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:g} MB"
    return f"{n / 1024:g} KB" if n >= 1024 else f"{n} bytes"
