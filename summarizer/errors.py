"""Exceptions, each with the exit code the CLI uses for it.

The tree (exit codes in brackets)::

    SummarizerError [1]
    ├── InputError
    │   ├── EmptyInputError [10]          empty or whitespace-only article
    │   ├── InputNotFoundError [11]       no such file
    │   ├── InputIsDirectoryError [12]    a directory where a file was expected
    │   ├── InputDecodeError [13]         binary or non-UTF-8 bytes
    │   ├── ArticleTooLongError [14]      over the model's context budget
    │   ├── DatasetError [15]             an eval dataset or golden file is invalid
    │   ├── NoArticleTextError [16]       an HTML page with no article text in it
    │   └── FetchError [17]               a URL could not be fetched: DNS, refused,
    │       │                             timeout, too many redirects
    │       ├── FetchStatusError [18]     the server answered 4xx/5xx
    │       └── FetchContentError [19]    not HTML or plain text (PDF, image...), or
    │                                     over the size cap
    ├── ConfigurationError [20]           no model configured, bad option value
    │   ├── PromptError [21]              unknown prompt, invalid prompt file
    │   └── BackendUnavailableError [22]  an optional backend is not installed/loadable
    ├── ProviderError [32]                the endpoint answered with an error
    │   ├── ProviderUnreachableError [30] connection refused, DNS, timeouts
    │   └── AuthenticationError [31]      401/403 from the endpoint
    ├── OutputError
    │   ├── InvalidOutputError [40]       the model never produced valid output
    │   └── UngroundedError [41]          --strict and some evidence was not found
    ├── RegressionError [50]              an eval dropped more than allowed below its baseline
    └── BatchError
        ├── BatchFailuresError [60]       a batch ended with some articles failed
        ├── BudgetExceededError [61]      --max-cost stopped a batch before every article ran
        └── WorkerDiedError [60]          a worker process died (on its articles' lines)

Errors say what went wrong and what to do, in one line, because the CLI prints
``str(error)`` as is. Provider errors keep the provider's original exception as
``__cause__`` for library users who need details.
"""

from __future__ import annotations

from typing import Any


class SummarizerError(Exception):
    """Base class of every error this package raises on purpose.

    ``meta`` holds what was measured up to the failure (attempts, tokens, latency)
    when a model was called, so that a failed article still reports its cost.
    """

    exit_code: int = 1

    def __init__(self, *args: object, meta: dict[str, Any] | None = None) -> None:
        super().__init__(*args)
        self.meta: dict[str, Any] = meta or {}


class InputError(SummarizerError):
    """The article cannot be used as given."""

    exit_code = 10


class EmptyInputError(InputError):
    exit_code = 10


class InputNotFoundError(InputError):
    exit_code = 11


class InputIsDirectoryError(InputError):
    exit_code = 12


class InputDecodeError(InputError):
    exit_code = 13


class ArticleTooLongError(InputError):
    exit_code = 14


class DatasetError(InputError):
    exit_code = 15


class NoArticleTextError(InputError):
    exit_code = 16


class FetchError(InputError):
    """A URL could not be turned into article text; subclasses say how the server answered."""

    exit_code = 17


class FetchStatusError(FetchError):
    exit_code = 18


class FetchContentError(FetchError):
    exit_code = 19


class ConfigurationError(SummarizerError):
    exit_code = 20


class PromptError(ConfigurationError):
    exit_code = 21


class BackendUnavailableError(ConfigurationError):
    exit_code = 22


class ProviderError(SummarizerError):
    """The model endpoint failed; ``provider`` names it, ``attempts`` counts tries."""

    exit_code = 32

    def __init__(self, message: str, *, provider: str = "", attempts: int = 0) -> None:
        super().__init__(message)
        self.provider = provider
        self.attempts = attempts


class ProviderUnreachableError(ProviderError):
    exit_code = 30


class AuthenticationError(ProviderError):
    exit_code = 31


class OutputError(SummarizerError):
    """The model answered, but not with a usable summary.

    ``meta`` is filled in even here, where no model call failed outright.
    """

    exit_code = 40


class InvalidOutputError(OutputError):
    exit_code = 40


class UngroundedError(OutputError):
    exit_code = 41


class RegressionError(SummarizerError):
    exit_code = 50


class BatchError(SummarizerError):
    """A batch finished, but not every article has a summary."""

    exit_code = 60


class BatchFailuresError(BatchError):
    exit_code = 60


class BudgetExceededError(BatchError):
    exit_code = 61


class WorkerDiedError(BatchError):
    """A batch worker process ended before finishing its articles (killed, out of
    memory); recorded on those articles' lines, which a rerun retries."""

    exit_code = 60


EXIT_CODES: dict[str, int] = {
    cls.__name__: cls.exit_code
    for cls in (
        SummarizerError,
        EmptyInputError,
        InputNotFoundError,
        InputIsDirectoryError,
        InputDecodeError,
        ArticleTooLongError,
        DatasetError,
        NoArticleTextError,
        FetchError,
        FetchStatusError,
        FetchContentError,
        ConfigurationError,
        PromptError,
        BackendUnavailableError,
        ProviderUnreachableError,
        AuthenticationError,
        ProviderError,
        InvalidOutputError,
        UngroundedError,
        RegressionError,
        BatchFailuresError,
        BudgetExceededError,
    )
}
