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
import json
import math
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from summarizer.backends.base import max_reasks_for
from summarizer.batch.items import BatchItem, collect_items
from summarizer.batch.ledger import BatchStats, Recorder, RunLedger, load_finished
from summarizer.batch.lock import OutputLock
from summarizer.batch.pricing import Price, price_for, unknown_price
from summarizer.batch.ratelimit import RateLimiter
from summarizer.batch.scheduling import BatchOptions, summarize_all
from summarizer.batch.shards import Shard, shard_items, shard_options
from summarizer.batch.workers import run_workers
from summarizer.contract import SCHEMA_VERSION
from summarizer.errors import ConfigurationError
from summarizer.inputs.fetch import is_url
from summarizer.pipeline import Summarizer
from summarizer.settings import Settings
from summarizer.tokens import answer_tokens, estimate_tokens

if TYPE_CHECKING:
    from summarizer.batch.openai_batch import OpenAIBatchEngine

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
    stop: threading.Event | None = None,
    model_lock: threading.Lock | None = None,
    retry_failed: bool = True,
    shard: Shard | None = None,
    engine: OpenAIBatchEngine | None = None,
) -> BatchStats:
    """Summarize every article in ``targets`` into ``out`` (JSONL); see the module doc.

    Returns the run's totals; they are also kept in ``<out>.ledger.json``, from the
    run's start. On Ctrl-C the lines written so far stay, the totals are marked
    ``interrupted`` and ``KeyboardInterrupt`` propagates. Raises
    :class:`~summarizer.errors.OutputLockedError` at once if another process is
    writing ``out``.

    For a caller that runs batches inside a longer-lived process (``summarizer
    serve``'s jobs), all of which need ``options.workers`` 1 (this process only):

    * ``stop``, set from another thread, ends the run early, as Ctrl-C would but
      without raising: no article starts after it, those under way are cancelled
      (no line; they count as not started, and a rerun does them), the totals and
      the ledger say ``interrupted``.
    * ``model_lock`` is held around each article's summary, for a process whose
      other threads use the same embedded model, which generates one answer at a
      time.
    * ``retry_failed`` False keeps error lines as the articles' answers: a rerun
      does only articles with no line, and lines already in ``out`` never move, so
      a reader can follow ``out`` by line number while it grows (only a last line
      cut short by a crash, which no reader has seen whole, is dropped).

    ``shard`` (K of N) runs only the articles of that shard, with 1/N of the rate
    limits and ``max_cost``, and says so in the ledger; ``out`` must hold that
    shard only (see :mod:`summarizer.batch.shards`).

    ``engine`` sends the articles elsewhere than this process's event loops: the
    provider's Batch API (:mod:`summarizer.batch.openai_batch`), charged at its price.
    """
    options = shard_options(options, shard)
    if (stop is not None or model_lock is not None) and options.workers != 1:
        raise ConfigurationError(
            "stop and model_lock work in this process only: they need workers=1"
        )
    with Summarizer(settings) as probe:
        backend = probe.backend
        params = probe.generation_params()
        prompt = probe.prompt.ref
        prompt_sha256 = probe.prompt.sha256
    price = price_for(
        backend.model,
        prices,
        free=backend.runs_locally,
        base_url=getattr(backend, "base_url", None),
    )
    live_price = price
    if engine is not None:
        engine.check(backend)
        price = engine.price(price, settings)
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
        all_items = shard_items(targets, items, shard, out)
        finished = load_finished(out) if retry_failed else _lines_kept(out)
        todo = [item for item in all_items if item.id not in finished]
        stats = BatchStats(total=len(all_items), skipped=len(all_items) - len(todo))
        if price is None:
            stats.cost_usd = None
        workers = 1 if engine else resolve_workers(backend.runs_locally, options, len(todo))
        run = {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": backend.model,
            "prompt": prompt,
            "prompt_sha256": prompt_sha256,
            "schema_version": SCHEMA_VERSION,
            **({"shard": str(shard)} if shard is not None else {}),
            **(engine.describe() if engine is not None else {}),
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
            if engine is not None:
                engine.run(todo, settings, options, recorder, out, live_price)
            elif workers == 1:
                _run_inline(
                    todo, settings, options, recorder, price, stats, backend.runs_locally,
                    stop, model_lock,
                )  # fmt: skip
            else:
                run_workers(
                    todo, settings, options, recorder, price, workers, stats,
                    backend.runs_locally, close_inherited,
                )  # fmt: skip
            status = "finished"
            if stop is not None and stop.is_set() and stats.done < len(todo):
                stats.interrupted = True
                status = "interrupted"
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
    stop: threading.Event | None = None,
    model_lock: threading.Lock | None = None,
) -> None:
    pending = iter(todo)
    stopped = False

    def next_item() -> BatchItem | None:
        nonlocal stopped
        if stopped or (stop is not None and stop.is_set()):
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
        work = asyncio.ensure_future(
            summarize_all(
                settings, options, concurrency, options.rpm, options.tpm, next_item, None,
                recorder.write, price, limiters.append, runs_locally=runs_locally,
                model_lock=model_lock,
            )
        )  # fmt: skip
        watching = asyncio.create_task(_watch(stop, work)) if stop is not None else None
        try:
            await work
        except asyncio.CancelledError:
            me = asyncio.current_task()
            stopped_here = work.cancelled() and stop is not None and stop.is_set()
            if not stopped_here or (me is not None and me.cancelling()):
                raise  # Ctrl-C (asyncio.run cancels this task), not ``stop``
        finally:
            for task in (ticking, watching):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    try:
        asyncio.run(run())
    finally:
        stats.throttled += sum(limiter.stats.throttled for limiter in limiters)


async def _watch(stop: threading.Event, work: asyncio.Future[None]) -> None:
    """Cancel ``work`` (the articles under way) once ``stop`` is set; a threading
    event has no callback on this loop, so it is looked at ten times a second."""
    while not stop.is_set():
        await asyncio.sleep(0.1)
    work.cancel()


def _lines_kept(out: Path) -> set[str]:
    """The ids with a line in ``out``, error lines included (``retry_failed`` False).

    Only a last line without its end (cut short by a crash) is removed, in place, so
    every whole line stays where it is. A file that is not a batch output is refused,
    as :func:`~summarizer.batch.ledger.load_finished` refuses it.
    """
    if not out.exists():
        return set()
    data = out.read_bytes()
    whole = data.rfind(b"\n") + 1
    if whole < len(data):
        os.truncate(out, whole)
    done: set[str] = set()
    for n, line in enumerate(data[:whole].split(b"\n")[:-1], 1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not (isinstance(row, dict) and "id" in row and row.get("status") in ("ok", "error")):
            raise ConfigurationError(
                f"{out}: line {n} is not a batch result; this does not look like a "
                "`summarizer batch` output file, so it is not touched (choose another --out)"
            )
        done.add(str(row["id"]))
    return done


async def _tick(recorder: Recorder) -> None:
    """Keep the ledger current while answers are awaited (see RunLedger.INTERVAL)."""
    while True:
        await asyncio.sleep(RunLedger.INTERVAL)
        recorder.tick()
