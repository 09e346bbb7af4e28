"""Worker processes: at low latency and high concurrency one event loop's Python
cannot keep up, so ``workers`` > 1 forks that many, each running
:func:`~summarizer.batch.scheduling.summarize_all` with its share of the
concurrency and rate limits, while the parent alone deals articles out and writes
results (see :mod:`summarizer.batch.runner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import signal
from collections.abc import Iterable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from summarizer.backends._speedups import preload, remembered_async_validator_checks
from summarizer.backends.http import ssl_context
from summarizer.batch.items import BatchItem
from summarizer.batch.ledger import BatchStats, Recorder, error_record
from summarizer.batch.pricing import Price
from summarizer.batch.ratelimit import RateLimiter
from summarizer.batch.scheduling import BatchOptions, article_tasks, split_evenly, summarize_all
from summarizer.errors import WorkerDiedError
from summarizer.pipeline import Summarizer
from summarizer.settings import Settings


def _tune_gc() -> None:
    """Fewer garbage collections in a worker: the SDKs allocate many short-lived
    objects per request, and with the default thresholds the collector took about a
    quarter of a worker's CPU (measured). Objects inherited from the parent are
    frozen so that collections skip them (and leave their pages shared)."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)


def _worker_main(
    conn: Connection,
    settings: Settings,
    options: BatchOptions,
    concurrency: int,
    fraction: float,
    price: Price | None,
) -> None:
    """A forked worker: items arrive on ``conn``, result lines go back on it.

    It runs ``concurrency`` requests at once and ``fraction`` of the batch's rate
    limits."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _tune_gc()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[BatchItem | None] = asyncio.Queue()

        def readable() -> None:
            # Everything that has arrived, not one message per wake-up: at the start
            # the parent sends dozens at once, and the tasks should not wait for them.
            while True:
                try:
                    message = conn.recv()
                except EOFError:
                    message = None
                if message is None:
                    loop.remove_reader(conn.fileno())
                    for _ in range(article_tasks(concurrency)):  # one per task
                        queue.put_nowait(None)
                    return
                queue.put_nowait(message)
                if not conn.poll():
                    return

        loop.add_reader(conn.fileno(), readable)
        limiters: list[RateLimiter] = []

        def emit(record: dict[str, Any], line: str) -> None:
            conn.send(("record", record, line))

        rpm = options.rpm * fraction if options.rpm else None
        tpm = options.tpm * fraction if options.tpm else None
        await summarize_all(
            settings, options, concurrency, rpm, tpm, None, queue, emit, price, limiters.append
        )
        conn.send(("done", sum(limiter.stats.throttled for limiter in limiters), None))

    with remembered_async_validator_checks():
        asyncio.run(main())
    conn.close()


def pick_worker(
    ready: Iterable[int],
    dealt: Sequence[int],
    shares: Sequence[int],
    outstanding: Sequence[int],
    windows: Sequence[int],
) -> int:
    """The worker the next article goes to, of those with room for one.

    In proportion to the workers' request slots first: with articles of equal
    length, one article over its share costs a worker a whole extra round of
    requests at the end (measured at 1 s latency: 11.1 s with 251 and 249 articles,
    10.2-10.3 s with 250 each). Then the least loaded.
    """
    return min(ready, key=lambda w: (dealt[w] / shares[w], outstanding[w] / windows[w]))


def run_workers(
    todo: list[BatchItem],
    settings: Settings,
    options: BatchOptions,
    recorder: Recorder,
    price: Price | None,
    workers: int,
    stats: BatchStats,
    runs_locally: bool,
) -> None:
    # Workers inherit what is done here once: imports and, for a remote model, the
    # response model and its schema, the parsed and compiled prompt, the TLS context.
    # Each worker is sent a little more than its concurrency in flight (its window),
    # so none sits idle between finishing an article and hearing about the next.
    if runs_locally:
        preload()
        # One article at a time per process, on an equal share of the cores; it
        # takes a minute, so the next one is sent when one is done.
        shares, windows = [1] * workers, [1] * workers
        threads = settings.local_threads or max(1, (os.cpu_count() or 1) // workers)
        settings = settings.with_(local_threads=threads)
    else:
        with Summarizer(settings) as warm:
            warm.prepare()
        ssl_context()
        shares = split_evenly(options.concurrency, workers)
        windows = [article_tasks(share) + 2 for share in shares]
    context = multiprocessing.get_context("fork")
    conns: list[Connection] = []
    procs = []
    for share in shares:
        parent_end, child_end = context.Pipe()
        proc = context.Process(
            target=_worker_main,
            args=(child_end, settings, options, share, share / sum(shares), price),
            daemon=True,
        )
        proc.start()
        child_end.close()
        conns.append(parent_end)
        procs.append(proc)
    outstanding = [0] * workers
    dealt = [0] * workers
    in_flight: list[dict[str, BatchItem]] = [{} for _ in range(workers)]
    pending = iter(todo)
    undealt = len(todo)
    # Articles queued in a worker beyond its request slots cannot move to another
    # worker; near the end they would leave one worker busy while the other idles
    # (measured: 255 against 245 articles, the last answer 50-100 ms later). So the
    # last ones are dealt only to a worker with a slot free.
    tail = sum(windows) - sum(shares)
    running = set(range(workers))  # workers that have not reported "done"
    told_to_stop: set[int] = set()
    try:
        while running:
            # One article at a time (see pick_worker), so a short batch is shared
            # out rather than queued on the first worker.
            open_workers = running - told_to_stop
            while undealt and open_workers:
                limits = windows if undealt > tail else shares
                ready = [w for w in open_workers if outstanding[w] < limits[w]]
                if not ready:
                    break
                w = pick_worker(ready, dealt, shares, outstanding, windows)
                item = next(pending, None)
                if item is None or not recorder.admit(item):
                    undealt = 0
                    break
                conns[w].send(item)
                undealt -= 1
                dealt[w] += 1
                outstanding[w] += 1
                in_flight[w][item.id] = item
            if not undealt:
                for w in running - told_to_stop:
                    with contextlib.suppress(OSError):
                        conns[w].send(None)
                    told_to_stop.add(w)
            for conn in wait([conns[w] for w in running], timeout=1.0):
                assert isinstance(conn, Connection)
                w = conns.index(conn)
                try:
                    kind, payload, line = conn.recv()
                except EOFError:  # the worker died: its articles fail, to retry on a rerun
                    running.discard(w)
                    code = procs[w].exitcode
                    lost = WorkerDiedError(f"the worker process died (exit code {code})")
                    for item in in_flight[w].values():
                        recorder.write(*error_record(item.id, item.source, lost, price))
                    in_flight[w].clear()
                    continue
                if kind == "record":
                    recorder.write(payload, line)
                    outstanding[w] -= 1
                    in_flight[w].pop(payload["id"], None)
                else:
                    stats.throttled += int(payload)
                    running.discard(w)
    finally:
        for proc in procs:
            if running:  # interrupted or failed: do not wait for work in flight
                proc.terminate()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        for conn in conns:
            conn.close()
