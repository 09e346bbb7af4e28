"""summarizer: news article in, structured and verifiable summary out.

The public API is what this module exports (``__all__``); everything else may change.
Names are imported on first use, so ``import summarizer`` is cheap and a program that
only reads the contract never imports the OpenAI SDK (about 1.5 s). ``__version__`` too:
reading it imports ``importlib.metadata`` (about 40 ms), which ``summarizer --help``
and most other commands never need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from summarizer._version import __version__
    from summarizer.backends import Backend, CallStats, Composer
    from summarizer.backends.function import FunctionBackend, FunctionCall
    from summarizer.batch import (
        BatchItem,
        BatchOptions,
        BatchStats,
        Price,
        RateLimiter,
        collect_items,
        load_prices,
        run_batch,
    )
    from summarizer.batch.shards import MergeResult, Shard, merge_outputs, shard_of
    from summarizer.cache import ResponseCache
    from summarizer.contract import (
        SCHEMA_VERSION,
        Actor,
        ArticleSummary,
        Commitment,
        Evidence,
        KeyPoint,
        KeySummary,
        OpenQuestion,
        contract_json_schema,
        contract_warnings,
    )
    from summarizer.contract.render import render
    from summarizer.errors import (
        EXIT_CODES,
        ArticleTooLongError,
        AuthenticationError,
        BackendUnavailableError,
        BaselineError,
        BatchAPIUnavailableError,
        BatchError,
        BatchFailuresError,
        BudgetExceededError,
        ConfigurationError,
        DatasetError,
        EmptyEvalError,
        EmptyInputError,
        FetchContentError,
        FetchError,
        FetchStatusError,
        InputDecodeError,
        InputError,
        InputIsDirectoryError,
        InputNotFoundError,
        InputNotRegularFileError,
        InputTooLargeError,
        InvalidOutputError,
        MalformedAnswerError,
        MissingCandidatesError,
        NoArticleTextError,
        OutputError,
        OutputLockedError,
        PromptError,
        ProviderError,
        ProviderUnreachableError,
        RegressionError,
        ShardMismatchError,
        SummarizerError,
        UngroundedError,
        UrlRefusedError,
        WorkerDiedError,
    )
    from summarizer.grounding import Aligner, Grounder
    from summarizer.inputs import Article, read_article
    from summarizer.pipeline import Summarizer, asummarize, summarize
    from summarizer.prompts import Prompt, list_prompts, load_prompt
    from summarizer.settings import Settings

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "__version__": "summarizer._version",
    **dict.fromkeys(("Backend", "CallStats", "Composer"), "summarizer.backends"),
    **dict.fromkeys(("FunctionBackend", "FunctionCall"), "summarizer.backends.function"),
    **dict.fromkeys(
        (
            "BatchItem",
            "BatchOptions",
            "BatchStats",
            "Price",
            "RateLimiter",
            "collect_items",
            "load_prices",
            "run_batch",
        ),
        "summarizer.batch",
    ),
    **dict.fromkeys(
        ("MergeResult", "Shard", "merge_outputs", "shard_of"), "summarizer.batch.shards"
    ),
    "ResponseCache": "summarizer.cache",
    **dict.fromkeys(
        (
            "SCHEMA_VERSION",
            "Actor",
            "ArticleSummary",
            "Commitment",
            "Evidence",
            "KeyPoint",
            "KeySummary",
            "OpenQuestion",
            "contract_json_schema",
            "contract_warnings",
        ),
        "summarizer.contract",
    ),
    "render": "summarizer.contract.render",
    **dict.fromkeys(
        (
            "EXIT_CODES",
            "ArticleTooLongError",
            "AuthenticationError",
            "BatchAPIUnavailableError",
            "BackendUnavailableError",
            "BaselineError",
            "BatchError",
            "BatchFailuresError",
            "BudgetExceededError",
            "ConfigurationError",
            "DatasetError",
            "EmptyEvalError",
            "EmptyInputError",
            "FetchContentError",
            "FetchError",
            "FetchStatusError",
            "InputDecodeError",
            "InputError",
            "InputIsDirectoryError",
            "InputNotFoundError",
            "InputNotRegularFileError",
            "InputTooLargeError",
            "InvalidOutputError",
            "MalformedAnswerError",
            "MissingCandidatesError",
            "NoArticleTextError",
            "OutputError",
            "OutputLockedError",
            "PromptError",
            "ProviderError",
            "ProviderUnreachableError",
            "RegressionError",
            "ShardMismatchError",
            "SummarizerError",
            "UngroundedError",
            "UrlRefusedError",
            "WorkerDiedError",
        ),
        "summarizer.errors",
    ),
    **dict.fromkeys(("Aligner", "Grounder"), "summarizer.grounding"),
    **dict.fromkeys(("Article", "read_article"), "summarizer.inputs"),
    **dict.fromkeys(("Summarizer", "asummarize", "summarize"), "summarizer.pipeline"),
    **dict.fromkeys(("Prompt", "list_prompts", "load_prompt"), "summarizer.prompts"),
    "Settings": "summarizer.settings",
}

__all__ = [
    "EXIT_CODES",
    "SCHEMA_VERSION",
    "Actor",
    "Aligner",
    "Article",
    "ArticleSummary",
    "ArticleTooLongError",
    "AuthenticationError",
    "Backend",
    "BackendUnavailableError",
    "BaselineError",
    "BatchAPIUnavailableError",
    "BatchError",
    "BatchFailuresError",
    "BatchItem",
    "BatchOptions",
    "BatchStats",
    "BudgetExceededError",
    "CallStats",
    "Commitment",
    "Composer",
    "ConfigurationError",
    "DatasetError",
    "EmptyEvalError",
    "EmptyInputError",
    "Evidence",
    "FetchContentError",
    "FetchError",
    "FetchStatusError",
    "FunctionBackend",
    "FunctionCall",
    "Grounder",
    "InputDecodeError",
    "InputError",
    "InputIsDirectoryError",
    "InputNotFoundError",
    "InputNotRegularFileError",
    "InputTooLargeError",
    "InvalidOutputError",
    "KeyPoint",
    "KeySummary",
    "MalformedAnswerError",
    "MergeResult",
    "MissingCandidatesError",
    "NoArticleTextError",
    "OpenQuestion",
    "OutputError",
    "OutputLockedError",
    "Price",
    "Prompt",
    "PromptError",
    "ProviderError",
    "ProviderUnreachableError",
    "RateLimiter",
    "RegressionError",
    "ResponseCache",
    "Settings",
    "Shard",
    "ShardMismatchError",
    "Summarizer",
    "SummarizerError",
    "UngroundedError",
    "UrlRefusedError",
    "WorkerDiedError",
    "__version__",
    "asummarize",
    "collect_items",
    "contract_json_schema",
    "contract_warnings",
    "list_prompts",
    "load_prices",
    "load_prompt",
    "merge_outputs",
    "read_article",
    "render",
    "run_batch",
    "shard_of",
    "summarize",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'summarizer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
