"""Exceptions, each with the exit code the CLI uses for it.

The tree (exit codes in brackets)::

    SummarizerError [1]
    ├── InputError
    │   ├── EmptyInputError [10]          empty or whitespace-only article
    │   ├── InputNotFoundError [11]       no such file, or it cannot be read
    │   ├── InputIsDirectoryError [12]    a directory where a file was expected
    │   ├── InputDecodeError [13]         binary or non-UTF-8 bytes
    │   ├── ArticleTooLongError [14]      over the model's context budget
    │   ├── DatasetError [15]             an eval dataset or golden file is invalid
    │   │   ├── BaselineError [51]        the --baseline report is unreadable or lacks the
    │   │   │                             overall and per-section scores
    │   │   ├── EmptyEvalError [52]       an eval selected nothing: no articles, or an
    │   │   │                             --only id that is not in the dataset
    │   │   └── MissingCandidatesError [53] `eval score`: selected articles have no
    │   │                                 candidate file (--allow-missing scores the rest)
    │   ├── NoArticleTextError [16]       an HTML page with no article text in it
    │   ├── FetchError [17]               a URL could not be fetched: DNS, refused,
    │   │   │                             timeout, too many redirects
    │   │   ├── FetchStatusError [18]     the server answered 4xx/5xx
    │   │   ├── FetchContentError [19]    not HTML or plain text (PDF, image...), or
    │   │   │                             over the size cap
    │   │   └── UrlRefusedError [25]      `serve`: URLs are off, or one leads to an
    │   │                                 address that is not public
    │   ├── InputNotRegularFileError [23] a device, FIFO or socket where a file was expected
    │   ├── InputTooLargeError [24]       a file or stdin over the input size cap
    │   └── ShardMismatchError [64]       `merge`: shards made with another model, prompt
    │                                     or schema version
    ├── ConfigurationError [20]           no model configured, bad option value
    │   ├── PromptError [21]              unknown prompt, invalid prompt file
    │   ├── BackendUnavailableError [22]  an optional backend is not installed/loadable
    │   └── BatchAPIUnavailableError [26] `batch --engine openai-batch`: the endpoint has
    │                                     no /files or /batches
    ├── ProviderError [32]                the endpoint answered with an error
    │   ├── ProviderUnreachableError [30] connection refused, DNS, timeouts
    │   ├── AuthenticationError [31]      401/403 from the endpoint
    │   └── MalformedAnswerError [33]     an answer that is not a chat completion, or
    │                                     over the answer size cap
    ├── OutputError
    │   ├── InvalidOutputError [40]       the model never produced valid output
    │   └── UngroundedError [41]          --strict and some evidence was not found
    ├── RegressionError [50]              an eval dropped more than allowed below its baseline
    └── BatchError
        ├── BatchFailuresError [60]       a batch ended with some articles failed
        ├── BudgetExceededError [61]      --max-cost stopped a batch before every article ran
        ├── WorkerDiedError [62]          a worker process died (on its articles' lines;
        │                                 the batch then exits 60)
        └── OutputLockedError [63]        another batch is writing the same --out file

Outside the tree: 0 success, 2 a usage error (unknown option, missing argument),
130 interrupted (Ctrl-C), 141 stdout closed early (as a shell reports SIGPIPE).
:data:`EXIT_CODES` lists them all with their meanings.

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


class EmptyInputError(InputError):
    """The article is empty or only whitespace."""

    exit_code = 10


class InputNotFoundError(InputError):
    """An input file does not exist or cannot be read (no permission, a path through a file)."""

    exit_code = 11


class InputIsDirectoryError(InputError):
    """A directory where a file was expected."""

    exit_code = 12


class InputDecodeError(InputError):
    """Binary or non-UTF-8 bytes where text was expected."""

    exit_code = 13


class ArticleTooLongError(InputError):
    """The article does not fit the model's context, even split into parts."""

    exit_code = 14


class DatasetError(InputError):
    """An eval dataset, golden file or report is invalid."""

    exit_code = 15


class BaselineError(DatasetError):
    """The --baseline report is unreadable or lacks the overall and per-section scores."""

    exit_code = 51


class EmptyEvalError(DatasetError):
    """An eval selected nothing: no articles, or an --only id not in the dataset."""

    exit_code = 52


class MissingCandidatesError(DatasetError):
    """Eval score: no candidate file for some selected articles (see --allow-missing).

    The others are scored and reported, with the missing ones listed, before this is
    raised: a mean over fewer articles than selected must not pass for the dataset's.
    """

    exit_code = 53


class NoArticleTextError(InputError):
    """An HTML page with no article text in it."""

    exit_code = 16


class FetchError(InputError):
    """A URL could not be fetched: DNS, refused, timeout, too many redirects.

    Subclasses say how the server answered when it did.
    """

    exit_code = 17


class FetchStatusError(FetchError):
    """The server answered the URL with 4xx/5xx."""

    exit_code = 18


class FetchContentError(FetchError):
    """The URL is not HTML or plain text (PDF, image...), or over the size cap."""

    exit_code = 19


class UrlRefusedError(FetchError):
    """The service will not fetch this URL: URLs are off (``--allow-url``), or it leads
    to an address that is not public (loopback, private, link-local, metadata)."""

    exit_code = 25


class InputNotRegularFileError(InputError):
    """A device, FIFO or socket where an article file was expected."""

    exit_code = 23


class InputTooLargeError(InputError):
    """A file or stdin over the input size cap (SUMMARIZER_INPUT_MAX_BYTES)."""

    exit_code = 24


class ShardMismatchError(InputError):
    """Merge: the shards were made with another model, prompt or schema version.

    Their summaries are not comparable, so no merged output is written.
    """

    exit_code = 64


class ConfigurationError(SummarizerError):
    """No model configured, or an option or setting has a bad value."""

    exit_code = 20


class PromptError(ConfigurationError):
    """Unknown prompt, or an invalid prompt file."""

    exit_code = 21


class BackendUnavailableError(ConfigurationError):
    """An optional backend is not installed or cannot load."""

    exit_code = 22


class BatchAPIUnavailableError(ConfigurationError):
    """The endpoint has no Batch API (/files, /batches): use the live engine.

    Found by asking before anything is uploaded (``--engine openai-batch``).
    """

    exit_code = 26


class ProviderError(SummarizerError):
    """The model endpoint answered with an error.

    ``provider`` names it, ``attempts`` counts tries.
    """

    exit_code = 32

    def __init__(self, message: str, *, provider: str = "", attempts: int = 0) -> None:
        super().__init__(message)
        self.provider = provider
        self.attempts = attempts


class ProviderUnreachableError(ProviderError):
    """The model endpoint cannot be reached: connection refused, DNS, timeouts."""

    exit_code = 30


class AuthenticationError(ProviderError):
    """The model endpoint rejected the credentials (401/403)."""

    exit_code = 31


class MalformedAnswerError(ProviderError):
    """The model endpoint's answer is not a chat completion, or is over the size cap."""

    exit_code = 33


class OutputError(SummarizerError):
    """The model answered, but not with a usable summary.

    ``meta`` is filled in even here, where no model call failed outright.
    """


class InvalidOutputError(OutputError):
    """The model never produced a valid summary."""

    exit_code = 40


class UngroundedError(OutputError):
    """--strict, and some evidence was still not found in the article."""

    exit_code = 41


class RegressionError(SummarizerError):
    """An eval dropped more than allowed below its baseline."""

    exit_code = 50


class BatchError(SummarizerError):
    """A batch finished, but not every article has a summary."""


class BatchFailuresError(BatchError):
    """A batch ended with some articles failed (their lines say why)."""

    exit_code = 60


class BudgetExceededError(BatchError):
    """--max-cost stopped a batch before every article ran."""

    exit_code = 61


class WorkerDiedError(BatchError):
    """A batch worker process died (killed, out of memory) before finishing its articles.

    Recorded on those articles' lines, which a rerun retries.
    """

    exit_code = 62


class OutputLockedError(BatchError):
    """Another batch is writing the same --out file; wait for it or choose another --out.

    Raised before the output is read or written: one writer per output file.
    """

    exit_code = 63


def _leaves(cls: type[SummarizerError]) -> list[type[SummarizerError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_leaves(sub))
    return out


def _meaning(cls: type[SummarizerError]) -> str:
    return (cls.__doc__ or "").strip().split("\n")[0].rstrip(".")


#: Every exit code the CLI uses: code -> (name, meaning), in order.
EXIT_CODES: dict[int, tuple[str, str]] = dict(
    sorted(
        {
            0: ("ok", "Success"),
            1: ("internal", "An unexpected error: a bug, please report it with the command"),
            2: ("usage", "A usage error: unknown option, missing or malformed argument"),
            130: ("interrupted", "Interrupted (Ctrl-C); what was finished is kept"),
            141: ("closed-pipe", "stdout was closed early (piped into `head`); nothing said"),
            **{
                cls.exit_code: (cls.__name__, _meaning(cls))
                for cls in _leaves(SummarizerError)
                if "exit_code" in cls.__dict__ and cls is not SummarizerError
            },
        }.items()
    )
)
