"""Many articles at once: concurrent, rate-limited, resumable, with a cost ledger.

With a remote model a batch spends its time waiting on the network, so N articles at
concurrency C and latency L should take about N·L/C. Three things get in the way,
and each has its answer here:

* **Client CPU.** Each article costs a few milliseconds of Python (request
  building, parsing, validation, grounding); at low latency and high concurrency
  one event loop cannot keep up. ``workers`` > 1 forks that many processes, each
  with its own event loop and a share of the concurrency and rate limits, while
  the parent alone reads inputs, deals articles in proportion to those shares,
  admits work under the budget and writes results. Within a loop, requests are
  written out before answers are parsed (see :mod:`summarizer.batch.ratelimit`).
* **Provider limits.** A :class:`~summarizer.batch.ratelimit.RateLimiter` per event loop
  keeps requests and tokens per minute under ``--rate-limit`` and backs the whole
  loop off on 429s.
* **Failures and interruptions.** Each article ends as exactly one JSONL line:
  its summary, or a structured error. Lines are written whole and flushed as they
  finish, so Ctrl-C or a crash leaves a valid file; re-running the same command
  skips the articles that already have a summary there and retries the failed
  ones. One process writes an output at a time (:mod:`summarizer.batch.lock`), and
  the ledger has the run from its start, so a run killed outright still counts.

The embedded model runs one article at a time in the parent process: the model is
loaded once, and llama.cpp already uses every core for one generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from summarizer.backends.base import max_reasks_for
from summarizer.batch.items import BatchItem, collect_items
from summarizer.batch.ledger import BatchStats, Recorder, RunLedger, load_finished
from summarizer.batch.lock import OutputLock
from summarizer.batch.pricing import Price, price_for, unknown_price
from summarizer.batch.ratelimit import RateLimiter
from summarizer.batch.scheduling import BatchOptions, summarize_all
from summarizer.batch.workers import run_workers
from summarizer.errors import ConfigurationError
from summarizer.inputs.fetch import is_url
from summarizer.pipeline import Summarizer
from summarizer.settings import Settings
from summarizer.tokens import answer_tokens, estimate_tokens

__all__ = ["BatchItem", "BatchOptions", "collect_items", "resolve_workers", "run_batch"]

# ``auto`` workers: one process per this many concurrent requests, up to the cores.
_REQUESTS_PER_WORKER = 25


def resolve_workers(runs_locally: bool, options: BatchOptions, articles: int) -> int:
    """How many processes: for remote models one per 25 requests in flight; for the
    embedded model one per core, up to 2, each with its own copy of the model on
    its own cores (measured on 2 cores: 4 articles in 147 s with two one-thread
    processes, 213 s with one two-thread process; benchmarks/local_batch.py)."""
    cores = os.cpu_count() or 1
    if runs_locally:
        wanted = options.workers if options.workers is not None else min(cores, 2)
        return max(1, min(wanted, articles))
    if options.workers is not None:
        return max(1, min(options.workers, options.concurrency))
    auto = math.ceil(options.concurrency / _REQUESTS_PER_WORKER)
    return max(1, min(auto, cores))


def run_batch(
    targets: Sequence[str | Path],
    out: Path,
    settings: Settings,
    options: BatchOptions,
    *,
    prices: dict[str, Price],
    on_change: Callable[[BatchStats], None] | None = None,
    items: Iterable[BatchItem] | None = None,
) -> BatchStats:
    """Summarize every article in ``targets`` into ``out`` (JSONL); see the module doc.

    Returns the run's totals; they are also kept in ``<out>.ledger.json``, from the
    run's start. On Ctrl-C the lines written so far stay, the totals are marked
    ``interrupted`` and ``KeyboardInterrupt`` propagates. Raises
    :class:`~summarizer.errors.OutputLockedError` at once if another process is
    writing ``out``.
    """
    with Summarizer(settings) as probe:
        backend = probe.backend
        params = probe.generation_params()
        prompt = probe.prompt.ref
    price = price_for(
        backend.model,
        prices,
        free=backend.runs_locally,
        base_url=getattr(backend, "base_url", None),
    )
    if options.max_cost is not None and price is None:
        # Library errors name the parameter, then the CLI's flag for it: both
        # audiences read the same message (`summarizer batch` prints it as is).
        raise ConfigurationError(
            f"a cost limit (max_cost, --max-cost) needs a price for {backend.model}: add "
            "it to the prices (prices, --prices FILE)"
        )
    here = os.path.realpath(out)  # realpath, unlike Path.resolve, takes symlink loops
    if any(os.path.realpath(t) == here for t in targets if not is_url(str(t))):
        raise ConfigurationError(
            f"the output file (out, --out) {out} is one of the inputs; choose another output file"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with OutputLock(out) as lock:  # before anything reads or rewrites out
        all_items = list(items) if items is not None else collect_items(targets)
        finished = load_finished(out)
        todo = [item for item in all_items if item.id not in finished]
        stats = BatchStats(total=len(all_items), skipped=len(all_items) - len(todo))
        if price is None:
            stats.cost_usd = None
        workers = resolve_workers(backend.runs_locally, options, len(todo))
        run = {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": backend.model,
            "prompt": prompt,
            "concurrency": options.concurrency,
            "workers": workers,
            "rate_limit": {"rpm": options.rpm, "tpm": options.tpm},
            "max_cost": options.max_cost,
            # Said once, in the ledger, instead of failing: cost is unknown, not 0.
            **({"warning": unknown_price(backend.model)} if price is None else {}),
        }
        ledger = RunLedger(out, run, stats)
        max_out = answer_tokens(params)
        # Each article may be asked up to 1 + re-asks times: the backend's default
        # when the settings leave it open (0 for the embedded model).
        attempts = 1 + max_reasks_for(backend, settings.max_reasks)

        def worst_case(item: BatchItem) -> tuple[int, int]:
            prompt = estimate_tokens(item.text or "") + 1500  # + instructions and schema
            return prompt * attempts, max_out * attempts

        recorder = Recorder(
            out,
            stats,
            price=price,
            max_cost=options.max_cost,
            worst_case_tokens=worst_case,
            on_change=on_change,
            ledger=ledger,
        )

        def close_inherited() -> None:  # in a forked worker: the parent's files
            lock.close_in_child()
            recorder.close_in_child()

        status = "failed"
        try:
            if workers == 1:
                _run_inline(todo, settings, options, recorder, price, stats, backend.runs_locally)
            else:
                run_workers(
                    todo, settings, options, recorder, price, workers, stats,
                    backend.runs_locally, close_inherited,
                )  # fmt: skip
            status = "finished"
        except KeyboardInterrupt:
            stats.interrupted = True
            status = "interrupted"
            raise
        finally:
            recorder.close()
            stats.not_started = len(todo) - stats.done
            ledger.write(status)
    return stats


def _run_inline(
    todo: list[BatchItem],
    settings: Settings,
    options: BatchOptions,
    recorder: Recorder,
    price: Price | None,
    stats: BatchStats,
    runs_locally: bool,
) -> None:
    pending = iter(todo)
    stopped = False

    def next_item() -> BatchItem | None:
        nonlocal stopped
        if stopped:
            return None
        item = next(pending, None)
        if item is not None and not recorder.admit(item):
            stopped = True
            return None
        return item

    limiters: list[RateLimiter] = []
    concurrency = 1 if runs_locally else options.concurrency

    async def run() -> None:
        ticking = asyncio.create_task(_tick(recorder))
        try:
            await summarize_all(
                settings,
                options,
                concurrency,
                options.rpm,
                options.tpm,
                next_item,
                None,
                recorder.write,
                price,
                limiters.append,
                runs_locally=runs_locally,
            )
        finally:
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking

    try:
        asyncio.run(run())
    finally:
        stats.throttled += sum(limiter.stats.throttled for limiter in limiters)


async def _tick(recorder: Recorder) -> None:
    """Keep the ledger current while answers are awaited (see RunLedger.INTERVAL)."""
    while True:
        await asyncio.sleep(RunLedger.INTERVAL)
        recorder.tick()
