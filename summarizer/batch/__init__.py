"""Many articles at once: inputs, scheduling, worker processes, rate limits, the
results file, its lock and its cost ledger. See :mod:`summarizer.batch.runner`."""

from summarizer.batch.items import BatchItem, collect_items
from summarizer.batch.ledger import BatchStats
from summarizer.batch.lock import OutputLock
from summarizer.batch.pricing import Price, load_prices
from summarizer.batch.ratelimit import RateLimiter, parse_rate_limit
from summarizer.batch.runner import run_batch
from summarizer.batch.scheduling import BatchOptions

__all__ = [
    "BatchItem",
    "BatchOptions",
    "BatchStats",
    "OutputLock",
    "Price",
    "RateLimiter",
    "collect_items",
    "load_prices",
    "parse_rate_limit",
    "run_batch",
]
