"""summarizer: news article in, structured and verifiable summary out.

The public API is what this module exports; everything else may change.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("summarizer")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from summarizer.batch import BatchItem, BatchOptions, collect_items, run_batch
from summarizer.cache import ResponseCache
from summarizer.errors import (
    ArticleTooLongError,
    AuthenticationError,
    BackendUnavailableError,
    BatchError,
    BatchFailuresError,
    BudgetExceededError,
    ConfigurationError,
    EmptyInputError,
    FetchContentError,
    FetchError,
    FetchStatusError,
    InputDecodeError,
    InputError,
    InputIsDirectoryError,
    InputNotFoundError,
    InvalidOutputError,
    NoArticleTextError,
    OutputError,
    PromptError,
    ProviderError,
    ProviderUnreachableError,
    SummarizerError,
    UngroundedError,
)
from summarizer.grounding import Aligner
from summarizer.inputs import Article, read_article
from summarizer.ledger import BatchStats
from summarizer.pipeline import Summarizer, asummarize, summarize
from summarizer.pricing import Price, load_prices
from summarizer.prompts import Prompt, list_prompts, load_prompt
from summarizer.ratelimit import RateLimiter
from summarizer.render import render
from summarizer.schema import (
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
from summarizer.settings import Settings

__all__ = [
    "SCHEMA_VERSION",
    "Actor",
    "Aligner",
    "Article",
    "ArticleSummary",
    "ArticleTooLongError",
    "AuthenticationError",
    "BackendUnavailableError",
    "BatchError",
    "BatchFailuresError",
    "BatchItem",
    "BatchOptions",
    "BatchStats",
    "BudgetExceededError",
    "Commitment",
    "ConfigurationError",
    "EmptyInputError",
    "Evidence",
    "FetchContentError",
    "FetchError",
    "FetchStatusError",
    "InputDecodeError",
    "InputError",
    "InputIsDirectoryError",
    "InputNotFoundError",
    "InvalidOutputError",
    "KeyPoint",
    "KeySummary",
    "NoArticleTextError",
    "OpenQuestion",
    "OutputError",
    "Price",
    "Prompt",
    "PromptError",
    "ProviderError",
    "ProviderUnreachableError",
    "RateLimiter",
    "ResponseCache",
    "Settings",
    "Summarizer",
    "SummarizerError",
    "UngroundedError",
    "__version__",
    "asummarize",
    "collect_items",
    "contract_json_schema",
    "contract_warnings",
    "list_prompts",
    "load_prices",
    "load_prompt",
    "read_article",
    "render",
    "run_batch",
    "summarize",
]
